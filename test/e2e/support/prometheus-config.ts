/**
 * The prometheus.yml of the real-Prometheus test, built from what the chart's monitors would give a
 * cluster's Prometheus: one static target per sidecar carrying the `namespace` and `pod` labels a
 * PodMonitor adds, and the webhook scraped over HTTPS, trusting only its CA. Pure: returns YAML text.
 */
import { stringify } from 'yaml';

export interface StaticTarget {
  /** `host:port` */
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ScrapeJob {
  readonly jobName: string;
  readonly targets: readonly StaticTarget[];
  /** HTTPS with this CA and the name the certificate carries; plain HTTP when absent. */
  readonly tls?: { readonly caFile: string; readonly serverName: string };
}

export interface PrometheusConfigInput {
  readonly intervalSeconds: number;
  readonly ruleFiles: readonly string[];
  readonly jobs: readonly ScrapeJob[];
}

export function prometheusConfigYaml(input: PrometheusConfigInput): string {
  const interval = `${input.intervalSeconds}s`;
  return stringify({
    global: {
      scrape_interval: interval,
      // A scrape may take at most one interval.
      scrape_timeout: interval,
      evaluation_interval: interval,
    },
    rule_files: [...input.ruleFiles],
    scrape_configs: input.jobs.map((job) => ({
      job_name: job.jobName,
      metrics_path: '/metrics',
      ...(job.tls === undefined
        ? { scheme: 'http' }
        : { scheme: 'https', tls_config: { ca_file: job.tls.caFile, server_name: job.tls.serverName } }),
      static_configs: job.targets.map((t) => ({ targets: [t.address], labels: { ...t.labels } })),
    })),
  });
}
