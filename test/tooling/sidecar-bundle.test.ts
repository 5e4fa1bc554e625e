/**
 * The sidecar bundle (scripts/sidecar-bundle.ts): built, it runs under the injected command's V8 flags
 * (webhook/src/injection/sidecar-container.ts), and no `import()` of a Node built-in survives in it, because
 * under `--lite-mode` that import throws where a `require` works.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { bundleSidecar, dynamicImports, requireBuiltinImports } from '../../scripts/sidecar-bundle.ts';
import { SIDECAR_COMMAND } from '../../webhook/src/injection/sidecar-container.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The injected command's flags: everything between the image's node and the bundle. */
const FLAGS = SIDECAR_COMMAND.slice(1, -1);

/** Node with `args` and an empty environment: its stdout, stderr and exit code. */
async function runNode(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { env: { PATH: '' } });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const { stdout, stderr, code } = error as { stdout: string; stderr: string; code: number };
    return { stdout, stderr, code };
  }
}

/** Runs CommonJS `code`, written to `dir/name`, under the injected flags. */
async function runUnderFlags(dir: string, name: string, code: string) {
  const file = join(dir, name);
  await writeFile(file, code);
  return runNode([...FLAGS, file]);
}

describe('requireBuiltinImports', () => {
  const cases: Array<[string, string]> = [
    [
      'const { request } = await import("node:http");',
      'const { request } = await Promise.resolve(require("node:http"));',
    ],
    ["await import('node:async_hooks')", "await Promise.resolve(require('node:async_hooks'))"],
    ['import("node:fs/promises")', 'Promise.resolve(require("node:fs/promises"))'],
    // Not a built-in: left for dynamicImports to report.
    ['import("./chunk.js")', 'import("./chunk.js")'],
    ['reimport("node:http")', 'reimport("node:http")'],
  ];
  for (const [input, want] of cases) {
    it(input, () => assert.equal(requireBuiltinImports(input), want));
  }

  it('dynamicImports names what is left', () => {
    assert.deepEqual(dynamicImports('a(); import("./chunk.js"); import(`x`); require("y")'), [
      './chunk.js',
      'x',
    ]);
    assert.deepEqual(dynamicImports(requireBuiltinImports('await import("node:http")')), []);
  });
});

describe('the sidecar bundle under the injected V8 flags', () => {
  let dir: string;
  let bundle: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-sidecar-bundle-'));
    // Into a directory that does not exist yet, as dist/ on a fresh clone (`npm run build:bundle` alone).
    bundle = join(dir, 'dist', 'sidecar.cjs');
    await bundleSidecar(ROOT, bundle);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('a rewritten import of node:http loads it; the import itself crashes the process', async () => {
    const probe = (code: string) => `${code}.then((m) => console.log(typeof m.request));`;
    const required = await runUnderFlags(
      dir,
      'required.cjs',
      requireBuiltinImports(probe('import("node:http")')),
    );
    assert.deepEqual(required, { stdout: 'function\n', stderr: '', code: 0 });
    // Node's ESM view of node:http reads its lazy WebSocket export, which starts compiling undici's
    // WebAssembly parser; under --lite-mode that rejects, unhandled. If Node stops doing so, the
    // rewrite can go (scripts/sidecar-bundle.ts).
    const imported = await runUnderFlags(dir, 'imported.cjs', probe('import("node:http")'));
    assert.notEqual(imported.code, 0);
    assert.match(imported.stderr, /WebAssembly is not defined/);
  });

  it('has no import() left and starts: without a config it says what is missing, exit 2, nothing on stderr', async () => {
    assert.deepEqual(dynamicImports(await readFile(bundle, 'utf8')), []);
    const result = await runNode([...FLAGS, bundle]);
    assert.equal(result.code, 2);
    assert.match(result.stdout, /"level":"fatal".*TOKEN_BROKER_CONFIG is not set/);
    assert.equal(result.stderr, '');
  });
});
