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
  const bytes = new Counter({
    name: `${prefix}bytes_total`,
    help: 'Bytes relayed by the PostgreSQL proxy after the login, per target and direction.',
    labelNames: ['target', 'direction'] as const,
    registers: [registry],
  });
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
    for (const direction of ['to-database', 'to-client'] as const) bytes.inc({ target, direction }, 0);
  }
  return {
    forTarget: (target) => {
      // Children bound once: the byte counters are hit on every relayed chunk.
      const toDatabase = bytes.labels({ target, direction: 'to-database' });
      const toClient = bytes.labels({ target, direction: 'to-client' });
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
        relayed: (direction, n) => (direction === 'to-database' ? toDatabase : toClient).inc(n),
      };
    },
  };
}
