import { readFile } from 'node:fs/promises';
import mysql from 'mysql2/promise';
import type { ConnectionOptions } from 'mysql2/promise';

/**
 * mysql2 as an app uses it against RDS for MySQL with IAM: TLS, and the `mysql_clear_password` plugin
 * (which RDS asks for) answered with the RDS IAM token. mysql2 sends no clear-text password unless the app
 * provides this plugin; an async one reads the token when each new connection logs in.
 */

export type MysqlAuthPlugins = NonNullable<ConnectionOptions['authPlugins']>;

/** The clear-text plugin answering with `password()` (NUL-terminated, as the protocol wants). */
export function clearPassword(password: () => string | Promise<string>): MysqlAuthPlugins {
  return { mysql_clear_password: () => async () => Buffer.from(`${await password()}\0`) };
}

/** The README's pattern: the token file is read for every new connection, so each gets the current token. */
export function clearPasswordFromFile(tokenFile: string): MysqlAuthPlugins {
  return clearPassword(() => readFile(tokenFile, 'utf8'));
}

export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** The CA that signed the server certificate (RDS: the global bundle). */
  readonly ca: string | Buffer;
}

/** TLS that checks the server certificate and its name. */
export function verifiedTls(ca: string | Buffer): ConnectionOptions['ssl'] {
  return { ca, rejectUnauthorized: true };
}

/**
 * One login on a new connection, then `select current_user()`; rejects with the server's own error
 * (`ER_ACCESS_DENIED_ERROR`, 1045, SQLSTATE 28000, for a refused token).
 */
export async function mysqlLogin(target: MysqlTarget, plugins: MysqlAuthPlugins): Promise<string> {
  const connection = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    ssl: verifiedTls(target.ca),
    authPlugins: plugins,
  });
  try {
    return await currentUser(connection);
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/** `current_user()` of a connection: `<user>@<host pattern>` of the account that logged in. */
export async function currentUser(connection: Pick<mysql.Connection, 'query'>): Promise<string> {
  const [rows] = await connection.query<Array<mysql.RowDataPacket & { user: string }>>(
    'select current_user() as user',
  );
  return rows[0]?.user ?? '';
}
