// The SRE view proven on a real Prometheus server (Debian's `prometheus`), not on our own reading of the
// metric names: it scrapes three real sidecar processes (each its own namespace/pod, as the chart's
// PodMonitor labels them) and the real webhook over HTTPS, with the chart's alert rules as `helm template`
// renders them. The STS emulator refuses one target (AccessDenied: the role's trust policy names another
// pod's role) and gives another 12-second credentials; some admissions are denied. Through Prometheus's
// HTTP API the test shows that every dashboard panel query runs and returns series, that the failing
// target shows where an SRE would look and the healthy ones do not, and that the alerts evaluate on the
// scraped series: TokenBrokerRefreshFailing for the failing target only, TokenBrokerWebhookDenials for
// the denials. One PostgreSQL target has the sidecar's proxy on, in front of a TLS PostgreSQL wire
// stand-in: a client session through it and a client refused as the wrong user move the proxy series,
// and TokenBrokerProxyLoginFailing fires for that target and reason only.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../webhook/src/injection/k8s-types.ts';
import { parseWebhookOptions } from '../../webhook/src/server/options.ts';
import { startWebhookServer, type WebhookServer } from '../../webhook/src/server/serve-command.ts';
import { CHART_DIR } from '../chart/support/helm.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import {
  loopbackServerArgs,
  makeTempCertificates,
  TEST_NAMESPACE,
  TEST_SERVER_NAME,
  type TestCertificates,
} from '../webhook/server/support/certs.ts';
import { logSink } from '../webhook/server/support/log-sink.ts';
import { admissionReview, callWebhook } from './support/admission-client.ts';
import { LOOPBACK } from './support/net.ts';
import { prometheusConfigYaml } from './support/prometheus-config.ts';
import {
  fillVariables,
  loadDashboards,
  panelQueries,
  variablePromql,
  variableQueries,
  type Dashboard,
} from './support/prometheus-dashboards.ts';
import { planFleet, startFleet, type Fleet, type FleetPodSpec } from './support/prometheus-fleet.ts';
import {
  queryThroughProxy,
  startPgUpstream,
  UPSTREAM_HOST,
  type PgUpstream,
} from './support/prometheus-pg-upstream.ts';
import { pollUntil } from './support/prometheus-poll.ts';
import { alertRule, renderChartAlertRules, type RenderedRules } from './support/prometheus-rules.ts';
import { startPrometheus, type PrometheusServer, type Sample } from './support/prometheus-server.ts';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;
/** Each pod's IRSA role. */
const CHECKOUT_POD_ROLE = role('checkout-pod');
const CATALOG_POD_ROLE = role('catalog-pod');
const REPORTS_POD_ROLE = role('reports-pod');
/** Trusts only the reports pod's role: the checkout pod's AssumeRole of it is AccessDenied. */
const CARTS_ROLE = role('carts-mongo');
const ORDERS_ROLE = role('orders-db-connect');
const INVENTORY_ROLE = role('inventory-db-connect');
const SESSIONS_ROLE = role('sessions-mongo');
/** The short-lived target's credential lifetime, and its pod's refresh margin. */
const SHORT_LIFETIME_SECONDS = 12;
const SHORT_MARGIN_SECONDS = 3;
/** Scrape and rule evaluation interval; and the shortened `for:` of the refresh-failing alert. */
const INTERVAL_SECONDS = 1;
const REFRESH_FAILING_FOR = '2s';
const PROXY_LOGIN_FAILING_FOR = '2s';
const WEBHOOK_POD = 'token-broker-webhook-5d8f7-q2x9w';
const DASHBOARDS_DIR = `${CHART_DIR}/dashboards`;
/** Values of Grafana's built-in variables when a panel query is run here. */
const BUILT_INS = {
  __rate_interval: '10s',
  __interval: '10s',
  __interval_ms: '10000',
  __range: '1m',
  __range_s: '60',
  __range_ms: '60000',
};
const WAIT_MS = 40_000;

const prometheusTempDirs = async (): Promise<string[]> =>
  (await readdir(tmpdir())).filter((name) => name.startsWith('tb-prometheus-')).sort();

