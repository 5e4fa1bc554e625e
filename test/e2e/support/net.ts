import { once } from 'node:events';
import { connect, createServer } from 'node:net';

/** The only interface the e2e stand-ins bind to: nothing here may be reachable from outside the machine. */
export const LOOPBACK = '127.0.0.1';

/**
 * An ephemeral port on 127.0.0.1 that was free a moment ago. Only for servers that must be told their
 * port before they start (PostgreSQL reads it from its config); everything else listens on port 0.
 */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, LOOPBACK, () => {
      const address = probe.address();
      if (address === null || typeof address === 'string') {
        probe.close();
        reject(new Error('freePort: the probe socket has no TCP address'));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port (the probe is closed at once). */
export async function acceptsTcp(port: number): Promise<boolean> {
  const socket = connect({ host: LOOPBACK, port });
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}
