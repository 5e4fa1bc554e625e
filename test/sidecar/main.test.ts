import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { MongoTarget, RdsTarget, Target } from '../../contract/sidecar-config.ts';
import { nodeFileOps, type FileOps } from '../../sidecar/src/files.ts';
import { runOnce, runSidecar, startSidecar, type RunningSidecar } from '../../sidecar/src/main.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { FAKE_ERRORS, FakeCredentialSource, fakeRdsSigner } from '../fakes/fake-credentials.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from './support/http-client.ts';
import { hasIpv6Loopback } from './support/ipv6.ts';
import { LogCapture, LOOPBACK_EPHEMERAL, testSidecarEnv } from './support/sidecar-env.ts';
import { lookupPgpass } from './support/libpq-pgpass.ts';

const pg = rdsTarget({ name: 'invoicing-db' });
const docs = mongoTarget({ name: 'docs', options: { retryWrites: 'true' } });

/** Tests that await a process-like exit fail fast instead of hanging when it never comes. */
const TIMEOUT = { timeout: 10_000 };

/**
 * Runs `promise` to the end, moving the fake clock only to the next pending timer (retries wait on
 * it); while none is pending, real I/O (files, servers) is given real time instead.
 */
async function driveClock<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  while (!settled) {
    const next = clock.nextTimerAt();
    if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
    else await clock.advance(Math.max(0, next - clock.now()));
  }
  return watched;
}

/** Stops the sidecars when the test ends, also when it timed out before its own cleanup. */
function stopAtEnd(tc: TestContext, ...sidecars: RunningSidecar[]): void {
  tc.after(async () => {
    await Promise.all(sidecars.map((sc) => sc.stop('test ended')));
  });
}

async function quitThroughApi(logs: LogCapture, dir: string): Promise<void> {
  const started = logs.lines().find((l) => l.msg === 'token-broker sidecar started');
  const port = (started?.ports as { api?: number } | undefined)?.api;
  if (port === undefined) return;
  const auth = await readFile(join(dir, 'auth-token'), 'utf8');
  await httpRequest({ port }, 'POST', '/quitquitquit', { Authorization: auth }).catch(() => undefined);
}

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
      signer: fakeRdsSigner([], () => clock.now()),
      credentialFetcher: (t: Target) => sources.get(t.name)!.fetch,
      listen: LOOPBACK_EPHEMERAL,
      handleSignals: false,
    },
  };
}

