/**
 * A reader of the password file that follows libpq's rules (fe-connect.c: passwordFromFile and
 * pwdfMatchesString), written independently of the sidecar's writer:
 * - lines starting with `#` are comments; CR/LF are stripped; empty lines are skipped;
 * - each of host, port, database, user matches when the field is exactly `*` or equals the value,
 *   where `\` makes the next character literal and an unescaped `:` ends the field;
 * - the password is the rest of the line up to an unescaped `:`, with `\x` turned into `x`;
 * - the first matching line wins.
 */

/** Returns the rest of the line after a matching field, or undefined. */
function matchField(line: string, value: string): string | undefined {
  if (line.startsWith('*:')) return line.slice(2);
  let i = 0;
  let j = 0;
  let escaped = false;
  while (i < line.length) {
    if (line[i] === '\\' && !escaped) {
      i++;
      escaped = true;
    }
    if (line[i] === ':' && j === value.length && !escaped) return line.slice(i + 1);
    escaped = false;
    if (j === value.length) return undefined;
    if (line[i] === value[j]) {
      i++;
      j++;
    } else {
      return undefined;
    }
  }
  return undefined;
}

function unescapePassword(rest: string): string {
  let out = '';
  for (let i = 0; i < rest.length && rest[i] !== ':'; i++) {
    if (rest[i] === '\\' && i + 1 < rest.length) i++;
    out += rest[i];
  }
  return out;
}

export function lookupPgpass(
  content: string,
  host: string,
  port: string,
  database: string,
  user: string,
): string | undefined {
  for (const raw of content.split('\n')) {
    if (raw.startsWith('#')) continue;
    const line = raw.replace(/\r$/, '');
    if (line.length === 0) continue;
    let rest: string | undefined = line;
    for (const v of [host, port, database, user]) {
      rest = matchField(rest, v);
      if (rest === undefined) break;
    }
    if (rest !== undefined) return unescapePassword(rest);
  }
  return undefined;
}
