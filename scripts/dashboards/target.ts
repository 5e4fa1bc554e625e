/**
 * The target drill-down: one target of one pod's sidecar. Its state and expiry countdown, its
 * refresh history, the class of its last error, and the sidecar's STS latency and clock skew.
 */
import { BigValueTextMode } from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  DASHBOARD_TAGS,
  dashboardsLink,
  DATASOURCE,
  datasourceVariable,
  PanelIds,
  row,
  stat,
  timeseries,
} from './panels.ts';
import { TARGET_PANELS as Q, TARGET_VARIABLES } from './queries.ts';

export const TARGET_UID = 'token-broker-target';
const NOT_PROXIED =
  'Empty when the target is not proxied (MySQL, MongoDB, or PostgreSQL without the proxy option in its annotation).';
export const TARGET_FILE = 'token-broker-target.json';

function queryVariable(name: keyof typeof TARGET_VARIABLES, label: string): QueryVariableBuilder {
  const query = TARGET_VARIABLES[name];
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
}

export function targetDashboard(): Dashboard {
  const ids = new PanelIds();
  return new DashboardBuilder('token-broker / Target')
    .uid(TARGET_UID)
    .description('One database target of one pod: expiry, refresh history and the class of its last error.')
    .tags(DASHBOARD_TAGS)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .link(dashboardsLink())
    .withVariable(datasourceVariable())
    .withVariable(queryVariable('namespace', 'Namespace'))
    .withVariable(queryVariable('pod', 'Pod'))
    .withVariable(queryVariable('target', 'Target'))
    .withRow(row(ids, 'Now'))
    .withPanel(
      stat(
        ids,
        {
          title: 'State',
          description:
            'fresh: valid beyond the refresh margin; failing: the last refresh failed, the last good value is still served; expired: nothing valid to serve; pending: first refresh under way.',
          unit: 'short',
          width: 4,
          height: 4,
        },
        [{ expr: Q.state, legend: '{{state}}' }],
        { textMode: BigValueTextMode.Name },
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Expires in',
          description: 'Time left on the value served now (RDS token or MongoDB credentials).',
          unit: 's',
          width: 4,
          height: 4,
        },
        [{ expr: Q.expiresIn, legend: 'expires in' }],
        {
          steps: [
            { value: null, color: 'red' },
            { value: 5 * 60, color: 'green' },
          ],
        },
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Consecutive failures',
          description:
            'Refresh cycles failed in a row since the last success; 0 when the last one succeeded.',
          unit: 'short',
          width: 4,
          height: 4,
        },
        [{ expr: Q.consecutiveFailures, legend: 'failures' }],
        {
          steps: [
            { value: null, color: 'green' },
            { value: 1, color: 'orange' },
            { value: 3, color: 'red' },
          ],
        },
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Last error class',
          description:
            'Error class (reason) of the latest failed refresh and when it happened; no value: no failure since the sidecar started.',
          unit: 'dateTimeFromNow',
          width: 6,
          height: 4,
        },
        [{ expr: Q.lastFailure, legend: '{{reason}}' }],
        { textMode: BigValueTextMode.ValueAndName, noValue: 'no failure' },
      ),
    )
    .withPanel(
      stat(
        ids,
        {
          title: 'Since last success',
          description: 'Time since the last successful refresh of this target.',
          unit: 's',
          width: 6,
          height: 4,
        },
        [{ expr: Q.lastSuccessAge, legend: 'since last success' }],
      ),
    )
    .withRow(row(ids, 'History'))
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Expiry countdown',
          description:
            'Seconds until the served value expires: a saw-tooth when refreshes land; a falling line means they do not.',
          unit: 's',
          width: 12,
          height: 8,
        },
        [{ expr: Q.expiresIn, legend: 'expires in' }],
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
          title: 'Refresh history',
          description: 'Refresh cycles started and failed per interval.',
          unit: 'short',
          width: 12,
          height: 8,
        },
        [
          { expr: Q.attempts, legend: 'attempts' },
          { expr: Q.failures, legend: 'failures' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Consecutive failures over time',
          description: 'Failed refresh cycles in a row; it falls back to 0 at the next success.',
          unit: 'short',
          width: 12,
          height: 8,
        },
        [{ expr: Q.consecutiveFailures, legend: 'consecutive failures' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Refresh duration (p99)',
          description: 'p99 of a whole refresh cycle of this target: STS call, token signing, file writes.',
          unit: 's',
          width: 12,
          height: 8,
        },
        [{ expr: Q.refreshDurationP99, legend: 'p99' }],
      ),
    )
    .withRow(row(ids, 'Sidecar'))
    .withPanel(
      timeseries(
        ids,
        {
          title: 'STS call latency (p99)',
          description: "p99 of this pod's STS requests per action (all of its targets).",
          unit: 's',
          width: 12,
          height: 8,
        },
        [{ expr: Q.stsLatencyP99, legend: '{{action}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Clock skew',
          description:
            "This node's clock minus STS's (from STS's Date header); beyond a few minutes AWS refuses signatures.",
          unit: 's',
          width: 12,
          height: 8,
        },
        [{ expr: Q.clockSkew, legend: 'skew' }],
        {
          steps: [
            { value: null, color: 'green' },
            { value: 60, color: 'red' },
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
          description: `Client connections open through this target's PostgreSQL proxy (logging in or relaying). ${NOT_PROXIED}`,
          unit: 'short',
          width: 8,
          height: 8,
        },
        [{ expr: Q.proxyConnectionsOpen, legend: 'open' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy connections and logins',
          description: `Client connections accepted per second by this target's proxy, and the logins among them that got a database session. ${NOT_PROXIED}`,
          unit: 'reqps',
          width: 8,
          height: 8,
        },
        [
          { expr: Q.proxyConnectionsPerSecond, legend: 'connections' },
          { expr: Q.proxyLoginsPerSecond, legend: 'logins' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy login failures by reason',
          description: `Connections through this target's proxy that got no database session, per interval and proxy error class; the TokenBrokerProxyLoginFailing runbook explains each. ${NOT_PROXIED}`,
          unit: 'short',
          width: 8,
          height: 8,
        },
        [{ expr: Q.proxyLoginFailuresByReason, legend: '{{reason}}' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy login latency (p99)',
          description: `p99 from the client's startup message to the database's ReadyForQuery through this target's proxy. ${NOT_PROXIED}`,
          unit: 's',
          width: 12,
          height: 8,
        },
        [{ expr: Q.proxyLoginLatencyP99, legend: 'p99' }],
      ),
    )
    .withPanel(
      timeseries(
        ids,
        {
          title: 'Proxy bytes relayed',
          description: `Bytes per second relayed by this target's proxy after the login, to the database and to the client. ${NOT_PROXIED}`,
          unit: 'Bps',
          width: 12,
          height: 8,
        },
        [{ expr: Q.proxyBytesByDirection, legend: '{{direction}}' }],
      ),
    )
    .build();
}
