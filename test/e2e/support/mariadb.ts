import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LOOPBACK, freePort } from './net.ts';

/**
 * A throwaway MariaDB server that checks logins the way RDS for MySQL checks IAM logins: every
 * database user is `IDENTIFIED VIA pam` with `pam_use_cleartext_plugin=ON`, so the server asks the client
 * for its clear-text password (the `mysql_clear_password` client plugin, as RDS does) and PAM hands it to
 * `rds_iam_pam.py`, which has the loopback verifier judge it as an RDS IAM token. TLS only
 * (`require_secure_transport`, users `REQUIRE SSL`), TCP on 127.0.0.1 only, data in a temp dir.
 *
 * Needs root: MariaDB's PAM plugin reads its service from /etc/pam.d (written here, removed on stop), and
 * its setuid helper is reachable only by the server's OS user `mysql`, which the server runs as.
 */

const run = promisify(execFile);

const PACKAGE_HINT =
  'install the Debian packages "mariadb-server" (mariadbd, the pam plugin, the mariadb client) and "libpam-python": apt-get install -y mariadb-server libpam-python (npm test does this when it may)';
const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const CLIENT = '/usr/bin/mariadb';
const PAM_PLUGIN = '/usr/lib/mysql/plugin/auth_pam.so';
/** Debian's libpam-python installs outside the multiarch PAM dir, so the service names it by path. */
const PAM_PYTHON = '/lib/security/pam_python.so';
const PAM_MODULE = fileURLToPath(new URL('./rds_iam_pam.py', import.meta.url));
const PAM_DIR = '/etc/pam.d';
const SERVER_USER = 'mysql';
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,31}$/;
const STARTUP_TIMEOUT_MS = 30_000;
const CERTS_SCRIPT = fileURLToPath(new URL('../../../certs/generate.sh', import.meta.url));

export interface MysqlLogin {
  /** Database user identified via PAM: it can only get in with a token the verifier accepts. */
  readonly user: string;
  /** Database the user may use. */
  readonly database: string;
}

export interface MariadbOptions {
  /** The HTTP verifier the PAM module POSTs user and token to (http://127.0.0.1:<port>/verify). */
  readonly verifierUrl: string;
  /** TCP port on 127.0.0.1; a free ephemeral port when omitted. */
  readonly port?: number;
  readonly logins: readonly MysqlLogin[];
}

