/**
 * One proxy (startProxyServer) in front of the TLS PostgreSQL stand-in, with a token the test
 * controls, its own registry and a log capture; everything is torn down when the test ends.
 */
import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import pg from 'pg';
import type { RdsTarget } from '../../../../contract/sidecar-config.ts';
import { createLogger } from '../../../../sidecar/src/log.ts';
import { createProxyMetrics } from '../../../../sidecar/src/pg-proxy/metrics.ts';
import { startProxyServer, type ProxyServer } from '../../../../sidecar/src/pg-proxy/server.ts';
import type { ProxyTimeouts } from '../../../../sidecar/src/pg-proxy/session.ts';
import { PgWireServer, type PgWireServerOptions } from '../../../emulators/pg-wire-server.ts';
import { rdsTarget } from '../../../fakes/sidecar-config.ts';
import { LogCapture } from '../../support/sidecar-env.ts';
import { makeServerCertificate } from './certs.ts';

export const USER = 'orders_app';
export const DATABASE = 'orders';

export interface ProxyHarness {
  proxy: ProxyServer;
  db: PgWireServer;
  target: RdsTarget;
  registry: Registry;
  logs: LogCapture;
  /** The token the database accepts now, and the one the proxy answers with (equal unless a test says). */
  tokens: { accepted: string; served: string };
  /** Tokens the proxy asked for, in order. */
  tokenRequests: number;
  client(overrides?: Partial<pg.ClientConfig>): pg.Client;
  metricsText(): Promise<string>;
}

export interface HarnessOptions {
  /** The server certificate's subjectAltNames (default: the target host's). */
  certNames?: string[];
  /** The target's host (default localhost, where the stand-in listens). */
  host?: string;
  db?: Partial<PgWireServerOptions>;
  timeouts?: Partial<ProxyTimeouts>;
  token?: () => Promise<string>;
  /** The CA file the target names (default: the stand-in's CA). */
  caFile?: string;
  /** Where the proxy connects instead of the stand-in (an unreachable port). */
  upstreamPort?: number;
}

/** A token that looks like a presigned RDS URL, unique per call, so a leak is findable. */
export function tokenLike(label: string): string {
  return `localhost:5432/?Action=connect&DBUser=${USER}&X-Amz-Signature=${label}${'0123456789abcdef'.repeat(4)}`;
}

export async function startHarness(tc: TestContext, options: HarnessOptions = {}): Promise<ProxyHarness> {
  const certs = await makeServerCertificate(options.certNames ?? ['DNS:localhost']);
  tc.after(() => certs.cleanup());
  const tokens = { accepted: tokenLike('first'), served: tokenLike('first') };
  const db = new PgWireServer({
    cert: certs.cert,
    key: certs.key,
    verifyPassword: (user, password) => user === USER && password === tokens.accepted,
    ...options.db,
  });
  const dbPort = await db.listen();
  tc.after(() => db.close());
  const target = rdsTarget({
    name: 'orders',
    host: options.host ?? 'localhost',
    port: dbPort,
    user: USER,
    database: DATABASE,
    proxy: { port: 6432, caFile: options.caFile ?? certs.caFile },
  });
  const registry = new Registry();
  const logs = new LogCapture();
  const harness = { tokenRequests: 0 } as ProxyHarness;
  const proxy = await startProxyServer({
    target,
    port: 0,
    upstream: { host: target.host, port: options.upstreamPort ?? dbPort },
    token:
      options.token ??
      (() => {
        harness.tokenRequests++;
        return Promise.resolve(tokens.served);
      }),
    metrics: createProxyMetrics(registry, [target.name]).forTarget(target.name),
    logger: createLogger('debug', logs),
    timeouts: options.timeouts ?? {},
  });
  tc.after(() => proxy.drain(0));
  const clients: pg.Client[] = [];
  tc.after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });
  return Object.assign(harness, {
    proxy,
    db,
    target,
    registry,
    logs,
    tokens,
    client: (overrides: Partial<pg.ClientConfig> = {}) => {
      // No password: the proxy logs in; node-postgres would fail if the server asked it for one.
      const c = new pg.Client({
        host: '127.0.0.1',
        port: proxy.port,
        user: USER,
        database: DATABASE,
        ssl: false,
        ...overrides,
      });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    metricsText: () => registry.metrics(),
  });
}

/** The value of one sample in Prometheus text, e.g. `token_broker_proxy_connections_total{target="orders"}`. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
