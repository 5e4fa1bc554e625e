import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LOOPBACK, freePort } from './net.ts';

const run = promisify(execFile);

/** Debian installs each major version under here; `.ci/run` installs the package when it is missing. */
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';
const DEBIAN_PACKAGE_HINT =
  'install the Debian package "postgresql" (server, initdb, pg_ctl) and "postgresql-client" (psql): apt-get install -y postgresql postgresql-client';

/** The setup superuser; it may log in only over the unix socket in the temp dir, with `trust`. */
const SUPERUSER = 'tbadmin';
/** The project's own certificate script (the README's), also used for the webhook and MariaDB. */
const CERTS_SCRIPT = fileURLToPath(new URL('../../../certs/generate.sh', import.meta.url));
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export interface DatabaseLogin {
  /** Role with LOGIN and no password: it can only get in through the LDAP bind. */
  readonly user: string;
  /** Database owned by that role. */
  readonly database: string;
}

export interface PostgresOptions {
  /** Port of the LDAP server that `pg_hba.conf` sends simple binds to (on 127.0.0.1). */
  readonly ldapPort: number;
  /** TCP port on 127.0.0.1; a free ephemeral port when omitted. */
  readonly port?: number;
  readonly logins: readonly DatabaseLogin[];
  /** Directory holding initdb/pg_ctl/postgres/psql; the newest /usr/lib/postgresql/<ver>/bin when omitted. */
  readonly binDir?: string;
  /**
   * TLS on (`ssl = on`) with a server certificate from a throwaway CA for these names (`DNS:` or `IP:`
   * subjectAltNames, e.g. `DNS:localhost`), and IAM logins accepted over TLS only (`hostssl ... ldap`).
   * Without it: plain TCP, `host ... ldap`.
   */
  readonly tls?: { readonly subjectAltNames: readonly string[] };
  /** `max_connections`; 40 when omitted. */
  readonly maxConnections?: number;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** Directory of the server's unix socket (superuser access only). */
  readonly socketDir: string;
  readonly binDir: string;
  /** The psql of the same major version as the server. */
  readonly psql: string;
  readonly superuser: string;
  /** The CA that signed the server certificate (PEM file), when started with `tls`. */
  readonly caFile?: string;
  /**
   * Replaces the server certificate with one for other subjectAltNames (same CA) and reloads the server:
   * new connections get it, open ones keep theirs. Only when started with `tls`.
   */
  serveCertificateFor(subjectAltNames: readonly string[]): Promise<void>;
  /** Runs SQL as the superuser over the unix socket; returns psql's unaligned, tuples-only output. */
  adminSql(sql: string, database?: string): Promise<string>;
  /** The server log so far (connection and authentication lines included). */
  log(): Promise<string>;
  /** Immediate shutdown and removal of the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The newest PostgreSQL under /usr/lib/postgresql that has a server and psql, or a clear error. */
export function findPostgresBinDir(root: string = DEBIAN_PG_ROOT): string {
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (['initdb', 'pg_ctl', 'postgres', 'psql'].every((tool) => existsSync(join(bin, tool)))) return bin;
  }
  throw new Error(`PostgreSQL server binaries not found under ${root}/<version>/bin: ${DEBIAN_PACKAGE_HINT}`);
}