export interface MariadbServer {
  readonly host: string;
  readonly port: number;
  /** The CA that signed the server's certificate (the RDS CA bundle's part). */
  readonly caFile: string;
  /** The `mariadb` command-line client. */
  readonly client: string;
  /** `mariadb --version` of that client. */
  readonly clientVersion: string;
  /** Runs SQL as the server's root over its unix socket; tab-separated rows without headers. */
  adminSql(sql: string): Promise<string>;
  /** The server's error log so far (with `log_warnings=4` it names every refused login). */
  log(): Promise<string>;
  /** Stops the server, removes the PAM service and the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The MariaDB and PAM files this needs, or an error naming the packages to install. */
export function checkMariadbInstalled(files: readonly string[] = defaultMariadbFiles()): void {
  const missing = files.filter((file) => !existsSync(file));
  if (missing.length > 0)
    throw new Error(`MariaDB test server: ${missing.join(', ')} missing: ${PACKAGE_HINT}`);
}

function defaultMariadbFiles(): string[] {
  return [MARIADBD, INSTALL_DB, CLIENT, PAM_PLUGIN, PAM_PYTHON];
}

function osUser(name: string): { uid: number; gid: number } {
  const fields = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`))
    ?.split(':');
  if (fields === undefined || fields.length < 4) {
    throw new Error(`OS user "${name}" not found in /etc/passwd: ${PACKAGE_HINT}`);
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** The service file's module line; its arguments are separated by spaces, so none may hold one. */
function pamServiceFile(verifierUrl: string): string {
  for (const arg of [PAM_MODULE, verifierUrl]) {
    if (/\s/.test(arg)) throw new Error(`PAM argument "${arg}" has whitespace; PAM would split it`);
  }
  const line = `${PAM_PYTHON} ${PAM_MODULE} ${verifierUrl}`;
  return [
    '# token-broker e2e (test/e2e/support/mariadb.ts): RDS-style IAM check; removed when the test ends',
    `auth required ${line}`,
    `account required ${line}`,
    '',
  ].join('\n');
}

export async function startMariadb(options: MariadbOptions): Promise<MariadbServer> {
  checkMariadbInstalled();
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the MySQL e2e tests need root: MariaDB's PAM plugin reads its service from ${PAM_DIR}, written by the test (CI runs as root)`,
    );
  }
  for (const login of options.logins) {
    for (const [field, value] of Object.entries(login) as Array<[string, string]>) {
      if (!IDENTIFIER.test(value)) {
        throw new Error(
          `logins.${field}: "${value}" is not a plain lowercase identifier; use [a-z_][a-z0-9_]*`,
        );
      }
    }
  }
  const owner = osUser(SERVER_USER);
  const port = options.port ?? (await freePort());
  const root = await mkdtemp(join(tmpdir(), 'tb-e2e-mariadb-'));
  const dataDir = join(root, 'data');
  const tlsDir = join(root, 'tls');
  const socket = join(root, 'mariadb.sock');
  const errorLog = join(root, 'error.log');
  const service = `tb-e2e-mysql-${randomBytes(4).toString('hex')}`;
  const pamFile = join(PAM_DIR, service);
  let server: ChildProcess | undefined;
  let stopped = false;

  // Last resort if the test process ends without stop() (a failed assertion, a CI timeout's signal).
  const cleanupSync = (): void => {
    if (stopped) return;
    server?.kill('SIGKILL');
    rmSync(pamFile, { force: true });
  };
  const cleanupOnSignal = (signal: NodeJS.Signals): void => {
    cleanupSync();
    process.kill(process.pid, signal);
  };
  process.once('exit', cleanupSync);
  process.once('SIGTERM', cleanupOnSignal);
  process.once('SIGINT', cleanupOnSignal);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    process.removeListener('exit', cleanupSync);
    process.removeListener('SIGTERM', cleanupOnSignal);
    process.removeListener('SIGINT', cleanupOnSignal);
    try {
      if (server?.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server?.once('exit', resolve));
        server.kill('SIGTERM');
        const timer = setTimeout(() => server?.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    } finally {
      stopped = true;
      await rm(pamFile, { force: true });
      await rm(root, { recursive: true, force: true });
    }
  };

  const client = async (args: string[]): Promise<string> => {
    const { stdout } = await run(CLIENT, ['--no-defaults', '--socket', socket, '--user', 'root', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    return stdout.trim();
  };
  const adminSql = (sql: string): Promise<string> => client(['--batch', '--skip-column-names', '-e', sql]);
  const log = async (): Promise<string> => (existsSync(errorLog) ? await readFile(errorLog, 'utf8') : '');

  try {
    // A server certificate for 127.0.0.1, from the project's own certificate script.
    await run('bash', [CERTS_SCRIPT, 'mariadb', 'e2e', tlsDir], {
      env: { ...process.env, EXTRA_SANS: `IP:${LOOPBACK}`, DAYS: '2' },
    });
    await writeFile(pamFile, pamServiceFile(options.verifierUrl), { mode: 0o644 });
    await mkdir(dataDir);
    await chmod(root, 0o755);
    await run('chown', ['-R', `${owner.uid}:${owner.gid}`, root]);

    // Small InnoDB files and no durability: a disposable server.
    const innodb = [
      '--innodb-log-file-size=8M',
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=0',
    ];
    await run(
      INSTALL_DB,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--user=${SERVER_USER}`,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
        ...innodb,
      ],
      { cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } },
    );
    server = spawn(
      MARIADBD,
      [
        '--no-defaults',
        `--user=${SERVER_USER}`,
        `--datadir=${dataDir}`,
        `--socket=${socket}`,
        `--pid-file=${join(root, 'mariadb.pid')}`,
        `--log-error=${errorLog}`,
        `--bind-address=${LOOPBACK}`,
        `--port=${port}`,
        '--skip-name-resolve',
        '--skip-log-bin',
        '--performance-schema=OFF',
        '--log-warnings=4',
        ...innodb,
        `--plugin-load-add=${PAM_PLUGIN.split('/').at(-1) ?? ''}`,
        '--pam-use-cleartext-plugin=ON',
        `--ssl-ca=${join(tlsDir, 'ca.crt')}`,
        `--ssl-cert=${join(tlsDir, 'tls.crt')}`,
        `--ssl-key=${join(tlsDir, 'tls.key')}`,
        '--require-secure-transport=ON',
      ],
      { cwd: root, stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } },
    );
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (server.exitCode !== null || server.signalCode !== null) {
        throw new Error(`mariadbd exited during startup:\n${(await log()).slice(-3000)}`);
      }
      if (
        await client(['-e', 'select 1']).then(
          () => true,
          () => false,
        )
      )
        break;
      if (Date.now() > deadline) {
        throw new Error(`mariadbd not ready after ${STARTUP_TIMEOUT_MS} ms:\n${(await log()).slice(-3000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const { user, database } of options.logins) {
      // RDS: CREATE USER ... IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'; ALTER USER ... REQUIRE SSL.
      await adminSql(
        `CREATE USER '${user}'@'%' IDENTIFIED VIA pam USING '${service}' REQUIRE SSL; ` +
          `CREATE DATABASE ${database}; GRANT ALL ON ${database}.* TO '${user}'@'%'`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const clientVersion = (await run(CLIENT, ['--version'])).stdout.trim();
  return {
    host: LOOPBACK,
    port,
    caFile: join(tlsDir, 'ca.crt'),
    client: CLIENT,
    clientVersion,
    adminSql,
    log,
    stop,
  };
}
