/**
 * The proxy as the sidecar runs it from its config: the target's `proxy` starts a listener on
 * 127.0.0.1, logins use the refresher's token of the moment, /metrics shows the proxy's series, and
 * SIGTERM drains open connections up to the deadline.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import type { RdsTarget } from '../../../contract/sidecar-config.ts';
import { startSidecar, type RunningSidecar, type SidecarDeps } from '../../../sidecar/src/main.ts';
import type { RdsValue } from '../../../sidecar/src/rds-token.ts';
import { PgWireServer } from '../../emulators/pg-wire-server.ts';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { FakeCredentialSource, fakeRdsSigner } from '../../fakes/fake-credentials.ts';
import { rdsTarget } from '../../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from '../support/http-client.ts';
import { LogCapture, LOOPBACK_EPHEMERAL, testSidecarEnv } from '../support/sidecar-env.ts';
import { makeServerCertificate } from './support/certs.ts';
import { sample } from './support/proxy-harness.ts';

const TIMEOUT = { timeout: 20_000 };
const USER = 'orders_app';

interface Running {
  sc: RunningSidecar;
  db: PgWireServer;
  clock: FakeClock;
  logs: LogCapture;
  source: FakeCredentialSource;
  dir: string;
  client(): pg.Client;
  token(): string | undefined;
  /** Moves the sidecar's clock without firing its timers (a VM resumed from a pause). */
  jump(ms: number): void;
}

async function start(
  tc: TestContext,
  proxyDeps: SidecarDeps['proxy'] = {},
  marginSeconds = 120,
): Promise<Running> {
  const certs = await makeServerCertificate(['DNS:localhost']);
  tc.after(() => certs.cleanup());
  const ref: { sc?: RunningSidecar } = {};
  const token = () => (ref.sc?.refreshers.get('orders')?.current() as RdsValue | undefined)?.token;
  // The database takes exactly the token the sidecar holds now, as RDS takes a valid signature.
  const db = new PgWireServer({
    cert: certs.cert,
    key: certs.key,
    verifyPassword: (user, password) => user === USER && password === token(),
  });
  const dbPort = await db.listen();
  tc.after(() => db.close());
  const target: RdsTarget = rdsTarget({
    name: 'orders',
    host: 'localhost',
    port: dbPort,
    user: USER,
    database: 'orders',
    proxy: { port: 16432, caFile: certs.caFile },
  });
  const t = await testSidecarEnv([target], marginSeconds);
  tc.after(() => t.cleanup());
  const clock = new FakeClock(Date.now());
  let jumped = 0;
  const timers = {
    now: () => clock.now() + jumped,
    setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms),
    clearTimeout: (handle: unknown) => clock.clearTimeout(handle),
  };
  const source = new FakeCredentialSource(() => timers.now(), 3600_000, 'ORDR');
  const logs = new LogCapture();
  const sc = await startSidecar(t.options(), t.env, {
    timers,
    random: () => 0.5,
    signer: fakeRdsSigner([], () => timers.now()),
    credentialFetcher: () => source.fetch,
    listen: LOOPBACK_EPHEMERAL,
    handleSignals: false,
    logDestination: logs,
    defaultMetrics: false,
    proxy: { ports: { orders: 0 }, ...proxyDeps },
  });
  ref.sc = sc;
  const running = sc;
  tc.after(() => running.stop('test ended'));
  await clock.advance(0);
  await waitFor(() => token(), 'the first token');
  const clients: pg.Client[] = [];
  tc.after(() => Promise.all(clients.map((c) => c.end().catch(() => undefined))));
  return {
    sc,
    db,
    clock,
    logs,
    source,
    dir: t.dir,
    token,
    jump: (ms) => (jumped += ms),
    client: () => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: running.proxyPorts.get('orders'),
        user: USER,
        database: 'orders',
      });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
  };
}