const PODS = {
  checkout: {
    namespace: 'payments',
    pod: 'checkout-6c9f8d7b5-x2x4q',
    podRoleArn: CHECKOUT_POD_ROLE,
    marginSeconds: 120,
    targets: [
      rdsTarget({ name: 'orders', roleArn: ORDERS_ROLE }),
      mongoTarget({ name: 'carts', roleArn: CARTS_ROLE }),
    ],
  },
  catalog: {
    namespace: 'catalog',
    pod: 'catalog-api-7b8d4c6f9-p9z7k',
    podRoleArn: CATALOG_POD_ROLE,
    marginSeconds: SHORT_MARGIN_SECONDS,
    targets: [
      rdsTarget({
        name: 'inventory',
        engine: 'mysql',
        host: 'inventory.cluster-x.eu-west-1.rds.amazonaws.com',
        port: 3306,
        database: 'inventory',
        user: 'inventory_app',
        roleArn: INVENTORY_ROLE,
      }),
      mongoTarget({ name: 'sessions', roleArn: SESSIONS_ROLE }),
    ],
  },
  reports: {
    namespace: 'reporting',
    pod: 'reports-5f7c9b8d6-k2m4n',
    podRoleArn: REPORTS_POD_ROLE,
    marginSeconds: 120,
    // The pod's own identity signs `orders`; `carts` has the same name and role as the failing target.
    targets: [rdsTarget({ name: 'orders' }), mongoTarget({ name: 'carts', roleArn: CARTS_ROLE })],
  },
} satisfies Record<string, FleetPodSpec>;

interface TargetRef {
  readonly namespace: string;
  readonly pod: string;
  readonly target: string;
}
const ref = (spec: FleetPodSpec, target: string): TargetRef => ({
  namespace: spec.namespace,
  pod: spec.pod,
  target,
});
/**
 * The proxied PostgreSQL target, added to the reports pod once its database stand-in listens (its
 * port and CA file are known only then); proxy port 0: planFleet picks one.
 */
const LEDGER = { name: 'ledger', user: 'ledger_app', database: 'ledger' } as const;
const ledgerTarget = (upstream: PgUpstream) =>
  rdsTarget({
    name: LEDGER.name,
    host: UPSTREAM_HOST,
    port: upstream.port,
    database: LEDGER.database,
    user: LEDGER.user,
    proxy: { port: 0, caFile: upstream.caFile },
  });
const FAILING = ref(PODS.checkout, 'carts');
const SHORT_LIVED = ref(PODS.catalog, 'sessions');
const PROXIED = ref(PODS.reports, LEDGER.name);
const HEALTHY: readonly TargetRef[] = [
  ref(PODS.checkout, 'orders'),
  ref(PODS.catalog, 'inventory'),
  ref(PODS.catalog, 'sessions'),
  ref(PODS.reports, 'orders'),
  ref(PODS.reports, 'carts'),
  PROXIED,
];
/** A target dashboard's proxy panel, empty by design for a target without the proxy. */
const PROXY_PANEL_OF_TARGET = /token_broker_proxy_[a-z_]+\{[^}]*\$target/;
const selector = (t: TargetRef): string => `namespace="${t.namespace}",pod="${t.pod}",target="${t.target}"`;
const key = (labels: {
  readonly namespace?: string;
  readonly pod?: string;
  readonly target?: string;
}): string => `${labels.namespace}/${labels.pod}/${labels.target}`;

/** Pods as a ReplicaSet would create them: opted in, with token-broker.io/ target annotations. */
function appPod(name: string, annotations: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'payments',
      annotations: { 'token-broker.io/inject': 'true', ...annotations },
    },
    spec: {
      serviceAccountName: 'checkout',
      securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
      containers: [{ name: 'app', image: 'registry.example.com/checkout:2.3.1' }],
    },
  };
}
const PG_URI =
  'postgres://orders_app@orders.cluster-x.eu-west-1.rds.amazonaws.com:5432/orders?region=eu-west-1';
const VALID_ADMISSIONS = [
  appPod('checkout-a', { 'token-broker.io/rds-orders': PG_URI }),
  appPod('checkout-b', {
    'token-broker.io/mongo-carts': `mongodb://carts-0.mongo.internal:27017/carts?region=${REGION}&role=${CARTS_ROLE}`,
  }),
];
const DENIED_ADMISSIONS = [
  // Target names are lowercase DNS labels.
  appPod('checkout-c', { 'token-broker.io/rds-Orders_DB': PG_URI }),
  // A password in the URI: the point of token-broker is that there is none.
  appPod('checkout-d', {
    'token-broker.io/rds-orders': PG_URI.replace('orders_app@', 'orders_app:hunter2@'),
  }),
  // No region anywhere.
  appPod('checkout-e', { 'token-broker.io/mongo-carts': 'mongodb://carts-0.mongo.internal:27017/carts' }),
];

