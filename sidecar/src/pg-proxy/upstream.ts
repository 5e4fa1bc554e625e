/**
 * A verified TLS connection to the database, opened the way PostgreSQL requires: TCP, an SSLRequest,
 * the server's `S`, then the TLS handshake with the CA bundle and the target's host name checked.
 * Both the login (session.ts) and a cancel (cancel.ts) go through it.
 */
import type { EventEmitter } from 'node:events';
import { connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls, type SecureContext, type TLSSocket } from 'node:tls';
import { ProxyError } from './proxy-error.ts';
import { serializeSslRequest } from './protocol.ts';

export interface UpstreamEndpoint {
  host: string;
  port: number;
  /** Trusts only the CA bundle's CAs (ca-bundle.ts), never the system's. */
  secureContext: SecureContext;
}

/**
 * Waits for `event` on `emitter`; rejects on 'error', or on 'close' with `closed`. Removes only its
 * own listeners, whatever happens.
 */
function waitFor<T>(emitter: EventEmitter, event: string, closed: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      emitter.off(event, onEvent);
      emitter.off('error', onError);
      emitter.off('close', onClose);
    };
    const onEvent = (value: T) => {
      cleanup();
      resolve(value);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(closed());
    };
    emitter.on(event, onEvent);
    emitter.on('error', onError);
    emitter.on('close', onClose);
  });
}

/**
 * Resolves with the verified TLS socket; rejects with the socket's error (classified by the caller)
 * or a ProxyError. The caller bounds the time: aborting `signal` destroys the sockets.
 */
export async function openUpstream(endpoint: UpstreamEndpoint, signal: AbortSignal): Promise<TLSSocket> {
  const aborted = () => new ProxyError('upstream-timeout', 'the connection to the database was abandoned');
  if (signal.aborted) throw aborted();
  const raw = connectTcp({ host: endpoint.host, port: endpoint.port });
  let secure: TLSSocket | undefined;
  const abort = () => {
    raw.destroy();
    secure?.destroy();
  };
  signal.addEventListener('abort', abort, { once: true });
  try {
    await waitFor(raw, 'connect', aborted);
    // Small request/response messages: Nagle's delay would add to every round trip.
    raw.setNoDelay(true);
    raw.write(serializeSslRequest());
    const answer = await waitFor<Buffer>(raw, 'data', () =>
      signal.aborted
        ? aborted()
        : new ProxyError('upstream-protocol', 'the database closed the connection after the SSLRequest'),
    );
    raw.pause();
    if (answer.length === 1 && answer[0] === 0x4e /* N */) {
      throw new ProxyError('upstream-no-tls', 'the database answered the SSLRequest with N (no TLS)');
    }
    // Bytes after the `S` would be read as if they came through TLS (CVE-2021-23214): refuse them.
    if (answer.length !== 1 || answer[0] !== 0x53 /* S */) {
      throw new ProxyError('upstream-protocol', 'the database did not answer the SSLRequest with S or N');
    }
    secure = connectTls({
      socket: raw,
      secureContext: endpoint.secureContext,
      // SNI takes host names only; an IP target is still checked against the certificate's IP SANs.
      ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    });
    await waitFor(secure, 'secureConnect', aborted);
    return secure;
  } catch (error) {
    secure?.destroy();
    raw.destroy();
    throw error;
  } finally {
    signal.removeEventListener('abort', abort);
  }
}
