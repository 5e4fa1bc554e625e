/**
 * CancelRequest through the proxy. The client never sees the database's BackendKeyData: each session
 * gets a key pair the proxy issued, mapped here to the real one. A CancelRequest from the client
 * (on a new connection, as the protocol has it) is looked up and sent to the database over a new
 * verified TLS connection with the real key pair, so it reaches the backend of that session only.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { BackendKey } from './protocol.ts';
import { serializeCancelRequest } from './protocol.ts';
import { openUpstream, type UpstreamEndpoint } from './upstream.ts';

/** The live sessions' key pairs of one proxy: proxy-issued -> the database's. */
export class CancelKeys {
  private readonly byProcessId = new Map<number, { issued: BackendKey; real: BackendKey }>();

  constructor(
    private readonly random: { pid: () => number; secret: (length: number) => Buffer } = randomKeys,
  ) {}

  /** A key pair for the client in place of the database's; as long as the database's secret. */
  issue(real: BackendKey): BackendKey {
    let processId = this.random.pid();
    while (this.byProcessId.has(processId)) processId = this.random.pid();
    const issued = { processId, secretKey: this.random.secret(real.secretKey.length) };
    this.byProcessId.set(processId, { issued, real });
    return issued;
  }

  /** The database's key pair for a client's CancelRequest, if it names a live session exactly. */
  lookup(processId: number, secretKey: Buffer): BackendKey | undefined {
    const entry = this.byProcessId.get(processId);
    if (entry === undefined) return undefined;
    const expected = entry.issued.secretKey;
    if (expected.length !== secretKey.length || !timingSafeEqual(expected, secretKey)) return undefined;
    return entry.real;
  }

  /** The session ended: its key pair cancels nothing any more. */
  release(issued: BackendKey): void {
    if (this.byProcessId.get(issued.processId)?.issued === issued) this.byProcessId.delete(issued.processId);
  }

  get size(): number {
    return this.byProcessId.size;
  }
}

const randomKeys = {
  // Positive int32, like a backend's pid.
  pid: () => randomInt(1, 2 ** 31 - 1),
  secret: (length: number) => randomBytes(length),
};

/**
 * Sends the CancelRequest with the real key pair over a new verified TLS connection, then waits for
 * the database to close it (it answers nothing). Bounded by `timeoutMs`; never rejects: a cancel is
 * best effort in PostgreSQL, and the client has no channel to hear about its failure.
 */
export async function forwardCancel(
  endpoint: UpstreamEndpoint,
  real: BackendKey,
  timeoutMs: number,
): Promise<{ sent: boolean; error?: unknown }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const socket = await openUpstream(endpoint, controller.signal);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    controller.signal.addEventListener('abort', () => socket.destroy(), { once: true });
    socket.end(serializeCancelRequest(real.processId, real.secretKey));
    socket.resume();
    await closed;
    return { sent: true };
  } catch (error) {
    return { sent: false, error };
  } finally {
    clearTimeout(timer);
  }
}
