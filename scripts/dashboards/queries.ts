/**
 * Every PromQL expression of the shipped Grafana dashboards, in one place so tests (and the
 * real-Prometheus test) can import them. Only Grafana's plain variables appear: `$namespace`, `$pod`,
 * `$target` (target dashboard) and `$__rate_interval`; nothing needs Grafana's own query syntax.
 *
 * Sidecar series carry `target` and `kind` (and `reason` on failures) from the sidecar, plus the
 * `namespace` and `pod` of the scrape (the chart's sidecar PodMonitor adds them).
 */

/** One sidecar's target, as the target dashboard's variables select it. */
const TARGET = 'namespace="$namespace", pod="$pod", target="$target"';
/** Series of the sidecar as a whole (no `target` label), for the selected pod. */
const POD = 'namespace="$namespace", pod="$pod"';

const quantile = (q: number, bucket: string, by: string) =>
  `histogram_quantile(${q}, sum by (${by}) (rate(${bucket}[$__rate_interval])))`;

export const FLEET = {
  // `or vector(0)`: a fleet without any sidecar shows 0, not "No data".
  optedInPods: 'count(count by (namespace, pod) (token_broker_ready)) or vector(0)',
  targets: 'count(count by (namespace, pod, target) (token_broker_refresh_attempts_total)) or vector(0)',
  targetsByState: 'sum by (state) (token_broker_target_state)',
  targetsNotFresh: 'token_broker_target_state{state!="fresh"} == 1',
  soonestExpiryByNamespace: 'min by (namespace) (token_broker_credential_expiry_timestamp_seconds) - time()',
  failuresByReason: 'sum by (reason) (increase(token_broker_refresh_failures_total[$__rate_interval]))',
  stsLatencyP50: quantile(0.5, 'token_broker_sts_request_duration_seconds_bucket', 'le, action'),
  stsLatencyP99: quantile(0.99, 'token_broker_sts_request_duration_seconds_bucket', 'le, action'),
  sidecarsNotReady: 'count(token_broker_ready == 0) or vector(0)',
  webhookAdmissionsByOutcome:
    'sum by (outcome) (rate(token_broker_webhook_admissions_total[$__rate_interval]))',
  webhookLatencyP50: quantile(0.5, 'token_broker_webhook_admission_duration_seconds_bucket', 'le'),
  webhookLatencyP99: quantile(0.99, 'token_broker_webhook_admission_duration_seconds_bucket', 'le'),
  /** The API server's wait for the webhook, as a constant series beside the latency. */
  webhookTimeout: (timeoutSeconds: number) => `vector(${timeoutSeconds})`,
  webhookCertificateExpiry: 'min(token_broker_webhook_certificate_expiry_timestamp_seconds) - time()',
  // PostgreSQL proxy (sidecar/src/pg-proxy/metrics.ts): series exist only for proxied targets.
  proxyConnectionsOpen: 'sum by (namespace, pod) (token_broker_proxy_connections_open)',
  proxyConnectionsPerSecond: 'sum(rate(token_broker_proxy_connections_total[$__rate_interval]))',
  // A histogram's _count counts the logins that got a session.
  proxyLoginsPerSecond: 'sum(rate(token_broker_proxy_login_duration_seconds_count[$__rate_interval]))',
  proxyLoginFailuresByReason:
    'sum by (reason) (increase(token_broker_proxy_login_failures_total[$__rate_interval]))',
  proxyLoginLatencyP50: quantile(0.5, 'token_broker_proxy_login_duration_seconds_bucket', 'le'),
  proxyLoginLatencyP99: quantile(0.99, 'token_broker_proxy_login_duration_seconds_bucket', 'le'),
  proxyBytesByDirection: 'sum by (direction) (rate(token_broker_proxy_bytes_total[$__rate_interval]))',
} as const;

export const TARGET_VARIABLES = {
  namespace: 'label_values(token_broker_refresh_attempts_total, namespace)',
  pod: 'label_values(token_broker_refresh_attempts_total{namespace="$namespace"}, pod)',
  target: 'label_values(token_broker_refresh_attempts_total{namespace="$namespace", pod="$pod"}, target)',
} as const;

export const TARGET_PANELS = {
  state: `token_broker_target_state{${TARGET}} == 1`,
  expiresIn: `token_broker_credential_expiry_timestamp_seconds{${TARGET}} - time()`,
  consecutiveFailures: `token_broker_consecutive_failures{${TARGET}}`,
  // Grafana's dateTimeFromNow unit reads milliseconds.
  lastFailure: `token_broker_last_failure_timestamp_seconds{${TARGET}} * 1000`,
  lastSuccessAge: `time() - token_broker_last_success_timestamp_seconds{${TARGET}}`,
  attempts: `sum(increase(token_broker_refresh_attempts_total{${TARGET}}[$__rate_interval]))`,
  failures: `sum(increase(token_broker_refresh_failures_total{${TARGET}}[$__rate_interval]))`,
  refreshDurationP99: quantile(0.99, `token_broker_refresh_duration_seconds_bucket{${TARGET}}`, 'le'),
  stsLatencyP99: quantile(0.99, `token_broker_sts_request_duration_seconds_bucket{${POD}}`, 'le, action'),
  clockSkew: `token_broker_clock_skew_seconds{${POD}}`,
  // PostgreSQL proxy of the target: no series when the target is not proxied.
  proxyConnectionsOpen: `token_broker_proxy_connections_open{${TARGET}}`,
  proxyConnectionsPerSecond: `sum(rate(token_broker_proxy_connections_total{${TARGET}}[$__rate_interval]))`,
  proxyLoginsPerSecond: `sum(rate(token_broker_proxy_login_duration_seconds_count{${TARGET}}[$__rate_interval]))`,
  proxyLoginFailuresByReason: `sum by (reason) (increase(token_broker_proxy_login_failures_total{${TARGET}}[$__rate_interval]))`,
  proxyLoginLatencyP99: quantile(0.99, `token_broker_proxy_login_duration_seconds_bucket{${TARGET}}`, 'le'),
  proxyBytesByDirection: `sum by (direction) (rate(token_broker_proxy_bytes_total{${TARGET}}[$__rate_interval]))`,
} as const;
