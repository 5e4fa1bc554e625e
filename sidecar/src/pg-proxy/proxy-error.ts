/**
 * A failed proxied connection, with the class that names the fix. What the client reads is built
 * from it by errorResponseFor(): the class's SQLSTATE and hint, and a detail scrubbed of anything
 * that looks like a secret (a library's message could quote one).
 */
import type { RdsTarget } from '../../../contract/sidecar-config.ts';
import {
  classifyUpstreamError,
  PROXY_ERROR_HINTS,
  PROXY_SQLSTATES,
  type ProxyErrorClass,
} from '../error-class.ts';
import { scrubText } from '../scrub.ts';
import { serializeErrorResponse } from './protocol.ts';

export class ProxyError extends Error {
  override name = 'ProxyError';
  constructor(
    readonly errorClass: ProxyErrorClass,
    message: string,
    /** The SQLSTATE the database sent, passed on instead of the class's own. */
    readonly sqlState?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Any error of a connection -> a ProxyError (upstream socket errors are classified by code). */
export function asProxyError(error: unknown, what: string): ProxyError {
  if (error instanceof ProxyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProxyError(classifyUpstreamError(error), `${what}: ${scrubText(message)}`, undefined, {
    cause: error,
  });
}

/** The FATAL ErrorResponse the client reads before the proxy closes its connection. */
export function errorResponseFor(target: RdsTarget, error: ProxyError): Buffer {
  return serializeErrorResponse({
    severity: 'FATAL',
    code: error.sqlState ?? PROXY_SQLSTATES[error.errorClass],
    message: `token-broker proxy, target "${target.name}" (${error.errorClass}): ${scrubText(error.message)}`,
    hint: PROXY_ERROR_HINTS[error.errorClass],
  });
}