describe('the sidecar runs the PostgreSQL proxy of a target with proxy in its config', () => {
  it('logs in with the published token; no token or key reaches the log', TIMEOUT, async (tc) => {
    const r = await start(tc);
    assert.ok(r.sc.proxyPorts.get('orders'));
    const client = r.client();
    await client.connect();
    assert.equal(
      (await client.query<{ current_user: string }>('select current_user')).rows[0]?.current_user,
      USER,
    );
    const published = await readFile(join(r.dir, 'orders.token'), 'utf8');
    assert.equal(r.db.logins[0]?.password, published);
    await client.end();
    const text = r.logs.text;
    assert.ok(text.includes('PostgreSQL proxy of target \\"orders\\" listening on 127.0.0.1:'));
    assert.ok(!text.includes(published), 'the token is in the log');
    assert.ok(!text.includes('X-Amz-Signature='), 'a signature is in the log');
    for (const c of r.source.issued) {
      assert.ok(
        !text.includes(c.secretAccessKey) && !text.includes(c.sessionToken ?? ''),
        'a secret is in the log',
      );
    }
  });

  it('a new connection after a token rotation logs in with the new token', TIMEOUT, async (tc) => {
    const r = await start(tc);
    const first = r.client();
    await first.connect();
    const before = r.token();
    // Past the re-sign point (expiry - margin, with jitter): the refresher signs a new token.
    await r.clock.advance(13 * 60_000);
    await waitFor(() => r.token() !== before && r.token(), 'a re-signed token');
    const second = r.client();
    await second.connect();
    assert.equal((await first.query<{ '?column?': string }>('select 1')).rows[0]?.['?column?'], '1');
    assert.equal(r.db.logins.length, 2);
    assert.notEqual(r.db.logins[0]?.password, r.db.logins[1]?.password);
    assert.equal(r.db.logins[1]?.password, r.token());
  });

  it('signs a token on demand when the held one is about to expire', TIMEOUT, async (tc) => {
    const r = await start(tc);
    const held = r.token();
    // The held token is 15 s from its expiry and the refresher's timer has not fired yet.
    r.jump(14 * 60_000 + 45_000);
    const client = r.client();
    await client.connect();
    assert.notEqual(r.db.logins[0]?.password, held);
    assert.equal(r.db.logins[0]?.password, r.token());
    assert.equal(r.source.issued.length, 1, 're-signed from the cached credentials');
  });

  it('asks no more of a held token than the refresh margin keeps', TIMEOUT, async (tc) => {
    const r = await start(tc, {}, 5);
    const held = r.token();
    // 20 s left: under the proxy's own 30 s, over the 5 s margin the refresher works to.
    r.jump(15 * 60_000 - 20_000);
    const client = r.client();
    await client.connect();
    assert.equal(r.db.logins[0]?.password, held);
  });

  it('exposes the proxy metrics on the sidecar /metrics', TIMEOUT, async (tc) => {
    const r = await start(tc);
    const client = r.client();
    await client.connect();
    await client.query('select 1');
    const text = (await httpRequest({ port: r.sc.ports.metrics }, 'GET', '/metrics')).body;
    assert.equal(sample(text, 'token_broker_proxy_connections_total{target="orders"}'), 1);
    assert.equal(sample(text, 'token_broker_proxy_connections_open{target="orders"}'), 1);
    assert.equal(
      sample(text, 'token_broker_proxy_login_failures_total{target="orders",reason="no-token"}'),
      0,
    );
    assert.equal(sample(text, 'token_broker_proxy_login_duration_seconds_count{target="orders"}'), 1);
  });

  it('on SIGTERM stops accepting and lets an open connection finish its work', TIMEOUT, async (tc) => {
    const r = await start(tc, { drainMs: 10_000 });
    const port = r.sc.proxyPorts.get('orders') as number;
    const client = r.client();
    await client.connect();
    const stopped = r.sc.stop('SIGTERM');
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED');
    assert.equal((await client.query<{ '?column?': string }>('select 7')).rows[0]?.['?column?'], '7');
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(done, false, 'the sidecar stopped under an open connection');
    await client.end();
    assert.equal(await stopped, 0);
  });

  it('closes a connection still open at the drain deadline', TIMEOUT, async (tc) => {
    const r = await start(tc, { drainMs: 200 });
    const client = r.client();
    await client.connect();
    const ended = new Promise((resolve) => client.once('end', resolve));
    assert.equal(await r.sc.stop('SIGTERM'), 0);
    await ended;
    assert.ok(r.logs.text.includes('at the drain deadline'));
  });
});
