import { chmod, writeFile } from 'node:fs/promises';

/**
 * A pgpass file as libpq reads it (https://www.postgresql.org/docs/current/libpq-pgpass.html):
 * `hostname:port:database:username:password`, with `\` and `:` escaped by a backslash. libpq ignores the
 * file unless it is 0600 (no group/other access).
 */
export interface PgpassEntry {
  readonly host: string;
  readonly port: number | '*';
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

export function escapePgpassField(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error('pgpass field contains a line break; libpq cannot read it back');
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

export function pgpassLine(entry: PgpassEntry): string {
  return [entry.host, String(entry.port), entry.database, entry.user, entry.password]
    .map(escapePgpassField)
    .join(':');
}

export async function writePgpass(path: string, entries: readonly PgpassEntry[]): Promise<void> {
  await writeFile(path, entries.map((entry) => `${pgpassLine(entry)}\n`).join(''), { mode: 0o600 });
  await chmod(path, 0o600); // the mode option does not apply when the file already existed
}
