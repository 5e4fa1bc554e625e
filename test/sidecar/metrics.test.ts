import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createMetrics, METRIC_PREFIX } from '../../sidecar/src/metrics.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';

const rds = rdsTarget({ name: 'invoicing-db' });
const mongo = mongoTarget({ name: 'docs' });

function exposition(defaultMetrics: boolean) {
  let ready = false;
  const m = createMetrics({
    isReady: () => ready,
    targets: () => [
      { target: rds, expiresAt: Date.UTC(2030, 0, 1, 1), lastSuccessAt: Date.UTC(2030, 0, 1) },
      { target: mongo, expiresAt: undefined, lastSuccessAt: undefined },
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
    ]) {
      assert.ok(text.includes(line), `missing: ${line}\n${text}`);
    }
    assert.ok(
      !text.includes('credential_expiry_timestamp_seconds{target="docs"'),
      'no expiry series without a value',
    );
    setReady(true);
    assert.ok((await m.registry.metrics()).includes('token_broker_ready 1'));
  });

  it('only the allowed label names appear; ours carry the prefix, defaults keep standard names', async () => {
    const { m } = exposition(true);
    const text = await m.registry.metrics();
    const allowed = new Set(['target', 'kind', 'reason', 'route', 'code', 'le', 'quantile']);
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
