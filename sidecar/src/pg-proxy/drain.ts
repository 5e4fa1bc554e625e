/**
 * Shutdown of one proxy: stop accepting at once, let the open connections end by themselves up to a
 * deadline, then close what is left. The native sidecar outlives the app's containers, so an app
 * that closes its pool on SIGTERM loses nothing; the deadline only bounds a client that never does.
 */
import type { Server, Socket } from 'node:net';

/** Default drain deadline; the pod's terminationGracePeriodSeconds (30 s by default) must be longer. */
export const DEFAULT_DRAIN_MS = 15_000;

export interface DrainOutcome {
  /** Connections still open at the deadline, closed by the proxy. */
  cut: number;
}

export async function drainServer(
  server: Server,
  open: ReadonlySet<Socket>,
  deadlineMs: number,
): Promise<DrainOutcome> {
  const allClosed = new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    // close() stops accepting now and calls back once every accepted connection has closed.
    server.close(() => resolve());
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), deadlineMs);
  });
  const first = await Promise.race([allClosed.then(() => 'drained' as const), deadline]);
  clearTimeout(timer);
  if (first === 'drained') return { cut: 0 };
  const cut = open.size;
  for (const socket of open) socket.destroy();
  await allClosed;
  return { cut };
}
