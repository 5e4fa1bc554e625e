import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ErrorClass } from '../../sidecar/src/error-class.ts';
import { startSidecar } from '../../sidecar/src/main.ts';
import { createMetrics, METRIC_PREFIX } from '../../sidecar/src/metrics.ts';
import { stsAction } from '../../sidecar/src/sts-timing.ts';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { waitFor } from './support/http-client.ts';
import { LogCapture, LOOPBACK_EPHEMERAL, testSidecarEnv } from './support/sidecar-env.ts';

const rds = rdsTarget({ name: 'invoicing-db' });
const mongo = mongoTarget({ name: 'docs' });

function exposition(defaultMetrics: boolean) {
  let ready = false;
  const m = createMetrics({
    isReady: () => ready,
    targets: () => [
      {
        target: rds,
        expiresAt: Date.UTC(2030, 0, 1, 1),
        lastSuccessAt: Date.UTC(2030, 0, 1),
        state: 'fresh' as const,
        consecutiveFailures: 0,
        lastFailureAt: undefined,
        lastErrorClass: undefined,
      },
      {
        target: mongo,
        expiresAt: undefined,
        lastSuccessAt: undefined,
        state: 'expired' as const,
        consecutiveFailures: 3,
        lastFailureAt: Date.UTC(2030, 0, 1, 0, 5),
        lastErrorClass: 'throttling' as const,
      },
    ],
    defaultMetrics,
  });
  m.initTargets([rds, mongo]);
  m.refreshAttempt(rds);
  m.refreshSuccess(rds, 120);
  m.refreshAttempt(mongo);
  m.refreshFailure(mongo, 'throttling', 80);
  m.httpRequest('/v1/token/:name', 401);
  m.httpRequest('/metrics', 200);
  m.stsRequest('AssumeRole', 'success', 40);
  m.stsRequest('AssumeRole', 'error', 2_000);
  m.stsRequest('AssumeRoleWithWebIdentity', 'success', 30);
  return { m, setReady: (r: boolean) => (ready = r) };
}

