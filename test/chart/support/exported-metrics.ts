import { createMetrics } from '../../../sidecar/src/metrics.ts';
import { createProxyMetrics } from '../../../sidecar/src/pg-proxy/metrics.ts';
import { createWebhookMetrics } from '../../../webhook/src/server/metrics.ts';

/**
 * Every metric family the sidecar (its PostgreSQL proxy included) and the webhook register, read from
 * their real registries: what alert rules and runbooks may name.
 */
export async function exportedMetricNames(): Promise<Set<string>> {
  const sidecar = createMetrics({ isReady: () => true, targets: () => [], defaultMetrics: false });
  // The PostgreSQL proxy reports on the sidecar's registry (sidecar/src/pg-proxy/proxies.ts).
  createProxyMetrics(sidecar.registry, ['orders']);
  const webhook = createWebhookMetrics({ defaultMetrics: false });
  const families = [
    ...(await sidecar.registry.getMetricsAsJSON()),
    ...(await webhook.registry.getMetricsAsJSON()),
  ];
  return new Set(families.map((m) => m.name));
}
