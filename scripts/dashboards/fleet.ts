/**
 * The fleet dashboard: every opted-in pod's sidecar and the webhook, at a glance. Which targets are
 * not fresh, why refreshes fail, how STS and the webhook answer, and what expires next.
 */
import { BigValueTextMode } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  DASHBOARD_TAGS,
  dashboardsLink,
  datasourceVariable,
  PanelIds,
  row,
  stat,
  table,
  timeseries,
} from './panels.ts';
import { FLEET } from './queries.ts';

export const FLEET_UID = 'token-broker-fleet';
export const FLEET_FILE = 'token-broker-fleet.json';

export interface FleetSettings {
  /** The chart's webhook.timeoutSeconds: how long the API server waits for an admission. */
  webhookTimeoutSeconds: number;
}

const HOUR = 3600;
const NOT_PROXIED =
  'Only targets with the PostgreSQL proxy on have these series: no data means no pod uses the proxy.';
const DAY = 24 * HOUR;

export function fleetDashboard(settings: FleetSettings): Dashboard {
  const ids = new PanelIds();
  return new DashboardBuilder('token-broker / Fleet')
    .uid(FLEET_UID)
    .description(
      'Sidecars and webhook of token-broker across the cluster (RDS IAM tokens, MongoDB AWS credentials).',
    )
    .tags(DASHBOARD_TAGS)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .link(dashboardsLink())
    .withVariable(datasourceVariable())
    .withRow(row(ids, 'Sidecars'))
    .withPanel(
      stat(
        ids,
        {
          title: 'Opted-in pods',
          description: 'Pods whose token-broker sidecar is scraped (one token_broker_ready series each).',
          unit: 'short',
          width: 4,
          height: 4,
        },
        [{ expr: FLEET.optedInPods, legend: 'pods' }],
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Targets',
          description: 'Database targets served by those sidecars (one per namespace, pod and target name).',
          unit: 'short',
          width: 4,
          height: 4,
        },
        [{ expr: FLEET.targets, legend: 'targets' }],
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Sidecars not ready',
          description:
            'Sidecars answering not-ready: at least one target holds no value fresh beyond the refresh margin.',
          unit: 'short',
          width: 4,
          height: 4,
        },
        [{ expr: FLEET.sidecarsNotReady, legend: 'not ready' }],
        {
          steps: [
            { value: null, color: 'green' },
            { value: 1, color: 'red' },
          ],
        },
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Targets by state',
          description:
            'Targets per state. fresh: valid beyond the refresh margin; failing: the last refresh failed but a value is still served; expired: nothing valid to serve; pending: first refresh under way.',
          unit: 'short',
          width: 12,
          height: 4,
        },
        [{ expr: FLEET.targetsByState, legend: '{{state}}' }],
        { textMode: BigValueTextMode.ValueAndName },
      ),
    )
    .withPanel(
      table(
        ids,
        {
          title: 'Targets not fresh',
          description:
            'Each target not fresh now (failing, expired or pending), with its pod; open the target dashboard for its history.',
          unit: 'short',
          width: 12,
          height: 8,
        },
        [{ expr: FLEET.targetsNotFresh, legend: '{{namespace}}/{{pod}} {{target}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Soonest expiry per namespace',
          description:
            'Seconds until the first served value of each namespace expires; a line that keeps falling means refreshes do not land.',
          unit: 's',
          width: 12,
          height: 8,
        },
        [{ expr: FLEET.soonestExpiryByNamespace, legend: '{{namespace}}' }],
        {
          steps: [
            { value: null, color: 'red' },
            { value: 5 * 60, color: 'green' },
          ],
        },
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Refresh failures by reason',
          description:
            'Failed refresh cycles per error class (access-denied, throttling, clock-skew, timeout, ...); the runbooks explain each.',
          unit: 'short',
          width: 12,
          height: 8,
        },
        [{ expr: FLEET.failuresByReason, legend: '{{reason}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'STS call latency',
          description:
            'p50 and p99 of the STS requests the sidecars make, per action (AssumeRole, AssumeRoleWithWebIdentity).',
          unit: 's',
          width: 12,
          height: 8,
        },
        [
          { expr: FLEET.stsLatencyP50, legend: 'p50 {{action}}' },
          { expr: FLEET.stsLatencyP99, legend: 'p99 {{action}}' },
        ],
      ),
    )
    .withRow(row(ids, 'Webhook'))
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Webhook admissions by outcome',
          description: 'Admission reviews answered per second: injected, reconciled, skipped, denied, error.',
          unit: 'reqps',
          width: 8,
          height: 8,
        },
        [{ expr: FLEET.webhookAdmissionsByOutcome, legend: '{{outcome}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Webhook latency against timeoutSeconds',
          description: `p50 and p99 of the time to answer an admission review, beside the API server's timeout (the chart's default webhook.timeoutSeconds, ${settings.webhookTimeoutSeconds} s).`,
          unit: 's',
          width: 8,
          height: 8,
        },
        [
          { expr: FLEET.webhookLatencyP50, legend: 'p50' },
          { expr: FLEET.webhookLatencyP99, legend: 'p99' },
          { expr: FLEET.webhookTimeout(settings.webhookTimeoutSeconds), legend: 'timeoutSeconds' },
        ],
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Webhook certificate expiry',
          description:
            'Time left on the serving certificate the webhook uses now (the soonest of its replicas).',
          unit: 's',
          width: 8,
          height: 8,
        },
        [{ expr: FLEET.webhookCertificateExpiry, legend: 'expires in' }],
        {
          steps: [
            { value: null, color: 'red' },
            { value: 7 * DAY, color: 'orange' },
            { value: 30 * DAY, color: 'green' },
          ],
        },
      ),
    )
    .withRow(row(ids, 'PostgreSQL proxy'))
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Open proxied connections',
          description: `Client connections open through the sidecars' PostgreSQL proxies, per pod (logging in or relaying). ${NOT_PROXIED}`,
          unit: 'short',
          width: 12,
          height: 8,
        },
        [{ expr: FLEET.proxyConnectionsOpen, legend: '{{namespace}}/{{pod}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy connections and logins',
          description:
            'Client connections accepted per second by all proxies, and the logins among them that got a database session.',
          unit: 'reqps',
          width: 12,
          height: 8,
        },
        [
          { expr: FLEET.proxyConnectionsPerSecond, legend: 'connections' },
          { expr: FLEET.proxyLoginsPerSecond, legend: 'logins' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy login failures by reason',
          description:
            'Proxied connections that got no database session, per interval and proxy error class (upstream-tls, upstream-auth, wrong-user, ...); the TokenBrokerProxyLoginFailing runbook explains each.',
          unit: 'short',
          width: 8,
          height: 8,
        },
        [{ expr: FLEET.proxyLoginFailuresByReason, legend: '{{reason}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy login latency',
          description:
            "p50 and p99 from a client's startup message to the database's ReadyForQuery: TLS to the database, the IAM login and the session start.",
          unit: 's',
          width: 8,
          height: 8,
        },
        [
          { expr: FLEET.proxyLoginLatencyP50, legend: 'p50' },
          { expr: FLEET.proxyLoginLatencyP99, legend: 'p99' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy bytes relayed',
          description:
            'Bytes per second the proxies relay after the login, to the database (queries) and to the client (results).',
          unit: 'Bps',
          width: 8,
          height: 8,
        },
        [{ expr: FLEET.proxyBytesByDirection, legend: '{{direction}}' }],
      ),
    )
    .build();
}
