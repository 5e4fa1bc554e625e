/**
 * The CA bundle the proxy verifies the database with, as a TLS context. Parsing the RDS bundle (over
 * a hundred certificates) costs milliseconds, too much for every login: the context is kept and the
 * file read again at most every `recheckMs`, so a renewed ConfigMap applies without a restart.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';

/** A ConfigMap update reaches the mounted file within about a minute anyway. */
export const CA_RECHECK_MS = 60_000;

export function caBundleLoader(
  file: string,
  now: () => number,
  recheckMs = CA_RECHECK_MS,
  read: (file: string) => Promise<Buffer> = (f) => readFile(f),
): () => Promise<SecureContext> {
  let held: { pem: Buffer; context: SecureContext; checkedAt: number } | undefined;
  return async () => {
    if (held !== undefined && now() - held.checkedAt < recheckMs) return held.context;
    const pem = await read(file);
    if (held !== undefined && held.pem.equals(pem)) {
      held.checkedAt = now();
      return held.context;
    }
    // Only the bundle's CAs: with `ca` set, Node does not add its built-in roots.
    const context = createSecureContext({ ca: pem, minVersion: 'TLSv1.2' });
    held = { pem, context, checkedAt: now() };
    return held.context;
  };
}