describe('startSidecar', () => {
  it('serves health, readiness, files, status and metrics; stop() exits 0', TIMEOUT, async (tc) => {
    const t = await testSidecarEnv([pg, docs]);
    const clock = new FakeClock(Date.now());
    const { sources, deps } = fakes(clock, [pg, docs]);
    sources.get('docs')!.failNext(FAKE_ERRORS.throttling);
    const logs = new LogCapture();
    const sc = await startSidecar(t.options(), t.env, { ...deps, logDestination: logs });
    stopAtEnd(tc, sc);
    try {
      const health = { port: sc.ports.health };
      assert.equal((await httpRequest(health, 'GET', '/healthz')).status, 200);
      // docs failed once: not ready until its retry
      await clock.advance(0);
      await waitFor(() => sc.refreshers.get('invoicing-db')!.current(), 'first token');
      const notReady = await httpRequest(health, 'GET', '/readyz');
      assert.equal(notReady.status, 503);
      assert.deepEqual((JSON.parse(notReady.body) as { notReady: string[] }).notReady, ['docs']);
      // random 0.5: half of the throttling backoff's first ceiling (8 s)
      await clock.advance(4_000);
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

  it('POST /quitquitquit stops the sidecar with exit code 0 and files stay in place', TIMEOUT, async (tc) => {
    const t = await testSidecarEnv([pg]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [pg]);
    const sc = await startSidecar(t.options(), t.env, { ...deps, logDestination: new LogCapture() });
    stopAtEnd(tc, sc);
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

  it(
    'health and metrics listen dual stack by default: kubelet reaches them over IPv4 and IPv6',
    TIMEOUT,
    async (tc) => {
      const t = await testSidecarEnv([docs]);
      const clock = new FakeClock(Date.now());
      const { deps } = fakes(clock, [docs]);
      const logs = new LogCapture();
      const listen = { apiHost: '127.0.0.1', apiPort: 0, healthPort: 0, metricsPort: 0 };
      const sc = await startSidecar(t.options(), t.env, { ...deps, listen, logDestination: logs });
      stopAtEnd(tc, sc);
      try {
        const started = logs.lines().find((l) => l.msg === 'token-broker sidecar started');
        const ipv6 = await hasIpv6Loopback();
        assert.equal(started?.publicHost, ipv6 ? '::' : '0.0.0.0');
        const hosts = ipv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
        if (!ipv6) tc.diagnostic('no IPv6 on this host: only the fallback to 0.0.0.0 was checked');
        for (const host of hosts) {
          const health = await httpRequest({ port: sc.ports.health, host }, 'GET', '/readyz');
          assert.equal(health.status, 503, `/readyz over ${host} (not ready yet: the clock has not moved)`);
          const metrics = await httpRequest({ port: sc.ports.metrics, host }, 'GET', '/metrics');
          assert.equal(metrics.status, 200, `/metrics over ${host}`);
        }
        // The credentials API stays on IPv4 loopback only.
        await assert.rejects(httpRequest({ port: sc.ports.api, host: '::1' }, 'GET', '/v1/status'));
      } finally {
        await sc.stop('test');
        await t.cleanup();
      }
    },
  );

  it('runSidecar resolves 0 on SIGTERM', TIMEOUT, async (tc) => {
    const t = await testSidecarEnv([docs]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [docs]);
    const logs = new LogCapture();
    let exited = false;
    const exit = runSidecar([], t.env, { ...deps, handleSignals: true, logDestination: logs }).finally(
      () => (exited = true),
    );
    tc.after(async () => {
      // Without a SIGTERM handler the sidecar runs on: stop it through its API so the file can end.
      if (!exited) await quitThroughApi(logs, t.dir);
      await t.cleanup();
    });
    await waitFor(() => logs.text.includes('sidecar started'), 'start');
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await exit, 0);
    assert.ok(logs.text.includes('"reason":"SIGTERM"'));
  });
});

describe('restart in place (native sidecar, the emptyDir survives)', () => {
  const reports = rdsTarget({
    name: 'reports-db',
    host: 'rep.cluster-x.eu-west-1.rds.amazonaws.com',
    database: 'reports',
    user: 'reports_app',
  });
  const FILE_NAMES = [
    'pgpass',
    'invoicing-db.token',
    'reports-db.token',
    'docs.credentials.json',
    'docs.uri',
    'auth-token',
  ];

  async function snapshot(dir: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of FILE_NAMES) {
      const st = await stat(join(dir, f));
      out.set(f, `${st.ino}:${st.mtimeMs}:${await readFile(join(dir, f), 'utf8')}`);
    }
    return out;
  }

  it(
    'keeps every still-valid file served, ready and in pgpass while STS fails; a refresh keeps the other lines',
    TIMEOUT,
    async (tc) => {
      const t = await testSidecarEnv([pg, reports, docs]);
      const clock1 = new FakeClock(Date.now());
      const run1 = fakes(clock1, [pg, reports, docs]);
      const first = await startSidecar(t.options(), t.env, {
        ...run1.deps,
        logDestination: new LogCapture(),
      });
      stopAtEnd(tc, first);
      await clock1.advance(0);
      await waitFor(() => [...first.refreshers.values()].every((r) => r.current()), 'first values');
      await first.stop('test');
      const before = await snapshot(t.dir);
      const pgpassBefore = await readFile(join(t.dir, 'pgpass'), 'utf8');
      const invoicingToken = await readFile(join(t.dir, 'invoicing-db.token'), 'utf8');
      const reportsToken = await readFile(join(t.dir, 'reports-db.token'), 'utf8');
      assert.equal(pgpassBefore.trim().split('\n').length, 2);

      // The container restarts 40 s later; STS fails for every target at that moment.
      const clock2 = new FakeClock(clock1.now() + 40_000);
      const run2 = fakes(clock2, [pg, reports, docs]);
      run2.sources.get('invoicing-db')!.failAlways(FAKE_ERRORS.throttling);
      run2.sources.get('docs')!.failAlways(FAKE_ERRORS.throttling);
      run2.sources.get('reports-db')!.failNext(FAKE_ERRORS.throttling);
      const logs = new LogCapture();
      const second = await startSidecar(t.options(), t.env, { ...run2.deps, logDestination: logs });
      stopAtEnd(tc, second);
      try {
        await clock2.advance(0);
        await waitFor(
          () => [...second.refreshers.values()].every((r) => r.status().consecutiveFailures === 1),
          'first attempts failed',
        );
        assert.deepEqual(await snapshot(t.dir), before, 'files untouched');
        assert.equal((await httpRequest({ port: second.ports.health }, 'GET', '/readyz')).status, 200);
        const auth = { Authorization: second.authToken };
        const api = { port: second.ports.api };
        const token = await httpRequest(api, 'GET', '/v1/token/invoicing-db', auth);
        assert.equal(token.status, 200);
        assert.equal(token.body, invoicingToken);
        const creds = await httpRequest(api, 'GET', '/v1/credentials/docs', auth);
        assert.equal(creds.status, 200);
        assert.equal(
          (JSON.parse(creds.body) as { AccessKeyId: string }).AccessKeyId,
          run1.sources.get('docs')!.issued[0]!.accessKeyId,
        );
        assert.ok(logs.text.includes('serving still-valid credentials from a previous run'));

        // reports-db recovers first: pgpass gets its new line and keeps invoicing-db's old one.
        await clock2.advance(4_000);
        await waitFor(() => second.refreshers.get('reports-db')!.status().lastSuccessAt, 'reports refreshed');
        const pgpass = await readFile(join(t.dir, 'pgpass'), 'utf8');
        const lookup = (target: RdsTarget) =>
          lookupPgpass(pgpass, target.host, String(target.port), target.database, target.user);
        assert.equal(lookup(pg), invoicingToken, 'the line of the target not yet refreshed stays');
        const newReports = await readFile(join(t.dir, 'reports-db.token'), 'utf8');
        assert.notEqual(newReports, reportsToken);
        assert.equal(lookup(reports), newReports);
      } finally {
        await second.stop('test');
        await t.cleanup();
      }
    },
  );

  it('ignores files it cannot trust: expired, for another target, or unreadable', TIMEOUT, async (tc) => {
    const t = await testSidecarEnv([pg, docs]);
    const clock1 = new FakeClock(Date.now());
    const run1 = fakes(clock1, [pg, docs]);
    assert.equal(
      await runOnce(t.options(['--once']), t.env, { ...run1.deps, logDestination: new LogCapture() }),
      0,
    );
    // 16 minutes later the token has expired; the credentials are damaged.
    await writeFile(join(t.dir, 'docs.credentials.json'), '{"AccessKeyId":"ASIA","SecretAccessKey":"x"}');
    const clock2 = new FakeClock(clock1.now() + 16 * 60_000);
    const run2 = fakes(clock2, [pg, docs]);
    for (const s of run2.sources.values()) s.failAlways(FAKE_ERRORS.throttling);
    const logs = new LogCapture();
    const sc = await startSidecar(t.options(), t.env, { ...run2.deps, logDestination: logs });
    stopAtEnd(tc, sc);
    try {
      await clock2.advance(0);
      assert.equal(sc.refreshers.get('invoicing-db')!.current(), undefined);
      assert.equal(sc.refreshers.get('docs')!.current(), undefined);
      assert.equal((await httpRequest({ port: sc.ports.health }, 'GET', '/readyz')).status, 503);
      const skipped = logs.lines().filter((l) => l.reason !== undefined);
      assert.deepEqual(
        skipped.map((l) => [l.target, l.reason]),
        [
          ['invoicing-db', 'expired'],
          ['docs', 'unrecognized'],
        ],
      );
    } finally {
      await sc.stop('test');
      await t.cleanup();
    }
  });
});

describe('--once', () => {
  it('writes every target and exits 0', TIMEOUT, async () => {
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

  it('retries a target throttled at pod start with backoff, then exits 0', TIMEOUT, async () => {
    const t = await testSidecarEnv([pg, docs]);
    const clock = new FakeClock(Date.now());
    const { sources, deps } = fakes(clock, [pg, docs]);
    sources.get('docs')!.failNext(FAKE_ERRORS.throttling, 3);
    const logs = new LogCapture();
    const start = clock.now();
    const code = await driveClock(clock, runSidecar(['--once'], t.env, { ...deps, logDestination: logs }));
    assert.equal(code, 0, logs.text);
    const calls = sources.get('docs')!.calls.map((c) => c - start);
    assert.equal(calls.length, 4, 'three failures, then success');
    // random 0.5: half of the throttling backoff's full-jitter ceiling 8 s, 16 s, then its 20 s cap
    assert.deepEqual(calls, [0, 4_000, 12_000, 22_000]);
    assert.equal(sources.get('invoicing-db')!.calls.length, 1, 'a written target is not fetched again');
    assert.equal(clock.pendingTimers(), 0, 'no timer left');
    await stat(join(t.dir, 'docs.credentials.json'));
    await t.cleanup();
  });

  it(
    'gives up at the deadline: exits 1 naming the target, its error class, the attempts and the fix',
    TIMEOUT,
    async () => {
      const t = await testSidecarEnv([pg, docs]);
      const clock = new FakeClock(Date.now());
      const { sources, deps } = fakes(clock, [pg, docs]);
      sources.get('docs')!.failAlways(FAKE_ERRORS.accessDenied);
      const logs = new LogCapture();
      const start = clock.now();
      const code = await driveClock(clock, runSidecar(['--once'], t.env, { ...deps, logDestination: logs }));
      assert.equal(code, 1);
      const calls = sources.get('docs')!.calls.map((c) => c - start);
      assert.ok(calls.length >= 5, `retried (${calls.length} attempts)`);
      assert.ok(
        calls.every((c) => c <= 60_000),
        'no attempt after the 60 s default deadline',
      );
      assert.equal(clock.pendingTimers(), 0, 'no retry left scheduled');
      const line = logs.lines().find((l) => String(l.msg).includes('no credentials for target "docs"'));
      assert.ok(line, logs.text);
      assert.equal(line.errorClass, 'access-denied');
      assert.equal(line.attempts, calls.length);
      assert.match(String(line.msg), new RegExp(`after ${calls.length} attempt\\(s\\) in 60 s`));
      assert.match(String(line.msg), /trust policy/);
      assert.ok((await readFile(join(t.dir, 'pgpass'), 'utf8')).length > 0, 'the other target was written');
      await t.cleanup();
    },
  );

  it('--once-timeout 0 (or TOKEN_BROKER_ONCE_TIMEOUT=0) makes a single attempt', TIMEOUT, async () => {
    for (const [argv, extraEnv] of [
      [['--once', '--once-timeout', '0'], {}],
      [['--once'], { TOKEN_BROKER_ONCE_TIMEOUT: '0' }],
    ] as const) {
      const t = await testSidecarEnv([docs]);
      const clock = new FakeClock(Date.now());
      const { sources, deps } = fakes(clock, [docs]);
      sources.get('docs')!.failNext(FAKE_ERRORS.throttling);
      const run = runSidecar(argv, { ...t.env, ...extraEnv }, { ...deps, logDestination: new LogCapture() });
      assert.equal(await driveClock(clock, run), 1);
      assert.equal(sources.get('docs')!.calls.length, 1);
      await t.cleanup();
    }
  });

  it('warns that reserved Mongo URI options are ignored', TIMEOUT, async () => {
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

  it('bad options exit 2 with the variable and the fix', TIMEOUT, async () => {
    const logs = new LogCapture();
    assert.equal(await runSidecar(['--once'], {}, { logDestination: logs }), 2);
    assert.match(logs.text, /TOKEN_BROKER_CONFIG is not set/);
  });
});

describe('faults around the loop', () => {
  const never = () => new Promise<never>(() => undefined);

  it('--once exits by its deadline when a credential fetch never settles', TIMEOUT, async () => {
    const t = await testSidecarEnv([pg, docs]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [pg, docs]);
    const logs = new LogCapture();
    const start = clock.now();
    let hung = 0;
    const run = runSidecar(['--once'], t.env, {
      ...deps,
      credentialFetcher: (target) =>
        target.name === 'docs' ? () => (hung++, never()) : deps.credentialFetcher(target),
      deadlineTimers: clock,
      logDestination: logs,
    });
    // Real file I/O first (start, pg's files); then only fake time matters.
    await waitFor(() => hung > 0, 'docs fetch');
    await waitFor(() => stat(join(t.dir, 'pgpass')).catch(() => undefined), 'pg written');
    const code = await driveClock(clock, run);
    assert.equal(code, 1);
    assert.ok(clock.now() - start <= 60_000 + 30_000, `exited after ${(clock.now() - start) / 1000} s`);
    assert.ok(hung >= 2, 'the hung fetch was given up and retried');
    const line = logs.lines().find((l) => String(l.msg).includes('no credentials for target "docs"'));
    assert.equal(line?.errorClass, 'timeout', logs.text);
    await t.cleanup();
  });

  it('--once exits by its deadline when the volume hangs before any refresh', TIMEOUT, async () => {
    const t = await testSidecarEnv([docs]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [docs]);
    const hung: FileOps = { ...nodeFileOps, open: never };
    const logs = new LogCapture();
    const start = clock.now();
    const code = await driveClock(
      clock,
      runSidecar(['--once'], t.env, { ...deps, fileOps: hung, deadlineTimers: clock, logDestination: logs }),
    );
    assert.equal(code, 1);
    assert.ok(clock.now() - start <= 60_000 + 30_000);
    const fatal = logs.lines().find((l) => l.level === 'fatal');
    assert.match(String(fatal?.msg), /gave up after 90 s .* while starting/);
    assert.deepEqual(fatal?.pending, []);
    await t.cleanup();
  });

  it('stop() returns even when a file write never settles', TIMEOUT, async (tc) => {
    const t = await testSidecarEnv([docs]);
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [docs]);
    const hang = { on: false };
    const ops: FileOps = { ...nodeFileOps, open: (...a) => (hang.on ? never() : nodeFileOps.open(...a)) };
    const sc = await startSidecar(t.options(), t.env, {
      ...deps,
      fileOps: ops,
      deadlineTimers: clock,
      logDestination: new LogCapture(),
    });
    // Its deadlines run on the fake clock: stopping needs the clock driven, also after a failure.
    tc.after(() => driveClock(clock, sc.stop('test ended')));
    await clock.advance(0);
    await waitFor(() => sc.refreshers.get('docs')!.current(), 'first value');
    hang.on = true;
    // The refresh at 39 min (random 0.5) writes new credentials: that write hangs.
    await clock.advance(39 * 60_000 + 11_000);
    await waitFor(() => sc.refreshers.get('docs')!.status().consecutiveFailures > 0, 'the write timed out');
    const stopped = sc.stop('test');
    await driveClock(clock, stopped);
    assert.equal(await stopped, 0);
    await t.cleanup();
  });

  it('removes temp files a crash left between write and rename, and only those', TIMEOUT, async () => {
    const t = await testSidecarEnv([docs]);
    const stale = ['.docs.uri.1.1.tmp', '.pgpass.0a1b2c3d4e5f.7.tmp', '.auth-token.42.3.tmp'];
    const kept = ['.docs.uri.tmp', 'notes.tmp', 'docs.uri.1.1.tmp'];
    for (const f of [...stale, ...kept]) await writeFile(join(t.dir, f), 'x'.repeat(1024));
    const clock = new FakeClock(Date.now());
    const { deps } = fakes(clock, [docs]);
    const logs = new LogCapture();
    assert.equal(await runOnce(t.options(['--once']), t.env, { ...deps, logDestination: logs }), 0);
    const left = await readdir(t.dir);
    for (const f of stale) assert.ok(!left.includes(f), `${f} removed`);
    for (const f of kept) assert.ok(left.includes(f), `${f} kept (not of our naming)`);
    assert.ok(logs.lines().some((l) => l.removed === stale.length));
    assert.deepEqual(
      left.filter((f) => f.endsWith('.tmp')).sort(),
      [...kept].filter((f) => f.endsWith('.tmp')).sort(),
      'this run left none of its own',
    );
    await t.cleanup();
  });
});
