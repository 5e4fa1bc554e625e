// The HTTP plumbing both emulators share: a server on 127.0.0.1 (ephemeral port) whose handler answers
// 500 when it throws, and delays (the 'slow' faults) that end at once when the server closes, so a test
// never waits out a slow fault after it is done.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class LoopbackServer {
  private readonly server: Server;
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private isClosed = false;

  constructor(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
    this.server = createServer((req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  /** True once close() began: a handler back from sleep() must not answer. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves with the port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Waits `ms`, or until close(), whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  async close(): Promise<void> {
    this.isClosed = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
