/**
 * The proxy against a TLS PostgreSQL stand-in, driven by a real client (node-postgres) with no
 * password and no token code.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import pg from 'pg';
import { MessageFramer, PROTOCOL_3_0, serializeStartup } from '../../../sidecar/src/pg-proxy/protocol.ts';
import { waitFor } from '../support/http-client.ts';
import { DATABASE, sample, startHarness, tokenLike, USER } from './support/proxy-harness.ts';

const TIMEOUT = { timeout: 20_000 };

/** A pg error's SQLSTATE, message and hint. */
function pgError(error: unknown): { code?: string; message: string; hint?: string } {
  const e = error as { code?: string; message: string; hint?: string };
  return { code: e.code, message: e.message, hint: e.hint };
}

describe('PostgreSQL proxy session', () => {
  it(
    'logs a passwordless client in as the target user over verified TLS and relays queries',
    TIMEOUT,
    async (tc) => {
      const h = await startHarness(tc);
      const client = h.client();
      await client.connect();
      const user = await client.query<{ current_user: string }>('select current_user');
      assert.equal(user.rows[0]?.current_user, USER);
      const db = await client.query<{ current_database: string }>('select current_database()');
      assert.equal(db.rows[0]?.current_database, DATABASE);
      await client.end();
      // The stand-in only takes a startup after an SSLRequest: the upstream leg was TLS.
      assert.deepEqual(h.db.firstPackets, ['ssl']);
      assert.equal(h.db.logins.length, 1);
      assert.equal(h.db.logins[0]?.password, h.tokens.accepted);
      assert.equal(h.db.logins[0]?.params.application_name, undefined);
    },
  );

  it('passes the client database and parameters and answers SSLRequest with N', TIMEOUT, async (tc) => {
    const h = await startHarness(tc);
    // sslmode=prefer: the client asks for TLS first, hears N, and goes on in the clear on loopback.
    const socket = connect({ host: '127.0.0.1', port: h.proxy.port });
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80877103, 4);
    socket.write(ssl);
    const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    assert.equal(answer.toString('latin1'), 'N');
    socket.destroy();

    const client = h.client({ database: 'reports', application_name: 'billing-job' });
    await client.connect();
    await client.end();
    assert.equal(h.db.logins[0]?.database, 'reports');
    assert.equal(h.db.logins[0]?.params.application_name, 'billing-job');
    assert.equal(h.db.logins[0]?.user, USER);
  });

  it('passes NegotiateProtocolVersion from before the login on to the client', TIMEOUT, async (tc) => {
    const h = await startHarness(tc, { db: { negotiate: true } });
    const socket = connect({ host: '127.0.0.1', port: h.proxy.port });
    tc.after(() => socket.destroy());
    const framer = new MessageFramer();
    const types: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        for (let m = framer.nextMessage(); m; m = framer.nextMessage()) {
          types.push(m.type);
          if (m.type === 'Z' || m.type === 'E') resolve();
        }
      });
      socket.on('close', () => reject(new Error(`closed after ${types.join(',')}`)));
    });
    const params = new Map([
      ['user', USER],
      ['database', DATABASE],
      ['_pq_.future_option', 'on'],
    ]);
    socket.write(serializeStartup(PROTOCOL_3_0 | 2, params));
    await done;
    assert.deepEqual(types.slice(0, 2), ['v', 'R']);
    assert.equal(types.at(-1), 'Z');
    assert.equal(h.db.logins[0]?.params['_pq_.future_option'], 'on');
  });

  it(
    'refuses another user with ErrorResponse 28000 naming the fix, before touching the database',
    TIMEOUT,
    async (tc) => {
      const h = await startHarness(tc);
      const client = h.client({ user: 'postgres' });
      const error = await client.connect().then(
        () => assert.fail('connected as another user'),
        (e: unknown) => pgError(e),
      );
      assert.equal(error.code, '28000');
      assert.match(error.message, /user "postgres" cannot log in through this proxy/);
      assert.match(error.message, /orders_app/);
      assert.match(error.hint ?? '', /connect as the target's user/);
      assert.equal(h.db.firstPackets.length, 0, 'the database was contacted');
      assert.equal(h.tokenRequests, 0);
      const metrics = await h.metricsText();
      assert.equal(
        sample(metrics, 'token_broker_proxy_login_failures_total{target="orders",reason="wrong-user"}'),
        1,
      );
    },
  );

  it('refuses a database certificate issued for another host', TIMEOUT, async (tc) => {
    const h = await startHarness(tc, { certNames: ['DNS:db.other.example'] });
    const error = await h
      .client()
      .connect()
      .then(
        () => assert.fail('connected to a database with the wrong certificate'),
        (e: unknown) => pgError(e),
      );
    assert.equal(error.code, '08001');
    assert.match(error.message, /upstream-tls/);
    assert.match(error.hint ?? '', /CA bundle/);
    assert.equal(h.db.logins.length, 0, 'a token was sent to an unverified server');
    assert.equal(h.tokenRequests, 0);
  });

  it('names the CA bundle it cannot read', TIMEOUT, async (tc) => {
    const h = await startHarness(tc, { caFile: '/nonexistent/rds-ca/global-bundle.pem' });
    const error = await h
      .client()
      .connect()
      .then(
        () => assert.fail('connected without a CA bundle'),
        (e: unknown) => pgError(e),
      );
    assert.equal(error.code, '08001');
    assert.match(error.message, /cannot read the CA bundle \/nonexistent\/rds-ca\/global-bundle\.pem/);
    assert.match(error.hint ?? '', /rds-ca-configmap/);
    assert.equal(h.db.firstPackets.length, 0);
  });

  it('answers an unreachable database with an ErrorResponse, not a hung socket', TIMEOUT, async (tc) => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const h = await startHarness(tc, { upstreamPort: deadPort });
    const error = await h
      .client()
      .connect()
      .then(
        () => assert.fail('connected to nothing'),
        (e: unknown) => pgError(e),
      );
    assert.equal(error.code, '08001');
    assert.match(error.message, /upstream-unreachable/);
    assert.match(error.message, /ECONNREFUSED/);
    const metrics = await h.metricsText();
    assert.equal(
      sample(
        metrics,
        'token_broker_proxy_login_failures_total{target="orders",reason="upstream-unreachable"}',
      ),
      1,
    );
  });

  it('answers a database that never speaks with a timeout ErrorResponse', TIMEOUT, async (tc) => {
    const silent = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    tc.after(() => {
      silent.close();
    });
    const h = await startHarness(tc, {
      upstreamPort: (silent.address() as AddressInfo).port,
      timeouts: { loginMs: 300 },
    });
    const error = await h
      .client()
      .connect()
      .then(
        () => assert.fail('connected to a silent server'),
        (e: unknown) => pgError(e),
      );
    assert.equal(error.code, '08001');
    assert.match(error.message, /upstream-timeout/);
  });

  it(
    'answers a token that never comes with a timeout ErrorResponse at the login deadline',
    TIMEOUT,
    async (tc) => {
      const h = await startHarness(tc, {
        token: () => new Promise<string>(() => undefined),
        timeouts: { loginMs: 300 },
      });
      const error = await h
        .client()
        .connect()
        .then(
          () => assert.fail('logged in without a token'),
          (e: unknown) => pgError(e),
        );
      assert.equal(error.code, '08001');
      assert.match(error.message, /upstream-timeout/);
      assert.equal(h.db.logins.length, 0);
    },
  );

  it('passes the database refusal of the token on as 28P01 with the IAM fix', TIMEOUT, async (tc) => {
    const h = await startHarness(tc);
    h.tokens.served = tokenLike('stale');
    const error = await h
      .client()
      .connect()
      .then(
        () => assert.fail('logged in with a refused token'),
        (e: unknown) => pgError(e),
      );
    assert.equal(error.code, '28P01');
    assert.match(error.message, /upstream-auth/);
    assert.match(error.hint ?? '', /rds_iam/);
    assert.doesNotMatch(error.message, /Signature|stale/);
    // The refused token is in no log line either.
    assert.match(h.logs.text, /upstream-auth/);
    assert.ok(!h.logs.text.includes(tokenLike('stale')), 'the token is in the log');
    assert.doesNotMatch(h.logs.text, /X-Amz-Signature/);
  });

  it('refuses bytes a server sends after its S, before TLS (CVE-2021-23214)', TIMEOUT, async (tc) => {
    const injecting = createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.write('SX'));
    });
    await new Promise<void>((resolve) => injecting.listen(0, '127.0.0.1', resolve));
    tc.after(() => {
      injecting.close();
    });
    const h = await startHarness(tc, { upstreamPort: (injecting.address() as AddressInfo).port });
    const error = await h
      .client()
      .connect()
      .then(
        () => assert.fail('connected through an injecting server'),
        (e: unknown) => pgError(e),
      );
    assert.equal(error.code, '08P01');
    assert.match(error.message, /upstream-protocol/);
    assert.equal(h.tokenRequests, 0);
  });

  it('refuses a client that pipelines its startup behind the SSLRequest', TIMEOUT, async (tc) => {
    const h = await startHarness(tc);
    const socket = connect({ host: '127.0.0.1', port: h.proxy.port });
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80877103, 4);
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(Buffer.concat([ssl, Buffer.from([0, 0, 0, 9, 0, 3, 0, 0, 0])]));
    await closed;
    const answer = Buffer.concat(received);
    assert.equal(answer.toString('latin1', 0, 1), 'E');
    assert.match(answer.toString('utf8'), /client-protocol/);
    assert.equal(h.db.firstPackets.length, 0);
  });

  it(
    'uses the token of the moment: a connection after a rotation logs in with the new one',
    TIMEOUT,
    async (tc) => {
      const h = await startHarness(tc);
      const first = h.client();
      await first.connect();
      h.tokens.accepted = tokenLike('second');
      h.tokens.served = tokenLike('second');
      const second = h.client();
      await second.connect();
      // The session opened before the rotation keeps working.
      assert.equal((await first.query<{ '?column?': string }>('select 1')).rows[0]?.['?column?'], '1');
      assert.deepEqual(
        h.db.logins.map((l) => l.password),
        [tokenLike('first'), tokenLike('second')],
      );
      assert.equal(h.tokenRequests, 2);
    },
  );

  it('sends a CancelRequest to the backend of the session it names, over TLS', TIMEOUT, async (tc) => {
    const h = await startHarness(tc);
    const busy = h.client();
    const bystander = h.client();
    await busy.connect();
    await bystander.connect();
    const sleeping = busy.query('select pg_sleep(30)').then(
      () => 'finished',
      (e: unknown) => pgError(e).code,
    );
    const bystanderSleep = bystander.query('select pg_sleep(0.5)').then(
      () => 'finished',
      (e: unknown) => pgError(e).code,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    // node-postgres cancels over a new connection with the BackendKeyData it was given.
    const internals = busy as unknown as { activeQuery: unknown; processID: number };
    const canceller = new pg.Client({ host: '127.0.0.1', port: h.proxy.port, user: USER }) as unknown as {
      cancel(client: unknown, query: unknown): void;
    };
    canceller.cancel(busy, internals.activeQuery);
    assert.equal(await sleeping, '57014');
    assert.equal(await bystanderSleep, 'finished');
    assert.equal(h.db.cancels.length, 1);
    assert.equal(h.db.cancels[0]?.matched, true);
    assert.equal(h.db.cancels[0]?.overTls, true);
    // The client only ever saw the proxy's key pair, not the backend's.
    assert.notEqual(internals.processID, h.db.cancels[0]?.processId);
  });

  it('counts connections, bytes and login time', TIMEOUT, async (tc) => {
    const h = await startHarness(tc);
    const client = h.client();
    await client.connect();
    await client.query('select 42');
    let metrics = await h.metricsText();
    assert.equal(sample(metrics, 'token_broker_proxy_connections_open{target="orders"}'), 1);
    assert.equal(sample(metrics, 'token_broker_proxy_connections_total{target="orders"}'), 1);
    assert.equal(sample(metrics, 'token_broker_proxy_login_duration_seconds_count{target="orders"}'), 1);
    assert.ok(
      (sample(metrics, 'token_broker_proxy_bytes_total{target="orders",direction="to-database"}') ?? 0) > 0,
    );
    assert.ok(
      (sample(metrics, 'token_broker_proxy_bytes_total{target="orders",direction="to-client"}') ?? 0) > 0,
    );
    await client.end();
    await waitFor(
      async () => sample(await h.metricsText(), 'token_broker_proxy_connections_open{target="orders"}') === 0,
      'closed',
    );
    metrics = await h.metricsText();
    assert.equal(
      sample(metrics, 'token_broker_proxy_login_failures_total{target="orders",reason="upstream-auth"}'),
      0,
    );
  });
});
