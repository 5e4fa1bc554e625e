// The sidecar's PostgreSQL proxy with real parts. A pod annotated with `proxy=<port>` targets and the RDS
// CA ConfigMap goes through the webhook's core; its sidecar runs as its own process with exactly the
// injected args and env (IRSA at the STS emulator, credentials living 10 s so tokens rotate every 5-7 s);
// a real PostgreSQL with TLS takes logins only through the RDS-like IAM check (hostssl ... ldap), and the
// proxy's upstream leg verifies its certificate against the CA from the ConfigMap. The clients use only
// the injected app env and hold no password and no token code: psql, a node-postgres Pool without
// `password`, and HikariCP with the PostgreSQL JDBC driver (Debian's jars, test/e2e/support/hikari/).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { FILES } from '../../contract/sidecar-config.ts';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import type { StsEmulator } from '../emulators/sts-emulator.ts';
import { startLdapIamVerifier } from './support/ldap-iam-verifier.ts';
import type { LdapIamVerifier } from './support/ldap-iam-verifier.ts';
import { LOOPBACK, freePort } from './support/net.ts';
import { PoolCheckError, startPoolCheck } from './support/pg-hikari.ts';
import type { PoolCheckSummary } from './support/pg-hikari.ts';
import { startProxiedPod } from './support/pg-proxy-pod.ts';
import type { ProxiedPod } from './support/pg-proxy-pod.ts';
import { parseMetrics } from './support/sidecar-process.ts';
import { startPostgres } from './support/postgres.ts';
import type { PostgresServer } from './support/postgres.ts';

const run = promisify(execFile);
const REGION = 'eu-west-1';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/invoicing-pod';
/** The database's name in the target, in its certificate and in the tokens; resolves to 127.0.0.1. */
const DB_HOST = 'localhost';
const USER = 'invoicingdbuser';
const OTHER_USER = 'reportingdbuser';
const DATABASE = 'invoicing';
const TARGET = 'invoicing';
/** A second proxied target whose database port has nothing listening. */
const DOWN_TARGET = 'archive';
/**
 * Every credential the emulator issues lives 10 s and the refresh margin is 3 s (the whole-chain test's
 * 12 s / 3 s): the sidecar renews at 5-7 s, so tokens rotate that often and each old token's
 * credentials run out 3-5 s later. The proxy uses a held token only while it has more than the refresh
 * margin left, else it signs one at once.
 */
const CREDENTIAL_LIFETIME_SECONDS = 10;
const REFRESH_MARGIN_SECONDS = 3;
const ROTATIONS = 3;
/** Generous: three rotations take about 20 s. */
const ROTATION_DEADLINE_MS = 45_000;
const HIKARI_POOL_SIZE = 3;
const NODE_POOL_SIZE = 3;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The access key id an RDS token was signed with. */
function tokenKeyId(token: string): string {
  const credential = new URLSearchParams(token.slice(token.indexOf('?') + 1)).get('X-Amz-Credential');
  const keyId = credential?.split('/')[0];
  assert.ok(keyId, 'the token carries no X-Amz-Credential');
  return keyId;
}

/** Sum of the samples of metric `name` whose labels include every one of `labels`. */
function metricSum(samples: Map<string, number>, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const [key, value] of samples) {
    if (!key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([label, want]) => key.includes(`${label}="${want}"`))) sum += value;
  }
  return sum;
}

