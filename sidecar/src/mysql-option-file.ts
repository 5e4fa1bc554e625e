/**
 * `<name>.my.cnf`, the MySQL counterpart of the pgpass: `mysql --defaults-extra-file=<it>` (and
 * mariadb, mysqldump, mysqladmin) read user, token, host and port from `[client]`, and the database
 * from `[mysql]`, the command-line client's own group (the other tools reject `database`). TLS and
 * clear-text options stay on the command line: the CA bundle is the app's, and the option names differ
 * between MySQL and MariaDB clients (an unknown one in `[client]` stops every tool).
 */

import { OPTION_FILE_VALUE_RULE, optionFileCharacter } from '../../contract/mysql-option-value.ts';

/**
 * The longest line the MySQL and MariaDB option-file readers take whole, newline included: they read
 * into a 4,096-byte buffer and take the rest of a longer line as a line of its own.
 */
export const MAX_OPTION_FILE_LINE_BYTES = 4095;

export interface MysqlOptionFileEntry {
  host: string;
  port: number;
  user: string;
  database: string;
  /** The RDS IAM token. */
  password: string;
}

type Field = keyof MysqlOptionFileEntry;

export class MysqlOptionFileError extends Error {
  constructor(
    readonly field: Field,
    problem: string,
  ) {
    // The value is never echoed: it may be the token.
    super(`MySQL option file: ${field} ${problem}`);
    this.name = 'MysqlOptionFileError';
  }
}

function fixFor(field: Field): string {
  return field === 'password'
    ? 'the signer returned an unusable token: report it'
    : `fix the target's ${field} (the webhook denies such a target)`;
}

function optionLine(field: Field, value: string): string {
  if (value === '') throw new MysqlOptionFileError(field, `is empty; ${fixFor(field)}`);
  const bad = optionFileCharacter(value);
  if (bad !== undefined) {
    throw new MysqlOptionFileError(field, `contains ${bad} (${OPTION_FILE_VALUE_RULE}); ${fixFor(field)}`);
  }
  const line = `${field}=${value}\n`;
  const bytes = Buffer.byteLength(line);
  if (bytes > MAX_OPTION_FILE_LINE_BYTES) {
    throw new MysqlOptionFileError(
      field,
      `would be a line of ${bytes} bytes, and MySQL clients read at most ${MAX_OPTION_FILE_LINE_BYTES} ` +
        `bytes a line (they would split it); ${
          field === 'password'
            ? 'the token is that long because the STS session token that signed it is: session tags, a session policy or role chaining make it grow; shorten them'
            : fixFor(field)
        }`,
    );
  }
  return line;
}

export function renderMysqlOptionFile(entry: MysqlOptionFileEntry): string {
  return [
    '[client]\n',
    optionLine('user', entry.user),
    optionLine('password', entry.password),
    optionLine('host', entry.host),
    optionLine('port', String(entry.port)),
    '[mysql]\n',
    optionLine('database', entry.database),
  ].join('');
}
