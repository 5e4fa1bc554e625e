/**
 * Metrics of the PostgreSQL proxy, on the sidecar's registry.
 *
 * | metric | type | labels | meaning |
 * | --- | --- | --- | --- |
 * | token_broker_proxy_connections_open | gauge | target | client connections open now (logging in or relaying) |
 * | token_broker_proxy_connections_total | counter | target | client connections accepted |
 * | token_broker_proxy_login_failures_total | counter | target, reason | connections that got no session; reason = proxy error class |
 * | token_broker_proxy_bytes_total | counter | target, direction | bytes relayed after the login; direction `to-database` or `to-client` |
 * | token_broker_proxy_login_duration_seconds | histogram | target | from the client's startup to the database's ReadyForQuery |
 *
 * Alert: TokenBrokerProxyLoginFailing (charts/token-broker/files/alerts.yaml), every reason counted.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PROXY_ERROR_CLASSES, type ProxyErrorClass } from '../error-class.ts';

export type ByteDirection = 'to-database' | 'to-client';
const BYTE_DIRECTIONS: readonly ByteDirection[] = ['to-database', 'to-client'];

/** What one proxy reports, already bound to its target. */
export interface ProxyMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  loginFailed(reason: ProxyErrorClass): void;
  loggedIn(durationMs: number): void;
  relayed(direction: ByteDirection, bytes: number): void;
}

export interface ProxyMetricsRegistry {
  forTarget(target: string): ProxyMetrics;
}

export function createProxyMetrics(registry: Registry, targets: readonly string[]): ProxyMetricsRegistry {
  const prefix = 'token_broker_proxy_';
  const open = new Gauge({
    name: `${prefix}connections_open`,
    help: 'Client connections open through the PostgreSQL proxy, per target.',
    labelNames: ['target'] as const,
    registers: [registry],
  });
  const total = new Counter({
    name: `${prefix}connections_total`,
    help: 'Client connections accepted by the PostgreSQL proxy, per target.',
    labelNames: ['target'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: `${prefix}login_failures_total`,
    help: 'Proxied connections that got no database session, per target and reason.',
    labelNames: ['target', 'reason'] as const,
    registers: [registry],
  });
  // The relay counts bytes into plain numbers on every chunk (a labelled inc() there is measurable
  // CPU per proxied query); the counter takes what is new at each scrape.
  const relayedBytes = new Map<string, Record<ByteDirection, number>>();
  const publishedBytes = new Map<string, Record<ByteDirection, number>>();
  const bytes = new Counter({
    name: `${prefix}bytes_total`,
    help: 'Bytes relayed by the PostgreSQL proxy after the login, per target and direction.',
    labelNames: ['target', 'direction'] as const,
    registers: [registry],
    collect() {
      for (const [target, counted] of relayedBytes) {
        const published = publishedBytes.get(target) ?? { 'to-database': 0, 'to-client': 0 };
        for (const direction of BYTE_DIRECTIONS) {
          const fresh = counted[direction] - published[direction];
          if (fresh > 0) this.inc({ target, direction }, fresh);
          published[direction] = counted[direction];
        }
        publishedBytes.set(target, published);
      }
    },
  });
  const tallyOf = (target: string): Record<ByteDirection, number> => {
    let tally = relayedBytes.get(target);
    if (tally === undefined) {
      tally = { 'to-database': 0, 'to-client': 0 };
      relayedBytes.set(target, tally);
    }
    return tally;
  };
  const login = new Histogram({
    name: `${prefix}login_duration_seconds`,
    help: "Time from the client's startup message to the database's ReadyForQuery through the proxy.",
    labelNames: ['target'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Zero series for every known label set from the start (prom-client's convention), so increase()
  // sees the first event and the dashboards show 0 rather than no data for a proxy never used.
  for (const target of targets) {
    open.set({ target }, 0);
    login.zero({ target });
    total.inc({ target }, 0);
    for (const reason of PROXY_ERROR_CLASSES) failures.inc({ target, reason }, 0);
    for (const direction of BYTE_DIRECTIONS) bytes.inc({ target, direction }, 0);
  }
  return {
    forTarget: (target) => {
      const tally = tallyOf(target);
      const openChild = open.labels({ target });
      const totalChild = total.labels({ target });
      const loginChild = login.labels({ target });
      return {
        connectionOpened: () => {
          openChild.inc();
          totalChild.inc();
        },
        connectionClosed: () => openChild.dec(),
        loginFailed: (reason) => failures.inc({ target, reason }),
        loggedIn: (durationMs) => loginChild.observe(durationMs / 1000),
        relayed: (direction, n) => {
          tally[direction] += n;
        },
      };
    },
  };
}
