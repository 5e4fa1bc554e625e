import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Runs test/e2e/support/hikari/PoolCheck.java (a HikariCP pool with the PostgreSQL JDBC driver, from
 * Debian's jars) with the JRE's source launcher and reads its JSON lines.
 */

const SOURCE = fileURLToPath(new URL('./hikari/PoolCheck.java', import.meta.url));
const INSTALL_HINT =
  'apt-get install -y --no-install-recommends default-jre-headless libhikaricp-java libpostgresql-jdbc-java libslf4j-java';

/** Where Debian's packages put the jars (`dpkg -L`); slf4j-nop silences HikariCP's logging. */
export const POOL_CHECK_CLASS_PATH = [
  '/usr/share/java/HikariCP.jar',
  '/usr/share/java/postgresql.jar',
  '/usr/share/java/slf4j-api.jar',
  '/usr/share/java/slf4j-nop.jar',
] as const;

export type PoolCheckEvent =
  | { event: 'started'; poolSize: number }
  | { event: 'opened'; pid: number; ms: number; passwordSet: boolean }
  | { event: 'failed'; sqlState: string; message: string }
  | { event: 'query-failed'; sqlState: string; message: string }
  | { event: 'evicted'; opened: number }
  | { event: 'summary'; opened: number; failed: number; queries: number; queryErrors: number };

export type PoolCheckSummary = Extract<PoolCheckEvent, { event: 'summary' }>;

/** The harness stopped or timed out before what was awaited; `events` are its lines so far. */
export class PoolCheckError extends Error {
  constructor(
    message: string,
    readonly events: readonly PoolCheckEvent[],
  ) {
    super(message);
  }
}

export interface PoolCheckOptions {
  readonly jdbcUrl: string;
  readonly poolSize: number;
  /** Only to validate the harness against a server directly; never given with the proxy. */
  readonly password?: string;
  /** How long to wait for the pool's first connections (JVM start and compile included). */
  readonly startTimeoutMs?: number;
}

export interface PoolCheck {
  readonly events: readonly PoolCheckEvent[];
  /** Connections opened so far. */
  opened(): number;
  /** Evicts every connection and waits until the pool has opened `poolSize` new ones. */
  evictAndRefill(timeoutMs?: number): Promise<void>;
  /** Closes the pool; resolves with its summary. */
  stop(): Promise<PoolCheckSummary>;
  /** Everything the JVM wrote to stderr. */
  stderr(): string;
}

export async function startPoolCheck(options: PoolCheckOptions): Promise<PoolCheck> {
  const missing = POOL_CHECK_CLASS_PATH.filter((jar) => !existsSync(jar));
  if (missing.length > 0) throw new Error(`HikariCP harness: ${missing.join(', ')} missing; ${INSTALL_HINT}`);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  if (options.password !== undefined) env.POOL_CHECK_PASSWORD = options.password;
  const child = spawn(
    'java',
    ['-cp', POOL_CHECK_CLASS_PATH.join(':'), SOURCE, options.jdbcUrl, String(options.poolSize)],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const events: PoolCheckEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let exit: string | undefined;
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as PoolCheckEvent);
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.once('error', (error) => {
    exit = `could not start java (${error.message}); ${INSTALL_HINT}`;
    for (const wake of waiters) wake();
  });
  // 'close', not 'exit': every line of stdout has been read by then.
  child.once('close', (code, signal) => {
    process.removeListener('exit', killOnExit);
    exit = `exited (code ${String(code)}, signal ${String(signal)})`;
    for (const wake of waiters) wake();
  });

  /** Resolves once `done()` holds, re-checked on each new line; rejects on exit or timeout. */
  const until = (what: string, done: () => boolean, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) {
          finish();
          resolve();
        } else if (exit !== undefined) {
          finish();
          reject(
            new PoolCheckError(
              `HikariCP harness ${exit} while waiting for ${what}:\n${stderr.slice(-2000)}`,
              events,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new PoolCheckError(
            `HikariCP harness: no ${what} after ${timeoutMs} ms:\n${stderr.slice(-2000)}`,
            events,
          ),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const opened = (): number => events.filter((e) => e.event === 'opened').length;
  try {
    await until(
      `${options.poolSize} open connections`,
      () => opened() >= options.poolSize,
      options.startTimeoutMs ?? 30_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  return {
    events,
    opened,
    evictAndRefill: async (timeoutMs = 15_000) => {
      const before = opened();
      child.stdin.write('evict\n');
      await until(
        `${options.poolSize} new connections after evict`,
        () => opened() >= before + options.poolSize,
        timeoutMs,
      );
    },
    stop: async () => {
      child.stdin.end('stop\n');
      await until('summary', () => events.some((e) => e.event === 'summary'), 20_000).catch(
        (error: unknown) => {
          child.kill('SIGKILL');
          throw error;
        },
      );
      return events.find((e): e is PoolCheckSummary => e.event === 'summary') as PoolCheckSummary;
    },
    stderr: () => stderr,
  };
}
