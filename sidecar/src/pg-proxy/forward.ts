/** One direction of the proxy's relay after the login (session.ts runs one each way). */
import type { Socket } from 'node:net';

/**
 * One direction of the relay: what pipe() does for two sockets, with the byte count in the same
 * listener (one 'data' listener per chunk instead of two, no unpipe bookkeeping per query).
 */
export function forward(from: Socket, to: Socket, counted: (bytes: number) => void): void {
  let waiting = false;
  const resume = (): void => {
    waiting = false;
    from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    counted(chunk.length);
    if (!to.write(chunk) && !waiting) {
      waiting = true;
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => to.end());
  // The login paused the socket (socket-reader.ts); a 'data' listener alone does not restart it.
  from.resume();
}
