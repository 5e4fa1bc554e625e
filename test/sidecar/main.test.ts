import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MongoTarget, RdsTarget, Target } from '../../contract/sidecar-config.ts';
import { runOnce, runSidecar, startSidecar } from '../../sidecar/src/main.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { FAKE_ERRORS, FakeCredentialSource, fakeRdsSigner } from '../fakes/fake-credentials.ts';
import { httpRequest, waitFor } from './support/http-client.ts';
import { LogCapture, LOOPBACK_EPHEMERAL, testSidecarEnv } from './support/sidecar-env.ts';
import { lookupPgpass } from './support/libpq-pgpass.ts';

const pg: RdsTarget = {
  kind: 'rds',
  name: 'invoicing-db',
  region: 'eu-west-1',
  engine: 'postgres',
  host: 'inv.cluster-x.eu-west-1.rds.amazonaws.com',
  port: 5432,
  database: 'invoicing',
  user: 'invoicing_app',
};
const docs: MongoTarget = {
  kind: 'mongo',
  name: 'docs',
  region: 'eu-west-1',
  scheme: 'mongodb+srv',
  hosts: ['c0.example.mongodb.net'],
  database: 'docs',
  options: { retryWrites: 'true' },
};

function fakes(clock: FakeClock, targets: Target[]) {
  const sources = new Map(
    targets.map((t) => [
      t.name,
      new FakeCredentialSource(() => clock.now(), 3600_000, t.name.slice(0, 4).toUpperCase()),
    ]),
  );
  return {
    sources,
    deps: {
      timers: clock,
      random: () => 0.5,
      signer: fakeRdsSigner(),
      credentialFetcher: (t: Target) => sources.get(t.name)!.fetch,
      listen: LOOPBACK_EPHEMERAL,
      handleSignals: false,
    },
  };
}

describe('startSidecar', () => {
  it('serves health, readiness, files, status and metrics; stop() exits 0', async () => {
    const t = await testSidecarEnv([pg, docs]);
    const clock = new FakeClock(Date.now());
    const { sources, deps } = fakes(clock, [pg, docs]);
    sources.get('docs')!.failNext(FAKE_ERRORS.throttling);
    const logs = new LogCapture();
    const sc = await startSidecar(t.options(), t.env, { ...deps, logDestination: logs });
    try {
      const health = { port: sc.ports.health };
      assert.equal((await httpRequest(health, 'GET', '/healthz')).status, 200);
      // docs failed once: not ready until its retry
      await clock.advance(0);
      await waitFor(() => sc.refreshers.get('invoicing-db')!.current(), 'first token');
      const notReady = await httpRequest(health, 'GET', '/readyz');
      assert.equal(notReady.status, 503);
      assert.deepEqual((JSON.parse(notReady.body) as { notReady: string[] }).notReady, ['docs']);
      await clock.advance(2_000);
      await waitFor(async () => (await httpRequest(health, 'GET', '/readyz')).status === 200, 'ready');

      const token = await readFile(join(t.dir, 'invoicing-db.token'), 'utf8');
      assert.match(token, /^inv\.cluster-x\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect/);
      assert.equal(
        lookupPgpass(
          await readFile(join(t.dir, 'pgpass'), 'utf8'),
          pg.host,
          '5432',
          'invoicing',
          'invoicing_app',
        ),
        token,
      );
      assert.equal((await stat(join(t.dir, 'pgpass'))).mode & 0o777, 0o600);
      assert.ok((await readFile(join(t.dir, 'docs.uri'), 'utf8')).startsWith('mongodb+srv://'));
      assert.equal(await readFile(join(t.dir, 'auth-token'), 'utf8'), sc.authToken);

      const api = await httpRequest({ socketPath: sc.socketPath }, 'GET', '/v1/token/invoicing-db', {
        Authorization: sc.authToken,
      });
      assert.equal(api.body, token);

      const status = JSON.parse((await httpRequest({ port: sc.ports.api }, 'GET', '/v1/status')).body) as {
        targets: { name: string; lastErrorClass: string | null }[];
      };
      assert.equal(status.targets.find((x) => x.name === 'docs')?.lastErrorClass, 'throttling');

      const metrics = await httpRequest({ port: sc.ports.metrics }, 'GET', '/metrics');
      assert.equal(metrics.status, 200);
      for (const name of [
        'token_broker_refresh_attempts_total{target="invoicing-db",kind="rds"}',
        'token_broker_refresh_failures_total{target="docs",kind="mongo",reason="throttling"} 1',
        'token_broker_refresh_duration_seconds_bucket',
        'token_broker_credential_expiry_timestamp_seconds{target="docs",kind="mongo"}',
        'token_broker_last_success_timestamp_seconds{target="invoicing-db",kind="rds"}',
        'token_broker_ready 1',
        'token_broker_http_requests_total{route="/readyz",code="503"}',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
      ]) {
        assert.ok(metrics.body.includes(name), `metrics lack ${name}`);
      }
      assert.equal(
        (await httpRequest({ port: sc.ports.metrics }, 'GET', '/v1/status')).status,
        404,
        'only /metrics on the metrics port',
      );
      assert.equal((await httpRequest(health, 'GET', '/metrics')).status, 404);

      assert.ok(logs.lines().some((l) => l.errorClass === 'throttling' && typeof l.hint === 'string'));
    } finally {
      assert.equal(await sc.stop('test'), 0);
      assert.equal(await sc.done, 0);
      await t.cleanup();
    }
    // Servers are closed.
    await assert.rejects(httpRequest({ port: sc.ports.health }, 'GET', '/healthz'));
  });

  it('POST /quitquitquit stops the sidecar with exit code 0 and files stay in place', async () => {
    const t = await testSidecarEnv([pg]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [pg]);
    const sc = await startSidecar(t.options(), t.env, { ...deps, logDestination: new LogCapture() });
    await clock.advance(0);
    await waitFor(() => sc.refreshers.get('invoicing-db')!.current(), 'token');
    await waitFor(() => stat(join(t.dir, 'invoicing-db.token')).catch(() => undefined), 'file');
    const r = await httpRequest({ port: sc.ports.api }, 'POST', '/quitquitquit', {
      Authorization: sc.authToken,
    });
    assert.equal(r.status, 200);
    assert.equal(await sc.done, 0);
    assert.equal(clock.pendingTimers(), 0, 'timers stopped');
    await stat(join(t.dir, 'invoicing-db.token'));
    await t.cleanup();
  });

  it('runSidecar resolves 0 on SIGTERM', async () => {
    const t = await testSidecarEnv([docs]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [docs]);
    const logs = new LogCapture();
    const exit = runSidecar([], t.env, { ...deps, handleSignals: true, logDestination: logs });
    await waitFor(() => logs.text.includes('sidecar started'), 'start');
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await exit, 0);
    assert.ok(logs.text.includes('"reason":"SIGTERM"'));
    await t.cleanup();
  });
});

