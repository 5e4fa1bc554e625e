import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs mongo-app-child.ts: a real MongoDB driver in its own process whose whole env is the app
 * container's, reconnecting until stopped. The attempts stream back live, so the test can watch them
 * against the sidecar's refreshes.
 */

const CHILD = fileURLToPath(new URL('./mongo-app-child.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface MongoAppJob {
  /** `mongodb` (driver 7) or `mongodb6` (driver 6). */
  readonly driver: 'mongodb' | 'mongodb6';
  /** The connection string: the value of an env var, or the content of the file an env var names. */
  readonly uriFrom: { readonly kind: 'env' | 'file'; readonly env: string };
  readonly database: string;
  readonly collection: string;
  /** Pause between two connections. */
  readonly intervalMs: number;
}

export type MongoAppAttempt =
  | {
      readonly startedAt: number;
      readonly endedAt: number;
      readonly ok: true;
      readonly ping: boolean;
      readonly documents: number;
    }
  | {
      readonly startedAt: number;
      readonly endedAt: number;
      readonly ok: false;
      readonly error: string;
      readonly code: number | undefined;
    };

export interface MongoApp {
  /** Attempts reported so far (live). */
  readonly attempts: readonly MongoAppAttempt[];
  /** Closes its stdin: it finishes the connection in flight and exits; resolves with every attempt. */
  stop(): Promise<readonly MongoAppAttempt[]>;
}

export function startMongoApp(job: MongoAppJob, env: Readonly<Record<string, string>>): MongoApp {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: PROJECT_ROOT,
    env: { ...env, TOKEN_BROKER_E2E_APP_JOB: JSON.stringify(job) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const attempts: MongoAppAttempt[] = [];
  let pending = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') attempts.push(JSON.parse(line) as MongoAppAttempt);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      process.removeListener('exit', killOnExit);
      resolve(code);
    });
  });
  return {
    attempts,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0)
        throw new Error(`mongo app (${job.driver}) exited with ${code}: ${stderr.slice(-2000)}`);
      return attempts;
    },
  };
}