/** Settles with the promise, or rejects naming `what` if nothing came back in `ms`: a hang is a failure. */
async function withinOrHang<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (a hung socket)`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

void describe('PostgreSQL proxy in the sidecar: psql, pg.Pool and HikariCP with no password, across token rotations', () => {
  let dir: string;
  let sts: StsEmulator;
  let verifier: LdapIamVerifier;
  let server: PostgresServer;
  let pod: ProxiedPod;

  /** The injected app env: all the clients below are given. */
  const appVar = (name: string): string => {
    const value = pod.appEnv[name];
    assert.ok(value, `the injected app env has no ${name}`);
    return value;
  };
  const proxyUrl = (): string => appVar('TOKEN_BROKER_INVOICING_PROXY_URL');
  const jdbcUrl = (): string => appVar('TOKEN_BROKER_INVOICING_JDBC_URL');
  const proxyPort = (target: 'INVOICING' | 'ARCHIVE'): number =>
    Number(appVar(`TOKEN_BROKER_${target}_PROXY_PORT`));
  /** node-postgres through the proxy: no password option, and none in the environment either. */
  const proxyClientConfig = (port = proxyPort('INVOICING'), user = USER): pg.ClientConfig => ({
    host: appVar('TOKEN_BROKER_INVOICING_PROXY_HOST'),
    port,
    user,
    database: DATABASE,
  });

  /** Real psql with no password source at all: PGPASSWORD unset, a pgpass file that does not exist, -w. */
  const psql = async (sql: string): Promise<string> => {
    const { stdout } = await run(server.psql, ['-X', '-A', '-t', '-w', '-d', proxyUrl(), '-c', sql], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LC_ALL: 'C',
        PGPASSFILE: join(dir, 'no-pgpass-here'),
      },
    });
    return stdout.trim();
  };

  /** Runs a test body; on failure, adds the sidecar's log (it never holds a token) to the error. */
  const withSidecarLog = async (body: () => Promise<void>): Promise<void> => {
    try {
      await body();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${message}\n--- sidecar log, last 4000 characters ---\n${pod.sidecar.output().slice(-4000)}`,
        {
          cause: error,
        },
      );
    }
  };

  const proxyMetrics = async (): Promise<Map<string, number>> => {
    const reply = await pod.sidecar.get('tb-metrics', '/metrics');
    assert.equal(reply.status, 200);
    return parseMetrics(reply.body);
  };

  const publishedKeyId = async (): Promise<string> =>
    tokenKeyId(await readFile(join(pod.brokerDir, FILES.rdsToken(TARGET)), 'utf8'));

  /** Waits until the sidecar publishes a token signed with credentials other than `current`'s. */
  const nextGeneration = async (current: string, deadline: number): Promise<string> => {
    for (;;) {
      const keyId = await publishedKeyId().catch(() => current); // mid-rename: try again
      if (keyId !== current) return keyId;
      if (Date.now() > deadline)
        throw new Error(`no token rotation by the deadline:\n${pod.sidecar.output()}`);
      await sleep(100);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-e2e-pgproxy-test-'));
    // node-postgres falls back to PGPASSWORD: the clients here must have no password from anywhere.
    delete process.env.PGPASSWORD;
    sts = await startStsEmulator({ region: REGION, credentialLifetimeSeconds: CREDENTIAL_LIFETIME_SECONDS });
    const port = await freePort();
    verifier = await startLdapIamVerifier({
      endpoint: { host: DB_HOST, port },
      region: REGION,
      lookup: sts.lookup,
    });
    server = await startPostgres({
      ldapPort: verifier.port,
      port,
      tls: { subjectAltNames: [`DNS:${DB_HOST}`] },
      logins: [
        { user: USER, database: DATABASE },
        { user: OTHER_USER, database: 'reporting' },
      ],
    });
    assert.ok(server.caFile, 'the server runs without TLS');
    const proxyPorts = new Set<number>();
    while (proxyPorts.size < 2) proxyPorts.add(await freePort());
    const [invoicingProxy, archiveProxy] = [...proxyPorts];
    // As a user writes it: the proxy on for both targets (the archive database is down), the CA ConfigMap.
    pod = await startProxiedPod({
      dir,
      namespace: 'billing',
      roleArn: ROLE_ARN,
      region: REGION,
      stsUrl: sts.url,
      caFile: server.caFile,
      annotations: {
        [`token-broker.io/rds-${TARGET}`]: `postgres://${USER}@${DB_HOST}:${port}/${DATABASE}?region=${REGION}&proxy=${String(invoicingProxy)}`,
        [`token-broker.io/rds-${DOWN_TARGET}`]: `postgres://${USER}@${DB_HOST}:${await freePort()}/${DATABASE}?region=${REGION}&proxy=${String(archiveProxy)}`,
        'token-broker.io/rds-ca-configmap': 'rds-ca',
        'token-broker.io/refresh-margin': `${REFRESH_MARGIN_SECONDS}s`,
      },
    });
  });

  after(async () => {
    await pod?.sidecar.terminate();
    await server?.stop();
    await verifier?.close();
    await sts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  void test('the webhook gives the app the proxy URLs with no password, and the RDS CA to the sidecar only', () => {
    const port = proxyPort('INVOICING');
    assert.equal(appVar('TOKEN_BROKER_INVOICING_PROXY_HOST'), LOOPBACK);
    assert.equal(proxyUrl(), `postgresql://${USER}@${LOOPBACK}:${port}/${DATABASE}?sslmode=disable`);
    assert.equal(jdbcUrl(), `jdbc:postgresql://${LOOPBACK}:${port}/${DATABASE}?user=${USER}&sslmode=disable`);
    const caVolume = pod.pod.spec.volumes?.find(
      (v) => (v.configMap as { name?: string } | undefined)?.name === 'rds-ca',
    );
    assert.ok(caVolume, 'no volume of the rds-ca ConfigMap');
    const mounts = (container: string) =>
      [...(pod.pod.spec.initContainers ?? []), ...pod.pod.spec.containers]
        .find((c) => c.name === container)
        ?.volumeMounts?.filter((m) => m.name === caVolume.name) ?? [];
    assert.equal(mounts('token-broker').length, 1);
    assert.deepEqual(mounts('app'), []);
  });

  void test('the HikariCP harness counts failures: straight to the database with no password, every connection fails', async () => {
    // Without the proxy, the pool the proxy serves below cannot log in at all; and the harness sees that.
    const direct = `jdbc:postgresql://${DB_HOST}:${server.port}/${DATABASE}?user=${USER}&sslmode=verify-full&sslrootcert=${server.caFile ?? ''}`;
    const before = verifier.decisions.length;
    await assert.rejects(startPoolCheck({ jdbcUrl: direct, poolSize: 1 }), (error: unknown) => {
      assert.ok(error instanceof PoolCheckError, String(error));
      const failed = error.events.filter((e) => e.event === 'failed');
      assert.ok(failed.length >= 1, `no failed connection counted: ${JSON.stringify(error.events)}`);
      assert.equal(error.events.filter((e) => e.event === 'opened').length, 0);
      return true;
    });
    assert.equal(verifier.decisions.length, before, 'a login without a password reached the token check');
  });

  let longClient: pg.Client | undefined;
  let longClientPid = 0;
  let longClientKeyId = '';
  const longClientEvents: string[] = [];
  let generations: string[] = [];

  void test(`psql, pg.Pool and HikariCP log in through the proxy across ${ROTATIONS} credential rotations, opening new connections after each, with no failed connection`, async (t) =>
    withSidecarLog(async () => {
      const decisionsBefore = verifier.decisions.length;
      const connectionsBefore = metricSum(await proxyMetrics(), 'token_broker_proxy_connections_total', {
        target: TARGET,
      });
      generations = [await publishedKeyId()];

      // A transaction held open through every rotation (checked by the next test).
      longClient = new pg.Client(proxyClientConfig());
      longClient.on('error', (error) => longClientEvents.push(`error: ${error.message}`));
      longClient.on('end', () => longClientEvents.push('end'));
      await longClient.connect();
      await longClient.query('BEGIN');
      await longClient.query('CREATE TEMP TABLE held (n int) ON COMMIT DROP');
      await longClient.query('INSERT INTO held VALUES (1)');
      longClientPid =
        (await longClient.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0;
      longClientKeyId = verifier.decisions.at(-1)?.accessKeyId ?? '';

      const hikari = await startPoolCheck({ jdbcUrl: jdbcUrl(), poolSize: HIKARI_POOL_SIZE });
      // The README's node-postgres snippet: the injected URL, no password.
      const pool = new pg.Pool({ connectionString: proxyUrl(), max: NODE_POOL_SIZE });
      let poolConnections = 0;
      pool.on('connect', () => (poolConnections += 1));
      const poolErrors: string[] = [];
      pool.on('error', (error) => poolErrors.push(error.message));
      const psqlResults: Array<{ ok: boolean; detail: string }> = [];
      let hikariSummary: PoolCheckSummary | undefined;

      /** New connections in every client, now. */
      const exercise = async (): Promise<void> => {
        const psqlRun = psql('select current_user').then(
          (out) => psqlResults.push({ ok: out === USER, detail: out }),
          (error: Error & { stderr?: string }) =>
            psqlResults.push({ ok: false, detail: error.stderr ?? error.message }),
        );
        // Check out every slot at once, query, and destroy: the next round opens new connections.
        const poolRound = (async () => {
          const clients = await Promise.all(Array.from({ length: NODE_POOL_SIZE }, () => pool.connect()));
          for (const client of clients) {
            try {
              const result = await client.query<{ current_user: string }>('select current_user');
              assert.equal(result.rows[0]?.current_user, USER);
            } finally {
              client.release(true);
            }
          }
        })().catch((error: Error) => poolErrors.push(error.message));
        await Promise.all([psqlRun, poolRound, hikari.evictAndRefill()]);
      };

      try {
        await exercise();
        const deadline = Date.now() + ROTATION_DEADLINE_MS;
        while (generations.length <= ROTATIONS) {
          generations.push(await nextGeneration(generations.at(-1) ?? '', deadline));
          await exercise();
        }
      } finally {
        hikariSummary = await hikari.stop();
        await pool.end();
      }

      const logins = verifier.decisions.slice(decisionsBefore);
      const hikariOpened = hikari.events.filter((e) => e.event === 'opened');
      t.diagnostic(
        `${ROTATIONS} rotations (${generations.length} credential generations); logins at the database: ${logins.length}, ` +
          `refused ${logins.filter((d) => !d.ok).length}; HikariCP opened ${hikariSummary.opened}, failed ${hikariSummary.failed}, ` +
          `queries ${hikariSummary.queries} (errors ${hikariSummary.queryErrors}); pg.Pool opened ${poolConnections}, errors ${poolErrors.length}; ` +
          `psql runs ${psqlResults.length}, failed ${psqlResults.filter((r) => !r.ok).length}`,
      );
      const rounds = generations.length + 1; // the first round, then one per generation
      assert.deepEqual(
        { failed: hikariSummary.failed, queryErrors: hikariSummary.queryErrors },
        { failed: 0, queryErrors: 0 },
        JSON.stringify(hikari.events.filter((e) => e.event !== 'opened')),
      );
      assert.ok(
        hikariSummary.opened >= HIKARI_POOL_SIZE * rounds,
        `HikariCP opened only ${hikariSummary.opened}`,
      );
      assert.ok(
        hikariOpened.every((e) => e.event === 'opened' && !e.passwordSet),
        'HikariCP was given a password',
      );
      assert.deepEqual(poolErrors, []);
      assert.ok(poolConnections >= NODE_POOL_SIZE * (rounds - 1), `pg.Pool opened only ${poolConnections}`);
      assert.deepEqual(
        psqlResults.filter((r) => !r.ok),
        [],
      );
      assert.equal(psqlResults.length, rounds - 1);
      // Every login the proxy made was accepted, and the logins after each rotation used its new token.
      assert.deepEqual(
        logins.filter((d) => !d.ok),
        [],
      );
      // The sidecar's own account agrees: one upstream login per client connection, none failed.
      const samples = await proxyMetrics();
      assert.equal(
        metricSum(samples, 'token_broker_proxy_connections_total', { target: TARGET }) - connectionsBefore,
        logins.length,
        'client connections counted by the proxy != logins seen by the database',
      );
      assert.equal(metricSum(samples, 'token_broker_proxy_login_failures_total', { target: TARGET }), 0);
      const keyIdsUsed = new Set(logins.map((d) => d.accessKeyId));
      for (const keyId of generations.slice(1)) {
        assert.ok(keyIdsUsed.has(keyId), `no login was made with the token of generation ${keyId}`);
      }
    }));

  void test('a client holding a transaction open across the rotations, past the end of the credentials it logged in with, is not cut', async () => {
    assert.ok(longClient, 'the rotation test did not open the long transaction');
    const expiration = sts.lookup(longClientKeyId)?.expiration;
    assert.ok(expiration !== undefined, `the credentials ${longClientKeyId} of its login are unknown`);
    const wait = new Date(expiration).getTime() - Date.now();
    if (wait > 0) await sleep(wait + 500); // normally 0: the rotations outlast the first credentials
    assert.ok(generations.length > ROTATIONS, 'the rotation test did not see the rotations');
    try {
      const pid = (await longClient.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
      assert.equal(pid, longClientPid, 'the session moved to another backend');
      const held = await longClient.query<{ n: number }>('select n from held');
      assert.deepEqual(held.rows, [{ n: 1 }], 'the transaction lost its work');
      await longClient.query('COMMIT');
      assert.deepEqual(longClientEvents, []);
    } finally {
      await longClient.end().catch(() => undefined);
    }
  });

  void test("a user other than the target's is refused by the proxy with an ErrorResponse naming the fix, before any login", async () => {
    const before = verifier.decisions.length;
    const client = new pg.Client(proxyClientConfig(proxyPort('INVOICING'), OTHER_USER));
    await assert.rejects(
      withinOrHang('login as another user', 10_000, client.connect()),
      (error: unknown) => {
        assert.ok(error instanceof pg.DatabaseError, `not an ErrorResponse: ${String(error)}`);
        assert.equal(error.code, '28000');
        assert.match(error.message, new RegExp(OTHER_USER));
        assert.match(error.message, new RegExp(USER));
        return true;
      },
    );
    await client.end().catch(() => undefined);
    assert.equal(verifier.decisions.length, before, 'the proxy logged in for another user');
    assert.equal(
      metricSum(await proxyMetrics(), 'token_broker_proxy_login_failures_total', {
        target: TARGET,
        reason: 'wrong-user',
      }),
      1,
    );
  });

  void test('an upstream certificate for another host name is refused: the client gets an ErrorResponse and no token leaves', async () => {
    await server.serveCertificateFor(['DNS:wrong-host.example.com']);
    const before = verifier.decisions.length;
    try {
      const client = new pg.Client(proxyClientConfig());
      await assert.rejects(
        withinOrHang('login to a wrong-host server', 10_000, client.connect()),
        (error: unknown) => {
          assert.ok(error instanceof pg.DatabaseError, `not an ErrorResponse: ${String(error)}`);
          assert.match(error.message, /certificate|TLS/i);
          return true;
        },
      );
      await client.end().catch(() => undefined);
      assert.equal(
        verifier.decisions.length,
        before,
        'a token was sent to a server with the wrong certificate',
      );
    } finally {
      await server.serveCertificateFor([`DNS:${DB_HOST}`]);
    }
    // The same login works again with the right certificate: the certificate alone refused it.
    assert.equal(await psql('select current_user'), USER);
  });

  void test('a database that is down gives the client an ErrorResponse with the cause, not a hung socket', async () => {
    const client = new pg.Client(proxyClientConfig(proxyPort('ARCHIVE')));
    await assert.rejects(
      withinOrHang('login to a database that is down', 10_000, client.connect()),
      (error: unknown) => {
        assert.ok(error instanceof pg.DatabaseError, `not an ErrorResponse: ${String(error)}`);
        assert.match(error.code ?? '', /^08/, `SQLSTATE ${error.code ?? ''} is not a connection exception`);
        return true;
      },
    );
    await client.end().catch(() => undefined);
  });
});
