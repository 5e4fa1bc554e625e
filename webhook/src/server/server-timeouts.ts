/**
 * How long the webhook's server waits on a client. Its one real client is the API server, which sends
 * each AdmissionReview at once over a cluster network and gives up on the call after the webhook's
 * `timeoutSeconds` (1..30 s; Kubernetes' default 10 s, the chart's 5 s). A connection that has not
 * finished its TLS handshake, headers or body well within that is not the API server, or it has
 * already given up: it is closed instead of being held for Node's defaults (TLS handshake 120 s,
 * headers 60 s checked every 30 s, no request limit at all under fastify).
 *
 * Fixed, not flags: they follow from Kubernetes' own limits, not from the cluster.
 */

export interface ServerTimeouts {
  /** TLS handshake, from the TCP connection (an idle or trickling client is cut here). */
  handshakeMs: number;
  /** Complete request headers, from the connection or from the previous response. */
  headersMs: number;
  /** Complete request, headers and body. */
  requestMs: number;
  /** No bytes either way while a request is open. */
  idleMs: number;
  /**
   * Idle keep-alive connection between requests. Long enough that a steady flow of pod creations
   * reuses connections (saving a TLS handshake each), short enough that idle clients do not pile up.
   */
  keepAliveMs: number;
  /** How often Node checks the headers and request deadlines (its default, 30 s, would add that much). */
  checkIntervalMs: number;
}

export const SERVER_TIMEOUTS: Readonly<ServerTimeouts> = Object.freeze({
  handshakeMs: 5_000,
  headersMs: 5_000,
  requestMs: 10_000,
  idleMs: 10_000,
  keepAliveMs: 30_000,
  checkIntervalMs: 1_000,
});

/** Options for `http(s).createServer` (read by Node at construction). */
export function nodeServerOptions(t: ServerTimeouts): {
  handshakeTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    handshakeTimeout: t.handshakeMs,
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: t.checkIntervalMs,
  };
}

/** fastify's own options, which it applies to the server after construction (overriding Node's). */
export function fastifyTimeoutOptions(t: ServerTimeouts): {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
} {
  return { connectionTimeout: t.idleMs, keepAliveTimeout: t.keepAliveMs, requestTimeout: t.requestMs };
}
