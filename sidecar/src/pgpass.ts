/**
 * The libpq password file: one line `host:port:database:user:password` per PostgreSQL target.
 * libpq reads fields up to an unescaped `:` and drops a `\` before any character, so `\` and `:`
 * are escaped; a field that is exactly `*` would be a wildcard and a line starting with `#` a
 * comment, so those are escaped too. RDS tokens contain `:` (host:port in the presigned URL).
 * Line breaks and other characters the contract refuses (contract/safe-text.ts) are refused here too.
 */

import { unsafeCharacter } from '../../contract/safe-text.ts';

export interface PgpassEntry {
  host: string;
  port: number;
  /** Undefined writes libpq's `*`: the line matches every database. */
  database: string | undefined;
  user: string;
  password: string;
}

export class PgpassError extends Error {
  constructor(field: string, character: string) {
    // The value is not echoed: it may be the token.
    super(
      `pgpass: ${field} contains ${character}; libpq cannot read such a field, fix the target's ${field}`,
    );
    this.name = 'PgpassError';
  }
}

export function escapePgpassField(value: string): string {
  const escaped = value.replace(/[\\:]/g, (c) => `\\${c}`);
  if (escaped === '*') return '\\*';
  return escaped;
}

function field(name: string, value: string): string {
  const bad = unsafeCharacter(value);
  if (bad !== undefined) throw new PgpassError(name, bad);
  return escapePgpassField(value);
}

export function renderPgpassLine(entry: PgpassEntry): string {
  const line = [
    field('host', entry.host),
    field('port', String(entry.port)),
    entry.database === undefined ? '*' : field('database', entry.database),
    field('user', entry.user),
    field('password', entry.password),
  ].join(':');
  return line.startsWith('#') ? `\\${line}` : line;
}

/** The whole file; libpq uses the first matching line, so order is the targets' order. */
export function renderPgpass(entries: readonly PgpassEntry[]): string {
  return entries.map((e) => `${renderPgpassLine(e)}\n`).join('');
}
