/**
 * Baseline processes must carry nothing of ours, not even a TypeScript loader: their sources
 * (bench/baseline/*.ts, type-checked and linted with the rest) are transpiled to plain JavaScript in
 * `.tmp/bench/` under the repository root (git-ignored), where `node_modules` still resolves.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';

/** `name`: a file of bench/baseline without `.ts`. Returns the path of the JavaScript to run. */
export async function standaloneScript(root: string, name: string): Promise<string> {
  const source = await readFile(join(root, 'bench', 'baseline', `${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: `${name}.ts`,
  });
  const dir = join(root, '.tmp', 'bench');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.mjs`);
  await writeFile(path, outputText);
  return path;
}
