/**
 * `npx tsc -p tsconfig.build.json` into dist/ (git-ignored), so the compiled entry can be measured
 * next to the tsx one. tsc emits even when another part of the tree has type errors; the exit code
 * is reported, and the compiled entry is used only when dist/cli/main.js exists afterwards. Then
 * `npm run build:bundle`'s dist/sidecar.cjs, what the injected sidecar container runs.
 */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleSidecar, SIDECAR_BUNDLE } from '../scripts/sidecar-bundle.ts';
import { msSince } from './stats.ts';

export interface BuildResult {
  command: string;
  exitCode: number | null;
  wallMs: number;
  /** dist/cli/main.js, when the build produced it. */
  entry?: string;
  /** First lines of tsc's output when it failed. */
  diagnostics?: string;
  /** dist/sidecar.cjs and its size, or why it was not built. */
  sidecarBundle?: { path: string; bytes: number; wallMs: number } | { error: string };
}

export async function buildDist(root: string): Promise<BuildResult> {
  const command = 'npx tsc -p tsconfig.build.json';
  const started = process.hrtime.bigint();
  // The tsc script itself, under the same Node, is what `npx tsc` runs (minus npm's own start-up).
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, output: text }));
  });
  const wallMs = Math.round(msSince(started));
  const entry = join(root, 'dist', 'cli', 'main.js');
  const exists = await access(entry).then(
    () => true,
    () => false,
  );
  const bundleStarted = process.hrtime.bigint();
  const sidecarBundle = await bundleSidecar(root).then(
    (bytes) => ({ path: join(root, SIDECAR_BUNDLE), bytes, wallMs: Math.round(msSince(bundleStarted)) }),
    (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
  );
  return {
    command,
    exitCode: code,
    wallMs,
    sidecarBundle,
    ...(exists ? { entry } : {}),
    ...(code !== 0 ? { diagnostics: output.split('\n').slice(0, 10).join('\n') } : {}),
  };
}
