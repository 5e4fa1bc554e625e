/**
 * The sidecar as one CommonJS file (dist/sidecar.cjs) for the image: esbuild bundles and tree-shakes
 * sidecar/src/image-entry.ts with its dependencies. Measured against the per-file dist/ (docs/bench.md):
 * less start-up CPU, a faster start and less memory, because Node resolves, reads and compiles one file
 * instead of hundreds of modules.
 *
 * CommonJS, not ESM, and no dynamic `import()` of a Node built-in left in it: the injected command runs
 * Node with `--lite-mode` (webhook/src/injection/sidecar-container.ts), which turns WebAssembly off, and Node 22
 * builds the ESM view of `node:http` by reading every export, `WebSocket` included, whose lazy loader
 * starts compiling undici's WebAssembly HTTP parser: under lite mode that promise rejects unhandled and
 * the sidecar exits (the SDK's IMDS credential path does `import('node:http')`). A `require` reads no
 * export it is not asked for.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { build, buildSync, type BuildOptions, type BuildResult } from 'esbuild';

export const SIDECAR_ENTRY = 'sidecar/src/image-entry.ts';
/** Where `npm run build:bundle` writes it, relative to the repository (the image has it at /app/dist). */
export const SIDECAR_BUNDLE = 'dist/sidecar.cjs';

const BUILTIN_IMPORT = /\bimport\(\s*(["'])(node:[\w/]+)\1\s*\)/g;

/** `import("node:x")` -> `Promise.resolve(require("node:x"))`: the same module, same timing for await. */
export function requireBuiltinImports(code: string): string {
  return code.replace(BUILTIN_IMPORT, (_match, quote: string, name: string) => {
    return `Promise.resolve(require(${quote}${name}${quote}))`;
  });
}

/** The dynamic imports left in the code, by specifier; the bundle must have none. */
export function dynamicImports(code: string): string[] {
  return [...code.matchAll(/\bimport\(\s*(["'`])([^"'`]*)\1\s*\)/g)].map((m) => m[2] ?? '');
}

function bundleOptions(root: string, outfile: string): BuildOptions & { write: false } {
  return {
    absWorkingDir: root,
    entryPoints: [SIDECAR_ENTRY],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    write: false,
    outfile,
    logLevel: 'warning',
    legalComments: 'none',
    // Node keeps a CommonJS file's whole source in the heap (for lazy compilation): shorter source, less
    // memory in every pod. Identifiers stay, so class and error names read as in the source.
    minifyWhitespace: true,
    minifySyntax: true,
  };
}

/** The bundle's path and checked code, from esbuild's in-memory output. */
function checkedOutput(result: BuildResult<{ write: false }>): { path: string; code: string } {
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild wrote nothing for ${SIDECAR_ENTRY}`);
  const code = requireBuiltinImports(output.text);
  const left = dynamicImports(code);
  if (left.length > 0) {
    throw new Error(
      `${SIDECAR_ENTRY}: the bundle still imports ${left.join(', ')} at run time; import it statically, ` +
        'so esbuild bundles it (dynamic imports break under --lite-mode, see scripts/sidecar-bundle.ts)',
    );
  }
  return { path: output.path, code };
}

/** Bundles the sidecar into `outfile` (absolute, or relative to `root`); returns its size in bytes. */
export async function bundleSidecar(root: string, outfile = SIDECAR_BUNDLE): Promise<number> {
  const { path, code } = checkedOutput(await build(bundleOptions(root, outfile)));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, code);
  return Buffer.byteLength(code);
}

/** The same, blocking: for test helpers that start a container synchronously. */
export function bundleSidecarSync(root: string, outfile: string): number {
  const { path, code } = checkedOutput(buildSync(bundleOptions(root, outfile)));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
  return Buffer.byteLength(code);
}