describe('metrics', { timeout: 20_000 }, () => {
  it('exposes the documented names and labels', async () => {
    const { m, setReady } = exposition(false);
    const text = await m.registry.metrics();
    for (const line of [
      '# TYPE token_broker_refresh_attempts_total counter',
      'token_broker_refresh_attempts_total{target="invoicing-db",kind="rds"} 1',
      'token_broker_refresh_attempts_total{target="docs",kind="mongo"} 1',
      'token_broker_refresh_failures_total{target="docs",kind="mongo",reason="throttling"} 1',
      // Zero from the start for every reason, so increase() sees a target's first failure.
      'token_broker_refresh_failures_total{target="invoicing-db",kind="rds",reason="access-denied"} 0',
      'token_broker_refresh_failures_total{target="docs",kind="mongo",reason="network"} 0',
      '# TYPE token_broker_refresh_duration_seconds histogram',
      'token_broker_refresh_duration_seconds_sum{target="invoicing-db",kind="rds"} 0.12',
      'token_broker_credential_expiry_timestamp_seconds{target="invoicing-db",kind="rds"} 1893459600',
      'token_broker_last_success_timestamp_seconds{target="invoicing-db",kind="rds"} 1893456000',
      'token_broker_ready 0',
      'token_broker_http_requests_total{route="/v1/token/:name",code="401"} 1',
      // Every state of every target, 1 for the current one: `sum by (state)` counts targets per state.
      '# TYPE token_broker_target_state gauge',
      'token_broker_target_state{target="invoicing-db",kind="rds",state="fresh"} 1',
      'token_broker_target_state{target="invoicing-db",kind="rds",state="failing"} 0',
      'token_broker_target_state{target="invoicing-db",kind="rds",state="expired"} 0',
      'token_broker_target_state{target="invoicing-db",kind="rds",state="pending"} 0',
      'token_broker_target_state{target="docs",kind="mongo",state="expired"} 1',
      'token_broker_target_state{target="docs",kind="mongo",state="fresh"} 0',
      '# TYPE token_broker_consecutive_failures gauge',
      'token_broker_consecutive_failures{target="invoicing-db",kind="rds"} 0',
      'token_broker_consecutive_failures{target="docs",kind="mongo"} 3',
      '# TYPE token_broker_last_failure_timestamp_seconds gauge',
      'token_broker_last_failure_timestamp_seconds{target="docs",kind="mongo",reason="throttling"} 1893456300',
      '# TYPE token_broker_sts_request_duration_seconds histogram',
      'token_broker_sts_request_duration_seconds_count{action="AssumeRole",outcome="success"} 1',
      'token_broker_sts_request_duration_seconds_sum{action="AssumeRole",outcome="success"} 0.04',
      'token_broker_sts_request_duration_seconds_bucket{le="2.5",action="AssumeRole",outcome="error"} 1',
      'token_broker_sts_request_duration_seconds_bucket{le="1",action="AssumeRole",outcome="error"} 0',
      'token_broker_sts_request_duration_seconds_count{action="AssumeRoleWithWebIdentity",outcome="success"} 1',
    ]) {
      assert.ok(text.includes(line), `missing: ${line}\n${text}`);
    }
    assert.ok(
      !text.includes('credential_expiry_timestamp_seconds{target="docs"'),
      'no expiry series without a value',
    );
    assert.ok(
      !text.includes('last_failure_timestamp_seconds{target="invoicing-db"'),
      'no last-failure series for a target that never failed',
    );
    setReady(true);
    assert.ok((await m.registry.metrics()).includes('token_broker_ready 1'));
  });

  it('only the allowed label names appear; ours carry the prefix, defaults keep standard names', async () => {
    const { m } = exposition(true);
    const text = await m.registry.metrics();
    const allowed = new Set([
      'target',
      'kind',
      'reason',
      'route',
      'code',
      'state',
      'action',
      'outcome',
      'le',
      'quantile',
    ]);
    const ours = text.split('\n').filter((l) => l.startsWith(METRIC_PREFIX));
    for (const line of ours) {
      for (const [, label] of line.matchAll(/[{,]([a-z_]+)="/g))
        assert.ok(allowed.has(label!), `${label} in ${line}`);
    }
    assert.ok(ours.length > 0);
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
      assert.match(line, /^(token_broker_|process_|nodejs_)/);
    assert.ok(text.includes('process_resident_memory_bytes'));
  });

  it('exports the measured clock skew, and NaN (not 0) before it is measured', async () => {
    const targets = () => [];
    let skew: number | undefined;
    const m = createMetrics({
      isReady: () => true,
      targets,
      clockSkewSeconds: () => skew,
      defaultMetrics: false,
    });
    assert.match(await m.registry.metrics(), /^token_broker_clock_skew_seconds NaN$/im);
    skew = 7200.4;
    assert.match(await m.registry.metrics(), /^token_broker_clock_skew_seconds 7200$/m);
    skew = -600;
    assert.match(await m.registry.metrics(), /^token_broker_clock_skew_seconds -600$/m);
  });

  it('keeps one last-failure series per target, labelled with the class of the latest failure', async () => {
    let last: ErrorClass = 'throttling';
    const m = createMetrics({
      isReady: () => false,
      targets: () => [
        {
          target: rds,
          expiresAt: undefined,
          lastSuccessAt: undefined,
          state: 'expired',
          consecutiveFailures: 2,
          lastFailureAt: Date.UTC(2030, 0, 1),
          lastErrorClass: last,
        },
      ],
      defaultMetrics: false,
    });
    const series = async () =>
      (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('token_broker_last_failure_'));
    assert.deepEqual(await series(), [
      'token_broker_last_failure_timestamp_seconds{target="invoicing-db",kind="rds",reason="throttling"} 1893456000',
    ]);
    last = 'access-denied';
    assert.deepEqual(await series(), [
      'token_broker_last_failure_timestamp_seconds{target="invoicing-db",kind="rds",reason="access-denied"} 1893456000',
    ]);
  });

  it('names STS actions after the SDK command, anything unknown as other', () => {
    assert.equal(stsAction('AssumeRoleCommand'), 'AssumeRole');
    assert.equal(stsAction('AssumeRoleWithWebIdentityCommand'), 'AssumeRoleWithWebIdentity');
    assert.equal(stsAction('GetCallerIdentityCommand'), 'GetCallerIdentity');
    assert.equal(stsAction('DecodeAuthorizationMessageCommand'), 'other');
    assert.equal(stsAction(undefined), 'other');
  });

  it('passes promtool check metrics (Prometheus naming lint)', async () => {
    const which = spawnSync('promtool', ['--version']);
    assert.ok(!which.error, 'promtool is missing: apt-get install prometheus (bash .ci/run does)');
    const { m } = exposition(false);
    const r = spawnSync('promtool', ['check', 'metrics'], {
      input: await m.registry.metrics(),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});

/** The value of one exposition line, e.g. `name{a="b"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics of a real sidecar against the STS emulator', { timeout: 30_000 }, () => {
  it('times every STS request per action and outcome, and exports state, failures and last error of a denied target', async () => {
    const podRole = 'arn:aws:iam::111122223333:role/invoicing-pod';
    const dbRole = 'arn:aws:iam::111122223333:role/invoicing-db-connect';
    const denied = rdsTarget({ name: 'invoicing-db', roleArn: dbRole });
    const healthy = mongoTarget({ name: 'docs' });
    const sts = await startStsEmulator({
      region: 'eu-west-1',
      roles: { [podRole]: {}, [dbRole]: { trust: [podRole] } },
    });
    const t = await testSidecarEnv([denied, healthy]);
    try {
      const tokenFile = join(t.dir, 'irsa-token');
      await writeFile(
        tokenFile,
        makeWebIdentityToken({
          subject: 'system:serviceaccount:billing:invoicing',
          expiresAt: Date.now() + 86_400_000,
        }),
      );
      // The target role refuses every AssumeRole; the pod identity itself works.
      sts.failNext('access-denied', 1_000, { action: 'AssumeRole' });
      const sc = await startSidecar(t.options(), t.env, {
        identity: {
          stsEndpoint: sts.url,
          webIdentityTokenFile: tokenFile,
          roleArn: podRole,
          requestTimeoutMs: 2_000,
        },
        listen: LOOPBACK_EPHEMERAL,
        handleSignals: false,
        logDestination: new LogCapture(),
        defaultMetrics: false,
      });
      const dbFailures = 'token_broker_consecutive_failures{target="invoicing-db",kind="rds"}';
      try {
        await waitFor(async () => {
          const text = await sc.metrics.registry.metrics();
          return (sample(text, dbFailures) ?? 0) >= 1 && sc.refreshers.get('docs')?.isFresh();
        }, 'a failed AssumeRole and a fresh mongo target');
      } finally {
        await sc.stop('test');
        await Promise.all([...sc.refreshers.values()].map((r) => r.settled()));
      }
      const text = await sc.metrics.registry.metrics();
      const count = (action: string, outcome: string) =>
        sample(
          text,
          `token_broker_sts_request_duration_seconds_count{action="${action}",outcome="${outcome}"}`,
        ) ?? 0;
      const calls = (action: string, ok: boolean) =>
        sts.calls.filter((c) => c.action === action && (c.outcome === 'ok') === ok).length;
      assert.ok(calls('AssumeRole', false) >= 1, 'the emulator refused AssumeRole');
      assert.equal(
        count('AssumeRole', 'error'),
        calls('AssumeRole', false),
        'every refused AssumeRole timed',
      );
      assert.equal(count('AssumeRole', 'success'), 0);
      assert.ok(calls('AssumeRoleWithWebIdentity', true) >= 1);
      assert.equal(
        count('AssumeRoleWithWebIdentity', 'success'),
        calls('AssumeRoleWithWebIdentity', true),
        'the web identity calls the SDK provider makes are timed too',
      );
      assert.equal(
        sample(text, 'token_broker_target_state{target="invoicing-db",kind="rds",state="expired"}'),
        1,
      );
      assert.equal(
        sample(text, 'token_broker_target_state{target="invoicing-db",kind="rds",state="fresh"}'),
        0,
      );
      assert.equal(sample(text, 'token_broker_target_state{target="docs",kind="mongo",state="fresh"}'), 1);
      assert.equal(sample(text, dbFailures), sc.refreshers.get('invoicing-db')?.status().consecutiveFailures);
      assert.equal(sample(text, 'token_broker_consecutive_failures{target="docs",kind="mongo"}'), 0);
      assert.match(
        text,
        /^token_broker_last_failure_timestamp_seconds\{target="invoicing-db",kind="rds",reason="access-denied"\} \d+$/m,
      );
      assert.doesNotMatch(text, /last_failure_timestamp_seconds\{target="docs"/);
    } finally {
      await sts.close();
      await t.cleanup();
    }
  });
});
