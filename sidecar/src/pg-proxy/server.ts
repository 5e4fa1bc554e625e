/**
 * The PostgreSQL proxy of one target: a TCP server on 127.0.0.1 only (never reachable from outside
 * the pod), one session per accepted connection, and the set of open connections that the drain at
 * shutdown waits for.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { PROXY_HOST, type RdsTarget } from '../../../contract/sidecar-config.ts';
import { describeError, type Logger } from '../log.ts';
import { caBundleLoader } from './ca-bundle.ts';
import { CancelKeys } from './cancel.ts';
import { drainServer, type DrainOutcome } from './drain.ts';
import type { ProxyMetrics } from './metrics.ts';
import { DEFAULT_PROXY_TIMEOUTS, runSession, type ProxyTimeouts, type SessionDeps } from './session.ts';

export interface ProxyServerOptions {
  target: RdsTarget;
  token: () => Promise<string>;
  metrics: ProxyMetrics;
  logger: Logger;
  /** Default: the target's proxy port; 0 picks a free one (tests). */
  port?: number;
  /** Default: the target's host and port. */
  upstream?: { host: string; port: number };
  timeouts?: Partial<ProxyTimeouts>;
  now?: () => number;
}

export interface ProxyServer {
  readonly target: string;
  readonly port: number;
  openConnections(): number;
  /** Stops accepting, waits up to `deadlineMs` for the open connections, then closes the rest. */
  drain(deadlineMs: number): Promise<DrainOutcome>;
}

export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const { target, logger, metrics } = options;
  const proxy = target.proxy;
  if (proxy === undefined) throw new Error(`target "${target.name}" has no proxy configured`);
  const caFile = proxy.caFile;
  const deps: SessionDeps = {
    target,
    upstream: options.upstream ?? { host: target.host, port: target.port },
    loadCa: caBundleLoader(caFile, options.now ?? Date.now),
    token: options.token,
    keys: new CancelKeys(),
    metrics,
    logger,
    timeouts: { ...DEFAULT_PROXY_TIMEOUTS, ...options.timeouts },
    now: options.now ?? Date.now,
  };
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    open.add(socket);
    metrics.connectionOpened();
    // An error before the session has its own handlers must not crash the sidecar.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      open.delete(socket);
      metrics.connectionClosed();
    });
    runSession(socket, deps).catch((error: unknown) => {
      logger.error(
        { target: target.name, error: describeError(error) },
        `proxy session of target "${target.name}" failed unexpectedly`,
      );
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: PROXY_HOST, port: options.port ?? proxy.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    target: target.name,
    port,
    openConnections: () => open.size,
    drain: (deadlineMs) => drainServer(server, open, deadlineMs),
  };
}
