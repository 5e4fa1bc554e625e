/** The PostgreSQL stand-in behaves as the proxy's tests assume, checked with node-postgres directly. */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { makeServerCertificate } from './pg-certificates.ts';
import { PgWireServer } from './pg-wire-server.ts';

async function start(tc: TestContext): Promise<{ db: PgWireServer; config: pg.ClientConfig }> {
  const certs = await makeServerCertificate(['DNS:localhost']);
  tc.after(() => certs.cleanup());
  const db = new PgWireServer({
    cert: certs.cert,
    key: certs.key,
    verifyPassword: (user, password) => user === 'app' && password === 'right',
  });
  const port = await db.listen();
  tc.after(() => db.close());
  return {
    db,
    config: { host: 'localhost', port, user: 'app', database: 'appdb', ssl: { ca: certs.ca } },
  };
}

async function connectError(config: pg.ClientConfig): Promise<string | undefined> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('PgWireServer', () => {
  it('takes a verified TLS login with the right password and answers queries', async (tc) => {
    const { db, config } = await start(tc);
    const client = new pg.Client({ ...config, password: 'right' });
    await client.connect();
    const user = await client.query<{ current_user: string }>('select current_user');
    const database = await client.query<{ current_database: string }>('select current_database()');
    await client.end();
    assert.equal(user.rows[0]?.current_user, 'app');
    assert.equal(database.rows[0]?.current_database, 'appdb');
    assert.deepEqual(
      db.logins.map((l) => [l.user, l.database, l.accepted]),
      [['app', 'appdb', true]],
    );
  });

  it('refuses a plain startup (hostssl) and a wrong password', async (tc) => {
    const { db, config } = await start(tc);
    assert.equal(await connectError({ ...config, ssl: false, password: 'right' }), '28000');
    assert.equal(await connectError({ ...config, password: 'wrong' }), '28P01');
    assert.deepEqual(db.firstPackets, ['startup-plain', 'ssl']);
  });

  it('cancels the running query of the backend the key names', async (tc) => {
    const { db, config } = await start(tc);
    const client = new pg.Client({ ...config, password: 'right' });
    await client.connect();
    tc.after(() => client.end());
    const sleeping = client.query('select pg_sleep(30)').then(
      () => 'finished',
      (e: unknown) => (e as { code?: string }).code,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const internals = client as unknown as { processID: number; activeQuery: unknown };
    const canceller = new pg.Client(config) as unknown as { cancel(c: unknown, q: unknown): void };
    canceller.cancel(client, internals.activeQuery);
    assert.equal(await sleeping, '57014');
    // node-postgres sends its CancelRequest without TLS; the server takes either.
    assert.deepEqual(db.cancels, [{ processId: internals.processID, matched: true, overTls: false }]);
  });
});