describe('--once', () => {
  it('writes every target and exits 0', async () => {
    const t = await testSidecarEnv([pg, docs]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [pg, docs]);
    assert.equal(
      await runOnce(t.options(['--once']), t.env, { ...deps, logDestination: new LogCapture() }),
      0,
    );
    for (const f of ['invoicing-db.token', 'pgpass', 'docs.credentials.json', 'docs.uri', 'auth-token']) {
      assert.equal((await stat(join(t.dir, f))).mode & 0o777, 0o600, f);
    }
    assert.equal(clock.pendingTimers(), 0);
    await t.cleanup();
  });

  it('exits non-zero naming the failed target, its error class and the usual fix', async () => {
    const t = await testSidecarEnv([pg, docs]);
    const clock = new FakeClock(Date.now());
    const { sources, deps } = fakes(clock, [pg, docs]);
    sources.get('docs')!.failNext(FAKE_ERRORS.accessDenied);
    const logs = new LogCapture();
    assert.equal(await runSidecar(['--once'], t.env, { ...deps, logDestination: logs }), 1);
    const line = logs.lines().find((l) => String(l.msg).includes('no credentials for target "docs"'));
    assert.ok(line, logs.text);
    assert.equal(line.errorClass, 'access-denied');
    assert.match(String(line.msg), /trust policy/);
    await t.cleanup();
  });

  it('warns that reserved Mongo URI options are ignored', async () => {
    const withAuth: MongoTarget = { ...docs, options: { authSource: 'admin', tls: 'true' } };
    const t = await testSidecarEnv([withAuth]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [withAuth]);
    const logs = new LogCapture();
    assert.equal(await runOnce(t.options(['--once']), t.env, { ...deps, logDestination: logs }), 0);
    assert.ok(logs.lines().some((l) => l.level === 'warn' && l.option === 'authSource'));
    assert.ok(!logs.text.includes('"option":"tls"'));
    assert.match(
      await readFile(join(t.dir, 'docs.uri'), 'utf8'),
      /authSource=%24external&authMechanism=MONGODB-AWS/,
    );
    await t.cleanup();
  });

  it('bad options exit 2 with the variable and the fix', async () => {
    const logs = new LogCapture();
    assert.equal(await runSidecar(['--once'], {}, { logDestination: logs }), 2);
    assert.match(logs.text, /TOKEN_BROKER_CONFIG is not set/);
  });
});
