// Real libpq (psql) and node-postgres against a real PostgreSQL whose pg_hba sends every TLS login to an
// LDAP bind that accepts only a valid RDS IAM auth token (signed with credentials the STS emulator issued);
// as on RDS with rds.force_ssl, a login without TLS is refused. Clients verify the server certificate.
// Tokens are made here with the AWS SDK's own Signer; the sidecar takes that place in the whole-chain test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Signer } from '@aws-sdk/rds-signer';
import { fromWebToken } from '@aws-sdk/credential-providers';
import pg from 'pg';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import type { StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { presignPath } from '../emulators/sigv4.ts';
import type { KnownCredential } from '../emulators/sigv4.ts';
import { startLdapIamVerifier } from './support/ldap-iam-verifier.ts';
import type { BindDecision, LdapIamVerifier, RdsTokenCheck } from './support/ldap-iam-verifier.ts';
import { LOOPBACK, freePort } from './support/net.ts';
import { writePgpass } from './support/pgpass.ts';
import { loginAs } from './support/pg-login.ts';
import { findPostgresBinDir, startPostgres } from './support/postgres.ts';
import type { PostgresServer } from './support/postgres.ts';

const run = promisify(execFile);
const REGION = 'us-east-1';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/InvoicingDbRole';
const USER = 'invoicingdbuser';
const OTHER_USER = 'reportingdbuser';
const DATABASE = 'invoicing';
const AUTH_FAILED = new RegExp(`LDAP authentication failed for user "${USER}"`);

interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The same token with one hex digit of its X-Amz-Signature changed. */
function tamperSignature(token: string): string {
  const tampered = token.replace(
    /X-Amz-Signature=([0-9a-f])/,
    (_, first: string) => `X-Amz-Signature=${first === 'a' ? 'b' : 'a'}`,
  );
  assert.notEqual(tampered, token, 'the token has no X-Amz-Signature to tamper with');
  return tampered;
}

/** The same credentials with the last four characters of the session token replaced: a forged token. */
function forgeSessionToken(identity: AwsCredentialIdentity): AwsCredentialIdentity {
  const real = identity.sessionToken ?? '';
  assert.ok(real.length > 4, 'the credentials carry no session token to forge');
  const tail = real.endsWith('AAAA') ? 'BBBB' : 'AAAA';
  return { ...identity, sessionToken: `${real.slice(0, -4)}${tail}` };
}

void describe('PostgreSQL with an RDS-like IAM check: real libpq and node-postgres on the wire', () => {
  let sts: StsEmulator;
  let verifier: LdapIamVerifier;
  let server: PostgresServer;
  let dir: string;
  let credentials: AwsCredentialIdentity;
  /** Shifts the verifier's clock (not the emulator's, not the client's). */
  let verifierSkewMs = 0;
  /** Credentials known to the verifier besides the emulator's (see the long-token test). */
  const extraCredentials = new Map<string, KnownCredential>();

  const tokenFor = async (
    user: string,
    options: { credentials?: AwsCredentialIdentity; port?: number } = {},
  ): Promise<string> =>
    await new Signer({
      hostname: LOOPBACK,
      port: options.port ?? server.port,
      username: user,
      region: REGION,
      credentials: options.credentials ?? credentials,
    }).getAuthToken();

  /** Real psql, whose only password source is the pgpass file (-w: never prompt). */
  const psql = async (pgpass: string, sql: string): Promise<string> => {
    const args = [
      '-X',
      '-A',
      '-t',
      '-w',
      '-h',
      LOOPBACK,
      '-p',
      String(server.port),
      '-U',
      USER,
      '-d',
      DATABASE,
    ];
    const { stdout } = await run(server.psql, [...args, '-c', sql], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LC_ALL: 'C',
        PGPASSFILE: pgpass,
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: caFile(),
      },
    });
    return stdout.trim();
  };

  const lastDecision = (): BindDecision => {
    const decision = verifier.decisions.at(-1);
    assert.ok(decision, 'the LDAP verifier saw no bind');
    return decision;
  };

  const caFile = (): string => {
    assert.ok(server.caFile, 'the server was started without TLS');
    return server.caFile;
  };
  /** node-postgres with verified TLS (the CA of the server certificate, host name checked). */
  const verifiedTls = async (): Promise<{ ca: string }> => ({ ca: await readFile(caFile(), 'utf8') });

  const connectWith = async (password: string): Promise<string> =>
    await loginAs({
      host: LOOPBACK,
      port: server.port,
      user: USER,
      database: DATABASE,
      password,
      ssl: await verifiedTls(),
    });

  /** Refused with PostgreSQL's own auth error, for the reason and by the check expected. */
  const assertRefused = async (password: string, check: RdsTokenCheck, reason: string): Promise<void> => {
    const before = verifier.decisions.length;
    await assert.rejects(connectWith(password), (error: Error & { code?: string }) => {
      assert.match(error.message, AUTH_FAILED);
      assert.equal(error.code, '28000'); // invalid_authorization_specification
      return true;
    });
    assert.equal(verifier.decisions.length, before + 1, 'PostgreSQL did not ask the LDAP verifier');
    assert.deepEqual(
      { ...lastDecision(), passwordLength: 0, accessKeyId: '' },
      {
        user: USER,
        ok: false,
        reason,
        check,
        passwordLength: 0,
        accessKeyId: '',
      },
    );
  };

  /** The same password gets in once `check` is switched off: that check alone refused it. */
  const assertAcceptedWithout = async (check: RdsTokenCheck, password: string): Promise<void> => {
    verifier.disabledChecks.add(check);
    try {
      assert.equal(await connectWith(password), USER);
    } finally {
      verifier.disabledChecks.delete(check);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-e2e-psql-'));
    sts = await startStsEmulator();
    const port = await freePort();
    verifier = await startLdapIamVerifier({
      endpoint: { host: LOOPBACK, port },
      region: REGION,
      lookup: (accessKeyId) => extraCredentials.get(accessKeyId) ?? sts.lookup(accessKeyId),
      now: () => Date.now() + verifierSkewMs,
    });
    server = await startPostgres({
      ldapPort: verifier.port,
      port,
      tls: { subjectAltNames: [`IP:${LOOPBACK}`] },
      logins: [
        { user: USER, database: DATABASE },
        { user: OTHER_USER, database: 'reporting' },
      ],
    });
    // IRSA-style credentials from the emulator through the real SDK provider.
    credentials = await fromWebToken({
      roleArn: ROLE_ARN,
      roleSessionName: 'e2e-postgres',
      webIdentityToken: makeWebIdentityToken({ subject: 'system:serviceaccount:billing:invoicing' }),
      clientConfig: { endpoint: sts.url, region: REGION },
    })();
  });

  after(async () => {
    await server?.stop();
    await verifier?.close();
    await sts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  void test('psql (libpq) reads the token from an escaped 0600 pgpass via PGPASSFILE and gets in', async () => {
    const token = await tokenFor(USER);
    assert.match(
      token,
      /:/,
      'a token carries ":" (host:port, %3A is not enough), so pgpass escaping matters',
    );
    const pgpass = join(dir, 'pgpass');
    await writePgpass(pgpass, [
      { host: LOOPBACK, port: server.port, database: DATABASE, user: USER, password: token },
    ]);

    assert.equal(await psql(pgpass, 'select current_user'), USER);
    assert.deepEqual(
      { ok: lastDecision().ok, user: lastDecision().user, passwordLength: lastDecision().passwordLength },
      { ok: true, user: USER, passwordLength: token.length },
    );
  });

  void test("psql refuses to log in with a tampered token in pgpass and shows PostgreSQL's auth error", async () => {
    const token = await tokenFor(USER);
    const tampered = tamperSignature(token);
    const pgpass = join(dir, 'pgpass-tampered');
    await writePgpass(pgpass, [
      { host: LOOPBACK, port: server.port, database: DATABASE, user: USER, password: tampered },
    ]);
    await assert.rejects(psql(pgpass, 'select 1'), (error: Error & { stderr?: string }) => {
      assert.match(error.stderr ?? '', AUTH_FAILED);
      return true;
    });
    assert.equal(lastDecision().reason, 'signature-mismatch');
  });

  void test('a long-lived node-postgres Pool reads the token file on each new connection, across credential rotations', async () => {
    // Stand-in for the sidecar: a token file rewritten atomically with tokens from fresh STS credentials.
    const tokenFile = join(dir, 'invoicing.token');
    const rotate = async (): Promise<void> => {
      const fresh = await fromWebToken({
        roleArn: ROLE_ARN,
        roleSessionName: 'e2e-postgres-rotation',
        webIdentityToken: makeWebIdentityToken(),
        clientConfig: { endpoint: sts.url, region: REGION },
      })();
      await writeFile(`${tokenFile}.tmp`, await tokenFor(USER, { credentials: fresh }), { mode: 0o600 });
      await rename(`${tokenFile}.tmp`, tokenFile);
    };
    const pool = new pg.Pool({
      host: LOOPBACK,
      port: server.port,
      user: USER,
      database: DATABASE,
      max: 2,
      password: async () => (await readFile(tokenFile, 'utf8')).trim(),
      ssl: await verifiedTls(),
    });
    const before = verifier.decisions.length;
    try {
      for (let i = 0; i < 6; i += 1) {
        if (i % 2 === 0) await rotate();
        const client = await pool.connect();
        try {
          const result = await client.query<{ current_user: string }>('select current_user');
          assert.equal(result.rows[0]?.current_user, USER);
        } finally {
          client.release(true); // destroy: the next checkout opens a new connection, so a new login
        }
      }
    } finally {
      await pool.end();
    }
    const logins = verifier.decisions.slice(before);
    assert.deepEqual(
      logins.map((decision) => decision.reason),
      Array.from({ length: 6 }, () => 'accepted'),
    );
    assert.equal(
      new Set(logins.map((decision) => decision.accessKeyId)).size,
      3,
      'expected three credential generations',
    );
  });

  void test('a valid token sent without TLS is refused: IAM logins are accepted over TLS only (hostssl)', async () => {
    const token = await tokenFor(USER);
    const before = verifier.decisions.length;
    await assert.rejects(
      loginAs({ host: LOOPBACK, port: server.port, user: USER, database: DATABASE, password: token }),
      /no pg_hba\.conf entry for host "127\.0\.0\.1", user "invoicingdbuser", database "invoicing", no encryption/,
    );
    assert.equal(verifier.decisions.length, before, 'a login without TLS reached the token check');
    assert.equal(await connectWith(token), USER, 'the same token is accepted over TLS');
  });

  void test('a missing PostgreSQL installation is reported with the Debian packages to install', () => {
    assert.throws(
      () => findPostgresBinDir(join(dir, 'no-postgresql-here')),
      /apt-get install -y postgresql postgresql-client/,
    );
  });

  void test('a tampered token (signature changed) is refused by the signature check alone', async () => {
    const token = await tokenFor(USER);
    const tampered = tamperSignature(token);
    await assertRefused(tampered, 'signature', 'signature-mismatch');
    await assertAcceptedWithout('signature', tampered);
  });

  void test('an expired token (verifier clock past X-Amz-Date + X-Amz-Expires) is refused by the expiry check alone', async () => {
    const token = await tokenFor(USER);
    verifierSkewMs = 16 * 60_000; // tokens live 15 minutes; the STS credentials live an hour
    try {
      await assertRefused(token, 'expiry', 'expired');
      await assertAcceptedWithout('expiry', token);
    } finally {
      verifierSkewMs = 0;
    }
  });

  void test('a token for another database user is refused by the DBUser check alone', async () => {
    const token = await tokenFor(OTHER_USER);
    await assertRefused(token, 'db-user', 'wrong-db-user');
    await assertAcceptedWithout('db-user', token);
  });

  void test('a token signed for another endpoint (host:port) is refused by the endpoint check alone', async () => {
    const elsewhere = server.port === 65535 ? server.port - 1 : server.port + 1;
    const token = await tokenFor(USER, { port: elsewhere });
    await assertRefused(token, 'endpoint', 'wrong-endpoint');
    await assertAcceptedWithout('endpoint', token);
  });

  void test('a token signed with credentials that expired since is refused by the credential-expiry check alone', async () => {
    const issued = sts.issueCredentials({ roleArn: ROLE_ARN, lifetimeSeconds: 600 });
    const token = await tokenFor(USER, {
      credentials: {
        accessKeyId: issued.accessKeyId,
        secretAccessKey: issued.secretAccessKey,
        sessionToken: issued.sessionToken,
      },
    });
    verifierSkewMs = 11 * 60_000; // past the credential's end, still inside the token's 15 minutes
    try {
      await assertRefused(token, 'credential-expiry', 'credential-expired');
      await assertAcceptedWithout('credential-expiry', token);
    } finally {
      verifierSkewMs = 0;
    }
  });

  void test('a token signed with the right key id and secret but a forged session token is refused by the session-token check', async () => {
    // The signature is valid (it covers the forged X-Amz-Security-Token); only the issuer's record of the
    // session token tells them apart.
    const forged = await tokenFor(USER, { credentials: forgeSessionToken(credentials) });
    await assertRefused(forged, 'signature', 'token-mismatch');
    await assertAcceptedWithout('signature', forged);
  });

  void test('a presigned URL for another Action than connect is refused by the Action check', async () => {
    // Built with the emulator's own presigner, so the only difference from a good token is Action.
    const presigned = (action: string): string => {
      const endpoint = `${LOOPBACK}:${server.port}`;
      const path = presignPath(
        {
          host: endpoint,
          path: '/',
          params: [
            ['Action', action],
            ['DBUser', USER],
          ],
        },
        credentials,
        { region: REGION, service: 'rds-db', date: new Date(), expiresInSeconds: 900 },
      );
      return `${endpoint}${path}`;
    };
    assert.equal(await connectWith(presigned('connect')), USER, 'the hand-built token is not valid at all');
    await assertRefused(presigned('other'), 'action', 'wrong-action');
  });

  void test('a token longer than 2,000 characters travels intact through pgpass, libpq, PostgreSQL and the LDAP bind', async () => {
    // Real STS session tokens often run past 1,000 characters (and the RDS token around them further);
    // the emulator's are shorter, so the verifier also knows one credential with a real-sized token.
    const long: AwsCredentialIdentity = {
      accessKeyId: 'ASIAE2ELONGSESSION01',
      secretAccessKey: 'e2eLongSessionSecretKey0123456789abcdefgh',
      sessionToken: `IQoJb3JpZ2luX2VjE${Buffer.alloc(1200, 0xfb).toString('base64')}`,
    };
    extraCredentials.set(long.accessKeyId, {
      secretAccessKey: long.secretAccessKey,
      sessionToken: long.sessionToken,
      expiration: Date.now() + 3_600_000,
    });
    const token = await tokenFor(USER, { credentials: long });
    assert.ok(token.length > 2000, `token is only ${token.length} characters`);
    const pgpass = join(dir, 'pgpass-long');
    await writePgpass(pgpass, [
      { host: LOOPBACK, port: server.port, database: DATABASE, user: USER, password: token },
    ]);
    assert.equal(await psql(pgpass, 'select current_user'), USER);
    assert.deepEqual(
      { ok: lastDecision().ok, passwordLength: lastDecision().passwordLength },
      { ok: true, passwordLength: token.length },
    );
    assert.equal(await connectWith(token), USER);
  });
});
