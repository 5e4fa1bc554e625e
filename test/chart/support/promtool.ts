/** Runs Prometheus's promtool (Debian package `prometheus`); a missing binary fails with how to get it. */
import { spawnSync } from 'node:child_process';

export interface PromtoolRun {
  status: number;
  output: string;
}

export function runPromtool(args: readonly string[], cwd: string): PromtoolRun {
  const run = spawnSync('promtool', [...args], { cwd, encoding: 'utf8' });
  const error: NodeJS.ErrnoException | undefined = run.error;
  const code = error?.code;
  if (code === 'ENOENT') {
    throw new Error(
      'promtool is not on PATH: install it with `apt-get install prometheus` (Debian/Ubuntu; .ci/run does this on CI).',
    );
  }
  if (run.error) throw run.error;
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}