describe(
  'real Prometheus: dashboards and alert rules on real sidecars and the webhook',
  { timeout: 120_000 },
  () => {
    const startedAt = Date.now();
    let rules: RenderedRules;
    let sts: StsEmulator | undefined;
    let certs: (TestCertificates & { cleanup: () => Promise<void> }) | undefined;
    let webhook: WebhookServer | undefined;
    let prometheus: PrometheusServer | undefined;
    let fleet: Fleet | undefined;
    let upstream: PgUpstream | undefined;
    let proxyPort = 0;
    const prom = (): PrometheusServer => {
      assert.ok(prometheus, 'prometheus did not start');
      return prometheus;
    };
    const query = (expr: string): Promise<Sample[]> => prom().query(expr);
    /** Values by namespace/pod/target. */
    const labelled = async (expr: string): Promise<Record<string, number>> =>
      Object.fromEntries((await query(expr)).map((s) => [key(s.metric), s.value]));

    before(async () => {
      rules = renderChartAlertRules({
        TokenBrokerRefreshFailing: REFRESH_FAILING_FOR,
        TokenBrokerProxyLoginFailing: PROXY_LOGIN_FAILING_FOR,
      });
      sts = await startStsEmulator({
        region: REGION,
        roles: {
          [CHECKOUT_POD_ROLE]: {},
          [CATALOG_POD_ROLE]: {},
          [REPORTS_POD_ROLE]: {},
          [ORDERS_ROLE]: {},
          [INVENTORY_ROLE]: {},
          [CARTS_ROLE]: { trust: [REPORTS_POD_ROLE] },
          [SESSIONS_ROLE]: { lifetimeSeconds: SHORT_LIFETIME_SECONDS },
        },
      });
      certs = await makeTempCertificates();
      webhook = await startWebhookServer(parseWebhookOptions(loopbackServerArgs(certs), {}), {
        logDestination: logSink(),
      });
      upstream = await startPgUpstream(LEDGER.user);
      const reports = { ...PODS.reports, targets: [...PODS.reports.targets, ledgerTarget(upstream)] };
      const planned = await planFleet([PODS.checkout, PODS.catalog, reports]);
      const ledger = planned
        .flatMap((p) => p.spec.targets)
        .find((t) => t.name === LEDGER.name && t.kind === 'rds');
      proxyPort = (ledger?.kind === 'rds' ? ledger.proxy?.port : undefined) ?? 0;
      assert.ok(proxyPort > 0, 'a proxy port planned for the ledger target');
      // Prometheus scrapes from before the sidecars' first refresh, so every counter starts at its 0.
      prometheus = await startPrometheus({
        configYaml: prometheusConfigYaml({
          intervalSeconds: INTERVAL_SECONDS,
          ruleFiles: ['rules.yaml'],
          jobs: [
            {
              jobName: 'token-broker-sidecars',
              targets: planned.map((p) => ({
                address: p.metricsAddress,
                labels: { namespace: p.spec.namespace, pod: p.spec.pod },
              })),
            },
            {
              jobName: 'token-broker-webhook',
              tls: { caFile: certs.caFile, serverName: TEST_SERVER_NAME },
              targets: [
                {
                  address: `${LOOPBACK}:${webhook.port}`,
                  labels: { namespace: TEST_NAMESPACE, pod: WEBHOOK_POD },
                },
              ],
            },
          ],
        }),
        files: { 'rules.yaml': rules.rulesFileYaml },
      });
      fleet = await startFleet(planned, sts, REGION);
      let lastTargets = '';
      await pollUntil(
        async () => {
          const targets = await prom().targets();
          lastTargets = targets.map((t) => `${t.scrapeUrl} ${t.health} ${t.lastError}`).join('; ');
          return targets.length === planned.length + 1 && targets.every((t) => t.health === 'up')
            ? true
            : undefined;
        },
        { what: 'every scrape target up', timeoutMs: WAIT_MS, lastSeen: () => lastTargets },
      );
      // After the webhook's first scrape (outcome counters at 0), so increase() sees every admission.
      const endpoint = { host: LOOPBACK, port: webhook.port, serverName: TEST_SERVER_NAME, ca: certs.ca };
      for (const pod of VALID_ADMISSIONS) {
        const answer = await callWebhook(endpoint, admissionReview(pod, 'payments'));
        assert.equal(answer.allowed, true, `${pod.metadata?.name}: ${answer.status?.message}`);
      }
      for (const pod of DENIED_ADMISSIONS) {
        const answer = await callWebhook(endpoint, admissionReview(pod, 'payments'));
        assert.equal(answer.allowed, false, `${pod.metadata?.name} was admitted`);
        assert.match(answer.status?.message ?? '', /token-broker\.io\//, 'denied for its annotations');
      }
    });

    after(async () => {
      const stops: Array<Promise<unknown>> = [];
      if (fleet) stops.push(fleet.stop());
      if (prometheus) stops.push(prometheus.stop());
      if (webhook) stops.push(webhook.close());
      await Promise.allSettled(stops);
      await upstream?.close();
      await sts?.close();
      await certs?.cleanup();
      console.log(`real-Prometheus test: ${((Date.now() - startedAt) / 1000).toFixed(1)} s wall time`);
    });

    test('the rules Prometheus loaded are the chart rendering, with the shortened for:', async () => {
      assert.equal(alertRule(rules, 'TokenBrokerRefreshFailing').for, REFRESH_FAILING_FOR);
      const groups = await prom().rules();
      const loaded = groups.flatMap((g) => g.rules);
      const rendered = rules.groups.flatMap((g) => g.rules.map((r) => r.alert ?? r.record));
      assert.deepEqual(
        loaded.map((r) => r.name),
        rendered,
      );
      assert.equal(loaded.find((r) => r.name === 'TokenBrokerRefreshFailing')?.duration, 2);
      // Every rule evaluated on the scraped series without error.
      await pollUntil(
        async () => {
          const all = (await prom().rules()).flatMap((g) => g.rules);
          const bad = all.filter((r) => r.health !== 'ok');
          assert.deepEqual(
            bad.filter((r) => r.health === 'err').map((r) => `${r.name}: ${r.lastError}`),
            [],
          );
          return bad.length === 0 ? true : undefined;
        },
        { what: 'every rule evaluated', timeoutMs: WAIT_MS },
      );
    });

    test('the failing target: access-denied failures, not fresh, no expiry; the healthy ones: no failures', async () => {
      let seen = '';
      const failures = await pollUntil(
        async () => {
          const samples = await query(
            `sum by (reason) (token_broker_refresh_failures_total{${selector(FAILING)}}) > 0`,
          );
          seen = JSON.stringify(samples);
          return samples.length > 0 ? samples : undefined;
        },
        { what: `refresh failures of ${key(FAILING)}`, timeoutMs: WAIT_MS, lastSeen: () => seen },
      );
      assert.deepEqual(
        failures.map((s) => s.metric.reason),
        ['access-denied'],
      );
      // The cause is the one the emulator was set up for: the role refused the checkout pod only.
      const cartsCalls = (sts?.calls ?? []).filter(
        (c) => c.action === 'AssumeRole' && c.roleArn === CARTS_ROLE,
      );
      assert.deepEqual([...new Set(cartsCalls.map((c) => c.outcome))].sort(), ['AccessDenied', 'ok']);
      assert.deepEqual(
        await query(`token_broker_credential_expiry_timestamp_seconds{${selector(FAILING)}}`),
        [],
      );
      assert.deepEqual(await query(`token_broker_last_success_timestamp_seconds{${selector(FAILING)}}`), []);
      // Over windows, not one sample: a healthy target is briefly not fresh while a refresh at its last
      // moment (expiry minus the margin) runs.
      const [now] = await query(`token_broker_target_state{${selector(FAILING)}} == 1`);
      assert.ok(
        now !== undefined && now.metric.state !== 'fresh',
        `state of ${key(FAILING)}: ${now?.metric.state}`,
      );
      const everFresh = await labelled(`max_over_time(token_broker_target_state{state="fresh"}[1m])`);
      assert.equal(everFresh[key(FAILING)], 0, `${key(FAILING)} was fresh in the last minute`);
      const everReady = await query('max_over_time(token_broker_ready[1m])');
      assert.equal(everReady.find((s) => s.metric.namespace === 'payments')?.value, 0, 'payments pod ready');
      // The healthy targets were fresh (and their pods ready) once their first refresh was scraped.
      await pollUntil(
        async () => {
          const fresh = await labelled(`max_over_time(token_broker_target_state{state="fresh"}[5s])`);
          const ready = await query('max_over_time(token_broker_ready[5s])');
          const readyOf = (namespace: string) => ready.find((s) => s.metric.namespace === namespace)?.value;
          seen = JSON.stringify({ fresh, ready: ready.map((s) => [s.metric.namespace, s.value]) });
          return HEALTHY.every((t) => fresh[key(t)] === 1) &&
            readyOf('catalog') === 1 &&
            readyOf('reporting') === 1
            ? true
            : undefined;
        },
        { what: 'the healthy targets fresh and their pods ready', timeoutMs: WAIT_MS, lastSeen: () => seen },
      );

      const healthyFailures = await query(
        'sum by (namespace, pod, target) (token_broker_refresh_failures_total)',
      );
      const byTarget = Object.fromEntries(healthyFailures.map((s) => [key(s.metric), s.value]));
      for (const healthy of HEALTHY) assert.equal(byTarget[key(healthy)], 0, `failures of ${key(healthy)}`);
      const expiries = await query('token_broker_credential_expiry_timestamp_seconds - time()');
      const left = Object.fromEntries(expiries.map((s) => [key(s.metric), s.value]));
      assert.deepEqual(
        Object.keys(left).sort(),
        HEALTHY.map(key).sort(),
        'an expiry series for each healthy target',
      );
      for (const healthy of HEALTHY.filter((t) => key(t) !== key(SHORT_LIVED))) {
        assert.ok((left[key(healthy)] ?? 0) > 600, `${key(healthy)} expires in ${left[key(healthy)]} s`);
      }
    });

    test('the short-lived target is refreshed again and again: its expiry advances', async () => {
      const expr = `changes(token_broker_credential_expiry_timestamp_seconds{${selector(SHORT_LIVED)}}[1m])`;
      let seen = '';
      await pollUntil(
        async () => {
          const [changes] = await query(expr);
          seen = String(changes?.value);
          return changes !== undefined && changes.value >= 2 ? true : undefined;
        },
        {
          what: `two refreshes of ${key(SHORT_LIVED)} (${expr} >= 2)`,
          timeoutMs: WAIT_MS,
          lastSeen: () => seen,
        },
      );
      const [left] = await query(
        `token_broker_credential_expiry_timestamp_seconds{${selector(SHORT_LIVED)}} - time()`,
      );
      assert.ok(
        left !== undefined && left.value <= SHORT_LIFETIME_SECONDS && left.value > 0,
        `${key(SHORT_LIVED)} expires in ${left?.value} s`,
      );
      // Renewed in time, every time: the expired alert never was pending or firing (its ALERTS history).
      assert.deepEqual(
        await query('max_over_time(ALERTS{alertname="TokenBrokerCredentialsExpired"}[1m])'),
        [],
      );
    });

    test('TokenBrokerRefreshFailing fires for the failing target only', async (t) => {
      let seen = '';
      const firing = await pollUntil(
        async () => {
          const alerts = (await prom().alerts()).filter(
            (a) => a.labels.alertname === 'TokenBrokerRefreshFailing',
          );
          seen = JSON.stringify(alerts.map((a) => ({ ...a.labels, state: a.state })));
          return alerts.some((a) => a.state === 'firing') ? alerts : undefined;
        },
        { what: 'TokenBrokerRefreshFailing firing', timeoutMs: WAIT_MS, lastSeen: () => seen },
      );
      assert.deepEqual(
        firing.map((a) => ({ key: key(a.labels), kind: a.labels.kind, state: a.state })),
        [{ key: key(FAILING), kind: 'mongo', state: 'firing' }],
      );
      // Not only now: in the whole ALERTS history no other target was ever pending or firing.
      const ever = await query(
        'group by (namespace, pod, target) (max_over_time(ALERTS{alertname="TokenBrokerRefreshFailing"}[1m]))',
      );
      assert.deepEqual(
        ever.map((s) => key(s.metric)),
        [key(FAILING)],
      );
      for (const alert of await prom().alerts()) {
        const { alertname, severity, ...labels } = alert.labels;
        t.diagnostic(`alert ${alertname} (${severity}) ${alert.state}: ${JSON.stringify(labels)}`);
      }
    });

    test('the proxied target: a session and a refused user move its proxy series, and TokenBrokerProxyLoginFailing fires for it only', async (t) => {
      assert.ok(upstream, 'the database stand-in did not start');
      const at = selector(PROXIED);
      // Before any connection every proxy series of the target is scraped at 0 (the sidecar creates
      // them at start): increase() sees the first failure, and the panels read 0, not "no data".
      const initial = await query(
        `{__name__=~"token_broker_proxy_(connections_open|connections_total|login_duration_seconds_count|login_duration_seconds_bucket)", ${at}}`,
      );
      assert.deepEqual([...new Set(initial.map((s) => s.metric.__name__))].sort(), [
        'token_broker_proxy_connections_open',
        'token_broker_proxy_connections_total',
        'token_broker_proxy_login_duration_seconds_bucket',
        'token_broker_proxy_login_duration_seconds_count',
      ]);
      assert.deepEqual(
        initial.filter((s) => s.value !== 0),
        [],
      );
      // A client holding no password: the proxy logs in with the sidecar's token over verified TLS.
      assert.equal(
        await queryThroughProxy(proxyPort, LEDGER.user, LEDGER.database, 'select current_user'),
        JSON.stringify([{ current_user: LEDGER.user }]),
      );
      // Another user: refused by the proxy itself, with the class in the message.
      await assert.rejects(
        queryThroughProxy(proxyPort, 'reporting_app', LEDGER.database, 'select 1'),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, '28000');
          assert.match(error.message, /token-broker proxy, target "ledger" \(wrong-user\)/);
          return true;
        },
      );
      assert.deepEqual(
        upstream.server.logins.map((l) => [l.user, l.database, l.accepted]),
        [[LEDGER.user, LEDGER.database, true]],
        'one IAM login reached the database; the wrong user never did',
      );

      let seen = '';
      await pollUntil(
        async () => {
          const values = {
            connections: (await query(`token_broker_proxy_connections_total{${at}}`))[0]?.value,
            logins: (await query(`token_broker_proxy_login_duration_seconds_count{${at}}`))[0]?.value,
            open: (await query(`token_broker_proxy_connections_open{${at}}`))[0]?.value,
          };
          seen = JSON.stringify(values);
          return values.connections === 2 && values.logins === 1 && values.open === 0 ? true : undefined;
        },
        { what: `the two connections of ${key(PROXIED)} scraped`, timeoutMs: WAIT_MS, lastSeen: () => seen },
      );
      const failures = await query(`token_broker_proxy_login_failures_total{${at}} > 0`);
      assert.deepEqual(
        failures.map((s) => [s.metric.reason, s.value]),
        [['wrong-user', 1]],
      );
      const bytes = await query(`token_broker_proxy_bytes_total{${at}} > 0`);
      assert.deepEqual(bytes.map((s) => s.metric.direction).sort(), ['to-client', 'to-database']);
      // Only the proxied target has proxy series at all.
      assert.deepEqual(
        (await query('group by (namespace, pod, target) (token_broker_proxy_connections_total)')).map((s) =>
          key(s.metric),
        ),
        [key(PROXIED)],
      );

      const firing = await pollUntil(
        async () => {
          const alerts = (await prom().alerts()).filter(
            (a) => a.labels.alertname === 'TokenBrokerProxyLoginFailing',
          );
          seen = JSON.stringify(alerts.map((a) => ({ ...a.labels, state: a.state })));
          return alerts.some((a) => a.state === 'firing') ? alerts : undefined;
        },
        { what: 'TokenBrokerProxyLoginFailing firing', timeoutMs: WAIT_MS, lastSeen: () => seen },
      );
      assert.deepEqual(
        firing.map((a) => ({ key: key(a.labels), reason: a.labels.reason, state: a.state })),
        [{ key: key(PROXIED), reason: 'wrong-user', state: 'firing' }],
      );
      const [loginSeconds] = await query(`token_broker_proxy_login_duration_seconds_sum{${at}}`);
      t.diagnostic(
        `proxied login through verified TLS: ${((loginSeconds?.value ?? NaN) * 1000).toFixed(1)} ms (startup to ReadyForQuery)`,
      );
    });

    test('TokenBrokerWebhookDenials fires for the denied admissions', async () => {
      let seen = '';
      await pollUntil(
        async () => {
          const samples = await query('token_broker_webhook_admissions_total');
          const counts: Record<string, number> = Object.fromEntries(
            samples.map((s) => [s.metric.outcome ?? '', s.value]),
          );
          seen = JSON.stringify(counts);
          return counts.denied === DENIED_ADMISSIONS.length && counts.injected === VALID_ADMISSIONS.length
            ? true
            : undefined;
        },
        { what: 'the admissions counted', timeoutMs: WAIT_MS, lastSeen: () => seen },
      );
      const alert = await pollUntil(
        async () => {
          const alerts = (await prom().alerts()).filter(
            (a) => a.labels.alertname === 'TokenBrokerWebhookDenials',
          );
          seen = JSON.stringify(alerts);
          return alerts.find((a) => a.state === 'firing');
        },
        { what: 'TokenBrokerWebhookDenials firing', timeoutMs: WAIT_MS, lastSeen: () => seen },
      );
      assert.equal(alert.labels.namespace, TEST_NAMESPACE);
      const errors = (await prom().alerts()).filter((a) => a.labels.alertname === 'TokenBrokerWebhookErrors');
      assert.deepEqual(errors, [], 'no admission ended in an error');
    });

    test('every dashboard panel query parses and returns series, with its variables filled in', async (t) => {
      assert.ok(
        existsSync(DASHBOARDS_DIR),
        `${DASHBOARDS_DIR} is missing: generate the dashboards with \`npm run dashboards\``,
      );
      const dashboards = await loadDashboards(DASHBOARDS_DIR);
      assert.ok(dashboards.length > 0, `no dashboard JSON in ${DASHBOARDS_DIR}`);
      // A drill-down into the failing target, one into a healthy one and one into the proxied one.
      // Each may show nothing only where that target has no series by design: no expiry or last
      // success for the failing one, no refresh failure for the healthy ones, and no proxy series for
      // the two without the proxy. The fleet's proxy panels have series from the proxied target.
      const noRefreshFailure = /token_broker_(last_failure_timestamp_seconds|refresh_failures_total)/;
      const drillDowns = [
        {
          target: FAILING,
          mayBeEmpty: [
            /token_broker_(credential_expiry|last_success)_timestamp_seconds/,
            PROXY_PANEL_OF_TARGET,
          ],
        },
        { target: ref(PODS.catalog, 'inventory'), mayBeEmpty: [noRefreshFailure, PROXY_PANEL_OF_TARGET] },
        { target: PROXIED, mayBeEmpty: [noRefreshFailure] },
      ];
      await checkVariables(
        dashboards,
        drillDowns.map((d) => d.target),
      );
      const problems = new Set<string>();
      /** Panels without target variables read the same for all: run each distinct query once. */
      const results = new Map<string, Promise<Sample[] | Error>>();
      /** Refresh error classes with a non-zero value in the target's own panels, per drill-down. */
      const reasons = drillDowns.map(() => new Set<string>());
      let queries = 0;
      for (const dashboard of dashboards) {
        const known = new Set(variableQueries(dashboard).map((v) => v.name));
        for (const panel of panelQueries(dashboard)) {
          const name = `${dashboard.title} / ${panel.panel} [${panel.refId}]`;
          for (const [i, drillDown] of drillDowns.entries()) {
            const expr = fillVariables(panel.expr, { ...BUILT_INS, ...drillDown.target }, known);
            if (!results.has(expr)) {
              queries += 1;
              results.set(
                expr,
                query(expr).catch((error: Error) => error),
              );
            }
            const samples = await results.get(expr);
            if (samples === undefined || samples instanceof Error) {
              problems.add(`${name}: ${samples?.message}`);
              continue;
            }
            if (samples.length === 0) {
              t.diagnostic(`empty for ${key(drillDown.target)}: ${name}`);
              if (!drillDown.mayBeEmpty.some((byDesign) => byDesign.test(panel.expr))) {
                problems.add(`${name}: no series for ${key(drillDown.target)} (${expr})`);
              }
            }
            // Proxy login failures carry proxy classes; the proxy's own test checks those.
            if (/\$\{?target\b/.test(panel.expr) && !/token_broker_proxy_/.test(panel.expr)) {
              for (const sample of samples) {
                const reason = sample.metric.reason;
                if (reason !== undefined && sample.value > 0) reasons[i]?.add(reason);
              }
            }
          }
        }
      }
      assert.ok(queries > 0, 'the dashboards hold no panel query');
      assert.deepEqual([...problems], []);
      assert.deepEqual(
        reasons.map((r) => [...r].sort()),
        [['access-denied'], [], []],
        "refresh error classes in the drill-down's panels: the failing target's, none for the healthy ones",
      );
      t.diagnostic(`${queries} panel queries run against Prometheus`);
    });

    /** Each query variable, chained as Grafana resolves it, lists the real value the drill-down uses. */
    async function checkVariables(
      dashboards: readonly Dashboard[],
      fillings: readonly TargetRef[],
    ): Promise<void> {
      for (const dashboard of dashboards) {
        const variables = variableQueries(dashboard);
        const known = new Set(variables.map((v) => v.name));
        for (const variable of variables) {
          for (const filling of fillings) {
            const { expr, label } = variablePromql(
              fillVariables(variable.query, { ...BUILT_INS, ...filling }, known),
            );
            const samples = await query(expr);
            const wanted: string | undefined = ({ ...filling } as Record<string, string>)[variable.name];
            if (label === undefined || wanted === undefined) {
              assert.ok(
                samples.length > 0,
                `${dashboard.title}: variable ${variable.name} lists nothing (${expr})`,
              );
              continue;
            }
            assert.ok(
              samples.some((s) => s.metric[label] === wanted),
              `${dashboard.title}: variable ${variable.name} (${expr}) does not list "${wanted}": ${JSON.stringify(samples.map((s) => s.metric[label]))}`,
            );
          }
        }
      }
    }
  },
);