/** uid/gid of an OS user, read from /etc/passwd (no native getpwnam in Node). */
function osUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  const fields = line?.split(':');
  if (fields === undefined || fields.length < 4) {
    throw new Error(
      `OS user "${name}" not found in /etc/passwd; running as root needs it: ${DEBIAN_PACKAGE_HINT}`,
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await run('chown', ['-R', `${uid}:${gid}`, path]);
}

/** Quotes a value for postgresql.conf / pg_hba.conf (single quotes doubled). */
function confString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** SHA-256 fingerprint of the certificate a PostgreSQL server presents after SSLRequest (no verification). */
async function presentedFingerprint(host: string, port: number): Promise<string> {
  const socket = connect({ host, port });
  try {
    await once(socket, 'connect');
    socket.write(SSL_REQUEST);
    const [answer] = (await once(socket, 'data')) as [Buffer];
    if (answer.toString('latin1') !== 'S') throw new Error('the server does not offer TLS');
    const secure = tlsConnect({ socket, rejectUnauthorized: false, servername: 'localhost' });
    await once(secure, 'secureConnect');
    const fingerprint = secure.getPeerX509Certificate()?.fingerprint256 ?? '';
    secure.destroy();
    return fingerprint;
  } finally {
    socket.destroy();
  }
}

/**
 * A throwaway PostgreSQL cluster: initdb in a temp dir, TCP on 127.0.0.1 only, every TCP login checked by
 * an LDAP simple bind (`cn=<user>,dc=rds,dc=local`, the password being the RDS IAM token). As root it runs
 * as the `postgres` OS user, because the server refuses to run as root.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  for (const login of options.logins) {
    for (const [field, value] of Object.entries(login) as Array<[string, string]>) {
      if (!IDENTIFIER.test(value)) {
        throw new Error(
          `logins.${field}: "${value}" is not a plain lowercase identifier; use [a-z_][a-z0-9_]*`,
        );
      }
    }
  }
  const binDir = options.binDir ?? findPostgresBinDir();
  const port = options.port ?? (await freePort());
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? osUser('postgres') : undefined;

  const root = await mkdtemp(join(tmpdir(), 'tb-e2e-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'socket');
  const logFile = join(root, 'server.log');
  const tlsDir = join(root, 'tls');
  await mkdir(socketDir);
  if (owner !== undefined) await chownTree(root, owner.uid, owner.gid);

  // As root, server-side tools run as `postgres` via runuser; otherwise as the current user.
  const asServerUser = async (tool: string, args: string[]): Promise<string> => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(binDir, tool), ...args]]
      : [join(binDir, tool), args];
    try {
      const { stdout } = await run(file, argv, { cwd: root, env: { ...process.env, LC_ALL: 'C' } });
      return stdout;
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      const log = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
      throw new Error(`${tool} ${args[0] ?? ''} failed: ${stderr.trim()}\n${log.slice(-2000)}`, {
        cause: error,
      });
    }
  };

  let stopped = false;
  const stopSync = (): void => {
    // Last resort if the test process exits without stop(): SIGQUIT = immediate shutdown.
    if (stopped) return;
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // not started or already gone
    }
  };
  // Also when the test process is stopped by a signal (a CI timeout); the signal is raised again after.
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    stopSync();
    process.kill(process.pid, signal);
  };
  process.once('exit', stopSync);
  process.once('SIGTERM', stopOnSignal);
  process.once('SIGINT', stopOnSignal);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    process.removeListener('exit', stopSync);
    process.removeListener('SIGTERM', stopOnSignal);
    process.removeListener('SIGINT', stopOnSignal);
    try {
      if (existsSync(join(dataDir, 'postmaster.pid'))) {
        await asServerUser('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
      }
    } finally {
      stopped = true;
      await rm(root, { recursive: true, force: true });
    }
  };

  // A certificate from certs/generate.sh: the SANs it always adds (DNS:postgres...) name no host used here.
  const writeCertificate = async (subjectAltNames: readonly string[]): Promise<void> => {
    if (subjectAltNames.length === 0) throw new Error('tls.subjectAltNames: name at least one host');
    await run('bash', [CERTS_SCRIPT, 'postgres', 'e2e', tlsDir], {
      env: { ...process.env, EXTRA_SANS: subjectAltNames.join(','), DAYS: '2' },
    });
    // The server reads the key as its own OS user and refuses a key others may read (0600 from the script).
    if (owner !== undefined) await chownTree(tlsDir, owner.uid, owner.gid);
  };

  try {
    await asServerUser('initdb', [
      '-D',
      dataDir,
      '-U',
      SUPERUSER,
      '--auth-local=trust',
      '--auth-host=reject',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    const conf = [
      `listen_addresses = ${confString(LOOPBACK)}`,
      `port = ${port}`,
      `unix_socket_directories = ${confString(socketDir)}`,
      // A disposable cluster: durability costs time and buys nothing here.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'shared_buffers = 16MB',
      `max_connections = ${options.maxConnections ?? 40}`,
      'log_connections = on',
      ...(options.tls === undefined
        ? []
        : [
            'ssl = on',
            `ssl_cert_file = ${confString(join(tlsDir, 'tls.crt'))}`,
            `ssl_key_file = ${confString(join(tlsDir, 'tls.key'))}`,
          ]),
    ].join('\n');
    // hostssl: like RDS with rds.force_ssl, a login in clear text finds no line and is refused.
    const ldap = `ldap ldapserver=${LOOPBACK} ldapport=${options.ldapPort} ldapprefix="cn=" ldapsuffix=",dc=rds,dc=local"`;
    const hba = [
      `local all ${SUPERUSER} trust`,
      `${options.tls === undefined ? 'host' : 'hostssl'} all all ${LOOPBACK}/32 ${ldap}`,
      '',
    ].join('\n');
    if (options.tls !== undefined) await writeCertificate(options.tls.subjectAltNames);
    await writeFile(join(dataDir, 'postgresql.conf'), `\n${conf}\n`, { flag: 'a' });
    await writeFile(join(dataDir, 'pg_hba.conf'), hba);
    if (owner !== undefined) await chownTree(dataDir, owner.uid, owner.gid);
    await asServerUser('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30']);
  } catch (error) {
    await stop();
    throw error;
  }

  const psql = join(binDir, 'psql');
  const adminSql = async (sql: string, database = 'postgres'): Promise<string> => {
    const args = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port)];
    const { stdout } = await run(psql, [...args, '-U', SUPERUSER, '-d', database, '-c', sql], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    return stdout.trim();
  };

  try {
    for (const { user, database } of options.logins) {
      await adminSql(`CREATE ROLE ${user} LOGIN`);
      await adminSql(`CREATE DATABASE ${database} OWNER ${user}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const serveCertificateFor = async (subjectAltNames: readonly string[]): Promise<void> => {
    if (options.tls === undefined) throw new Error('serveCertificateFor: start the server with `tls`');
    await writeCertificate(subjectAltNames);
    await asServerUser('pg_ctl', ['reload', '-D', dataDir]);
    // The reload is asynchronous (SIGHUP): wait until the server presents the new certificate.
    const wanted = new X509Certificate(await readFile(join(tlsDir, 'tls.crt'))).fingerprint256;
    for (let attempt = 0; (await presentedFingerprint(LOOPBACK, port)) !== wanted; attempt += 1) {
      if (attempt >= 50)
        throw new Error('serveCertificateFor: the server still presents the old certificate');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  return {
    host: LOOPBACK,
    port,
    socketDir,
    binDir,
    psql,
    superuser: SUPERUSER,
    ...(options.tls === undefined ? {} : { caFile: join(tlsDir, 'ca.crt') }),
    serveCertificateFor,
    adminSql,
    log: async () => (existsSync(logFile) ? await readFile(logFile, 'utf8') : ''),
    stop,
  };
}
