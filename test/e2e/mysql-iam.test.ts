// The real `mariadb` command-line client and mysql2 against a real MariaDB that checks logins like RDS
// for MySQL checks IAM logins: TLS only, the server asks for the clear-text password (the
// `mysql_clear_password` client plugin), and PAM hands it to a verifier that accepts only a valid RDS IAM
// auth token for that user and endpoint, signed with credentials the STS emulator issued. Tokens are made
// here with the AWS SDK's own Signer; the sidecar takes that place in the whole-chain test. The option
// file is the sidecar's own (its renderer), so the real client proves the product's format and limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Signer } from '@aws-sdk/rds-signer';
import { fromWebToken } from '@aws-sdk/credential-providers';
import mysql from 'mysql2/promise';
import { MAX_OPTION_FILE_LINE_BYTES, renderMysqlOptionFile } from '../../sidecar/src/mysql-option-file.ts';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import type { StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import type { KnownCredential } from '../emulators/sigv4.ts';
import { startHttpIamVerifier } from './support/http-iam-verifier.ts';
import type { HttpIamVerifier } from './support/http-iam-verifier.ts';
import type { BindDecision, RdsTokenCheck } from './support/ldap-iam-verifier.ts';
import { checkMariadbInstalled, startMariadb } from './support/mariadb.ts';
import type { MariadbServer } from './support/mariadb.ts';
import {
  clearPassword,
  clearPasswordFromFile,
  currentUser,
  mysqlLogin,
  verifiedTls,
} from './support/mysql-login.ts';
import type { MysqlTarget } from './support/mysql-login.ts';
import { startPlainMysqlServer } from './support/mysql-plain-server.ts';
import { LOOPBACK, freePort } from './support/net.ts';

const run = promisify(execFile);
const REGION = 'us-east-1';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/LedgerDbRole';
const USER = 'ledgeruser';
const OTHER_USER = 'reportinguser';
const DATABASE = 'ledger';
/** The server's answer to a refused login, as the client prints it. */
const ACCESS_DENIED = new RegExp(`ERROR 1045 \\(28000\\): Access denied for user '${USER}'@'${LOOPBACK}'`);

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

void describe('MySQL with an RDS-like IAM check: the real mariadb client and mysql2 on the wire', () => {
  let sts: StsEmulator;
  let verifier: HttpIamVerifier;
  let server: MariadbServer;
  let dir: string;
  let ca: string;
  let credentials: AwsCredentialIdentity;
  /** Shifts the verifier's clock (not the emulator's, not the client's). */
  let verifierSkewMs = 0;
  /** Credentials known to the verifier besides the emulator's (see the long-token test). */
  const extraCredentials = new Map<string, KnownCredential>();

  const target = (): MysqlTarget => ({
    host: LOOPBACK,
    port: server.port,
    user: USER,
    database: DATABASE,
    ca,
  });

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

  /**
   * The real `mariadb` client with only the given options after the machine's own option files (as an app
   * container runs it); prints `current_user()` and the session's TLS version. The client prints its
   * warnings on stdout before the result.
   */
  const mariadb = async (
    args: readonly string[],
  ): Promise<{ user: string; tls: string; warnings: string[]; stderr: string }> => {
    const sql =
      "select current_user(), (select variable_value from information_schema.session_status where variable_name = 'Ssl_version')";
    const { stdout, stderr } = await run(
      server.client,
      [...args, '--batch', '--skip-column-names', '-e', sql],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', HOME: dir },
      },
    );
    const lines = stdout.trim().split('\n');
    const [user = '', tls = ''] = (lines.at(-1) ?? '').split('\t');
    return { user, tls, warnings: lines.slice(0, -1), stderr };
  };

  const lastDecision = (): BindDecision => {
    const decision = verifier.decisions.at(-1);
    assert.ok(decision, 'the verifier saw no login');
    return decision;
  };

  const connectWith = (password: string): Promise<string> =>
    mysqlLogin(
      target(),
      clearPassword(() => password),
    );

  /** Refused with MySQL's own access-denied error, for the reason and by the check expected. */
  const assertRefused = async (password: string, check: RdsTokenCheck, reason: string): Promise<void> => {
    const before = verifier.decisions.length;
    await assert.rejects(connectWith(password), (error: Error & { code?: string; sqlState?: string }) => {
      assert.equal(error.code, 'ER_ACCESS_DENIED_ERROR', error.message);
      assert.equal(error.sqlState, '28000');
      return true;
    });
    assert.equal(verifier.decisions.length, before + 1, 'MariaDB did not ask the verifier');
    assert.deepEqual(
      { ...lastDecision(), passwordLength: 0, accessKeyId: '' },
      { user: USER, ok: false, reason, check, passwordLength: 0, accessKeyId: '' },
    );
  };

  /** The same password gets in once `check` is switched off: that check alone refused it. */
  const assertAcceptedWithout = async (check: RdsTokenCheck, password: string): Promise<void> => {
    verifier.disabledChecks.add(check);
    try {
      assert.equal(await connectWith(password), `${USER}@%`);
    } finally {
      verifier.disabledChecks.delete(check);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-e2e-mysql-'));
    sts = await startStsEmulator();
    const port = await freePort();
    verifier = await startHttpIamVerifier({
      endpoint: { host: LOOPBACK, port },
      region: REGION,
      lookup: (accessKeyId) => extraCredentials.get(accessKeyId) ?? sts.lookup(accessKeyId),
      now: () => Date.now() + verifierSkewMs,
    });
    server = await startMariadb({
      verifierUrl: verifier.url,
      port,
      logins: [
        { user: USER, database: DATABASE },
        { user: OTHER_USER, database: 'reporting' },
      ],
    });
    ca = await readFile(server.caFile, 'utf8');
    credentials = await fromWebToken({
      roleArn: ROLE_ARN,
      roleSessionName: 'e2e-mysql',
      webIdentityToken: makeWebIdentityToken({ subject: 'system:serviceaccount:finance:ledger' }),
      clientConfig: { endpoint: sts.url, region: REGION },
    })();
  });

  after(async () => {
    await server?.stop();
    await verifier?.close();
    await sts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the mariadb client logs in over verified TLS with the token as its clear-text password, as RDS documents', async (t) => {
    const token = await tokenFor(USER);
    const session = await mariadb([
      `--host=${LOOPBACK}`,
      `--port=${server.port}`,
      `--user=${USER}`,
      `--password=${token}`,
      `--ssl-ca=${server.caFile}`,
      '--ssl-verify-server-cert',
      '--enable-cleartext-plugin',
    ]);
    assert.equal(session.user, `${USER}@%`);
    assert.match(session.tls, /^TLSv1\.[23]$/);
    assert.deepEqual(
      { ok: lastDecision().ok, user: lastDecision().user, passwordLength: lastDecision().passwordLength },
      { ok: true, user: USER, passwordLength: token.length },
    );
    // MariaDB's client sends the clear-text password whenever the server asks; MySQL's needs the option.
    assert.deepEqual(session.warnings, ["WARNING: option '--enable-cleartext-plugin' is obsolete."]);
    t.diagnostic(server.clientVersion);
  });

  test("the mariadb client logs in with the sidecar's option file (--defaults-extra-file) and the CA alone, with a token over 2,000 characters", async () => {
    // Real STS session tokens often run past 1,000 characters; the emulator's are shorter, so the verifier
    // also knows one credential with a real-sized session token.
    const long: AwsCredentialIdentity = {
      accessKeyId: 'ASIAE2EMYSQLLONG0001',
      secretAccessKey: 'e2eMysqlLongSessionSecretKey0123456789ab',
      sessionToken: `IQoJb3JpZ2luX2VjE${Buffer.alloc(1200, 0xfb).toString('base64')}`,
    };
    extraCredentials.set(long.accessKeyId, {
      secretAccessKey: long.secretAccessKey,
      sessionToken: long.sessionToken,
      expiration: Date.now() + 3_600_000,
    });
    const token = await tokenFor(USER, { credentials: long });
    assert.ok(token.length > 2000, `token is only ${token.length} characters`);
    const optionFile = join(dir, 'ledger.my.cnf');
    const content = renderMysqlOptionFile({
      host: LOOPBACK,
      port: server.port,
      user: USER,
      database: DATABASE,
      password: token,
    });
    await writeFile(optionFile, content, { mode: 0o600 });

    const session = await mariadb([
      `--defaults-extra-file=${optionFile}`,
      `--ssl-ca=${server.caFile}`,
      '--ssl-verify-server-cert',
    ]);
    assert.deepEqual(
      { user: session.user, warnings: session.warnings, stderr: session.stderr },
      { user: `${USER}@%`, warnings: [], stderr: '' },
    );
    assert.match(session.tls, /^TLSv1\.[23]$/);
    assert.deepEqual(
      { ok: lastDecision().ok, passwordLength: lastDecision().passwordLength },
      { ok: true, passwordLength: token.length },
    );
    // The [mysql] group's database applies to the command-line client.
    const { stdout } = await run(
      server.client,
      [
        `--defaults-extra-file=${optionFile}`,
        `--ssl-ca=${server.caFile}`,
        '-N',
        '-B',
        '-e',
        'select database()',
      ],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
    );
    assert.equal(stdout.trim(), DATABASE);
  });

  test("the client library reads an option-file line of 4,095 bytes whole and splits a longer one, which the sidecar's renderer refuses", async () => {
    // my_print_defaults uses the same reader as every MySQL/MariaDB client.
    const printed = async (valueLength: number): Promise<string[]> => {
      const file = join(dir, `limit-${valueLength}.cnf`);
      await writeFile(file, `[client]\npassword=${'a'.repeat(valueLength)}\n`, { mode: 0o600 });
      const { stdout } = await run('my_print_defaults', [`--defaults-extra-file=${file}`, 'client']);
      return stdout.trim().split('\n');
    };
    const longest = MAX_OPTION_FILE_LINE_BYTES - 'password=\n'.length;
    assert.deepEqual(await printed(longest), [`--password=${'a'.repeat(longest)}`]);
    assert.equal((await printed(longest + 1)).length, 2, 'a longer line is not split: the limit moved');
    const token = 'x'.repeat(longest + 1);
    assert.throws(
      () =>
        renderMysqlOptionFile({
          host: LOOPBACK,
          port: 3306,
          user: USER,
          database: DATABASE,
          password: token,
        }),
      /password would be a line of 4096 bytes, and MySQL clients read at most 4095/,
    );
  });

  test('a login without TLS is refused although the token is valid: the server refuses only after the password came', async () => {
    const token = await tokenFor(USER);
    const before = verifier.decisions.length;
    await assert.rejects(
      mariadb([
        `--host=${LOOPBACK}`,
        `--port=${server.port}`,
        `--user=${USER}`,
        `--password=${token}`,
        '--skip-ssl',
      ]),
      (error: Error & { stderr?: string }) => {
        assert.match(error.stderr ?? '', ACCESS_DENIED);
        return true;
      },
    );
    // The token itself was good (and went over the wire in clear): keeping it off plain connections is the
    // client's job, which the next test shows the documented client settings do.
    assert.deepEqual(
      verifier.decisions.slice(before).map((decision) => decision.reason),
      ['accepted'],
    );
  });

  test('the mariadb client (--ssl-verify-server-cert) and mysql2 (ssl) send nothing to a server without TLS', async () => {
    const plain = await startPlainMysqlServer();
    try {
      const token = await tokenFor(USER, { port: plain.port });
      await assert.rejects(
        run(
          server.client,
          [
            `--host=${plain.host}`,
            `--port=${plain.port}`,
            `--user=${USER}`,
            `--password=${token}`,
            `--ssl-ca=${server.caFile}`,
            '--ssl-verify-server-cert',
            '-e',
            'select 1',
          ],
          { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
        ),
        (error: Error & { stderr?: string }) => {
          assert.match(error.stderr ?? '', /SSL is required, but the server does not support it/);
          return true;
        },
      );
      await assert.rejects(
        mysqlLogin(
          { ...target(), port: plain.port },
          clearPassword(() => token),
        ),
        { code: 'HANDSHAKE_NO_SSL_SUPPORT' },
      );
      assert.equal(plain.received().length, 0, 'a client answered a server that offers no TLS');
    } finally {
      await plain.close();
    }
  });

  test('mysql2 sends no clear-text password unless the app provides the clear-text plugin', async () => {
    const before = verifier.decisions.length;
    const { host, port, user, database } = target();
    const connecting = mysql.createConnection({
      host,
      port,
      user,
      database,
      password: await tokenFor(USER),
      ssl: verifiedTls(ca),
    });
    await assert.rejects(connecting, { code: 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' });
    assert.equal(verifier.decisions.length, before);
  });

  test('a mysql2 pool reads the token file on each new connection, across credential rotations', async () => {
    // Stand-in for the sidecar: a token file rewritten atomically with tokens from fresh STS credentials.
    const tokenFile = join(dir, 'ledger.token');
    const rotate = async (): Promise<void> => {
      const fresh = await fromWebToken({
        roleArn: ROLE_ARN,
        roleSessionName: 'e2e-mysql-rotation',
        webIdentityToken: makeWebIdentityToken(),
        clientConfig: { endpoint: sts.url, region: REGION },
      })();
      await writeFile(`${tokenFile}.tmp`, await tokenFor(USER, { credentials: fresh }), { mode: 0o600 });
      await rename(`${tokenFile}.tmp`, tokenFile);
    };
    const { host, port, user, database } = target();
    const pool = mysql.createPool({
      host,
      port,
      user,
      database,
      ssl: verifiedTls(ca),
      authPlugins: clearPasswordFromFile(tokenFile),
      connectionLimit: 2,
    });
    const before = verifier.decisions.length;
    try {
      for (let i = 0; i < 6; i += 1) {
        if (i % 2 === 0) await rotate();
        const connection = await pool.getConnection();
        try {
          assert.equal(await currentUser(connection), `${USER}@%`);
        } finally {
          connection.destroy(); // the next checkout opens a new connection, so a new login
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

  test('a missing MariaDB installation is reported with the Debian packages to install', () => {
    assert.throws(
      () => checkMariadbInstalled([join(dir, 'no-mariadbd-here')]),
      /apt-get install -y mariadb-server libpam-python/,
    );
  });

  test('a tampered token (signature changed) is refused by the signature check alone', async () => {
    const tampered = tamperSignature(await tokenFor(USER));
    await assertRefused(tampered, 'signature', 'signature-mismatch');
    await assertAcceptedWithout('signature', tampered);
  });

  test('an expired token (verifier clock past X-Amz-Date + X-Amz-Expires) is refused by the expiry check alone', async () => {
    const token = await tokenFor(USER);
    verifierSkewMs = 16 * 60_000; // tokens live 15 minutes; the STS credentials live an hour
    try {
      await assertRefused(token, 'expiry', 'expired');
      await assertAcceptedWithout('expiry', token);
    } finally {
      verifierSkewMs = 0;
    }
  });

  test('a token for another database user is refused by the DBUser check alone', async () => {
    const token = await tokenFor(OTHER_USER);
    await assertRefused(token, 'db-user', 'wrong-db-user');
    await assertAcceptedWithout('db-user', token);
  });

  test('a token signed for another endpoint (host:port) is refused by the endpoint check alone', async () => {
    const elsewhere = server.port === 65535 ? server.port - 1 : server.port + 1;
    const token = await tokenFor(USER, { port: elsewhere });
    await assertRefused(token, 'endpoint', 'wrong-endpoint');
    await assertAcceptedWithout('endpoint', token);
  });

  test('a refused login is refused by the client as MySQL refuses it, and the server log names the user', async () => {
    const tampered = tamperSignature(await tokenFor(USER));
    await assert.rejects(
      mariadb([
        `--host=${LOOPBACK}`,
        `--port=${server.port}`,
        `--user=${USER}`,
        `--password=${tampered}`,
        `--ssl-ca=${server.caFile}`,
      ]),
      (error: Error & { stderr?: string }) => {
        assert.match(error.stderr ?? '', ACCESS_DENIED);
        return true;
      },
    );
    const log = await server.log();
    assert.match(log, new RegExp(`Access denied for user '${USER}'@'${LOOPBACK}'`));
    assert.ok(!log.includes(tampered.slice(tampered.indexOf('?'))), 'the token is in the server log');
  });
});