describe('a machine without Prometheus', () => {
  test('fails with the command that installs it, and leaves no temp dir', async () => {
    const configYaml = prometheusConfigYaml({ intervalSeconds: 1, ruleFiles: [], jobs: [] });
    const before = await prometheusTempDirs();
    for (const commands of [
      { promtool: 'promtool-not-installed' },
      { prometheus: 'prometheus-not-installed' },
    ]) {
      await assert.rejects(
        startPrometheus({ configYaml, commands }),
        /not-installed is not on PATH: install Debian's "prometheus" package .*apt-get install -y --no-install-recommends prometheus/,
      );
    }
    assert.deepEqual(await prometheusTempDirs(), before);
  });
});

describe('reading dashboards as Grafana runs them', () => {
  const dashboard = (json: Record<string, unknown>): Dashboard => ({ file: 'x.json', title: 'X', json });

  test('variables: every Grafana form is filled; an unknown one is named', () => {
    const values = { namespace: 'payments', ...BUILT_INS };
    const cases: Array<[string, string]> = [
      ['rate(x{namespace="$namespace"}[$__rate_interval])', 'rate(x{namespace="payments"}[10s])'],
      ['x{namespace=~"${namespace}"}', 'x{namespace=~"payments"}'],
      ['x{namespace=~"${namespace:regex}"}', 'x{namespace=~"payments"}'],
      ['x{namespace="[[namespace]]"}[$__range]', 'x{namespace="payments"}[1m]'],
      ['label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'],
    ];
    for (const [expr, filled] of cases)
      assert.equal(fillVariables(expr, values, new Set(['namespace'])), filled);
    assert.throws(() => fillVariables('x{pod="$pod"}', values, new Set(['pod'])), /no value for \$pod/);
    assert.throws(() => fillVariables('x[$__unknown]', values), /no value for \$__unknown/);
  });

  test('panel queries: rows, collapsed rows and the old rows layout are walked', () => {
    const target = (expr: string) => ({ refId: 'A', expr });
    const queries = panelQueries(
      dashboard({
        panels: [
          { title: 'Top', type: 'stat', targets: [target('a')] },
          { title: 'Row', type: 'row', panels: [{ title: 'Inside', targets: [target('b')] }] },
          { title: 'Text', type: 'text' },
        ],
        rows: [{ title: 'Old', panels: [{ title: 'Legacy', targets: [target('c'), { refId: 'B' }] }] }],
      }),
    ).map((q) => `${q.panel}: ${q.expr}`);
    assert.deepEqual(queries, ['Top: a', 'Row / Inside: b', 'Old / Legacy: c']);
  });

  test('variable queries become PromQL', () => {
    assert.deepEqual(variablePromql('label_values(token_broker_ready{namespace="a"}, pod)'), {
      expr: 'group by (pod) (token_broker_ready{namespace="a"})',
      label: 'pod',
    });
    assert.deepEqual(variablePromql('label_values(namespace)'), {
      expr: 'group by (namespace) ({namespace!=""})',
      label: 'namespace',
    });
    assert.deepEqual(variablePromql('query_result(up)'), { expr: 'up' });
  });
});
