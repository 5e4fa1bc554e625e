/**
 * The cheapest extra hop a client can take to PostgreSQL: socat, a C relay that forks per connection
 * and copies bytes, with no protocol logic and the client's TLS end to end through it. bench/pgbench.ts
 * runs pgbench through it beside the sidecar's proxy: what any relay costs on this machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { LOOPBACK, acceptsTcp, freePort } from '../test/e2e/support/net.ts';

export interface SocatRelay {
  readonly pid: number;
  readonly port: number;
  /** The command line, for the report. */
  readonly command: string;
  stop(): Promise<void>;
}

/** socat's arguments: listen on loopback, fork per connection, connect each to the database. */
export function socatArgs(listenPort: number, targetPort: number): string[] {
  return [`TCP-LISTEN:${listenPort},bind=${LOOPBACK},fork,reuseaddr`, `TCP:${LOOPBACK}:${targetPort}`];
}

export async function startSocatRelay(targetPort: number): Promise<SocatRelay> {
  const port = await freePort();
  const args = socatArgs(port, targetPort);
  const child: ChildProcess = spawn('socat', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Settles on exit, and on a spawn failure ('error' rejects once()): never an unhandled rejection.
  const exited = once(child, 'exit').catch(() => undefined);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.pid === undefined) {
      await exited;
      throw new Error(
        `socat did not start (is the Debian package socat installed? scripts/provision.ts lists it): ${stderr}`,
      );
    }
    if (await acceptsTcp(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`socat is not listening on ${LOOPBACK}:${port} after 10 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { pid: child.pid, port, command: `socat ${args.join(' ')}`, stop };
}
