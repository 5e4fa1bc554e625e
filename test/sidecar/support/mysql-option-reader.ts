/**
 * How MySQL and MariaDB clients read an option file, written from their documented rules and checked
 * against `my_print_defaults` (test/e2e/mysql-iam.test.ts checks the product's file with the real one):
 * a line is read in pieces of at most 4,094 bytes (the rest of a longer one is read as a line of its
 * own, so a line of 4,095 bytes with its newline is the longest read whole), `#` and `;` lines are comments,
 * `[group]` starts a group, `name=value` with whitespace (and byte A0, latin1's no-break space) trimmed
 * around both, a `#` outside quotes ends the value, one pair of enclosing quotes is removed, and
 * `\n \t \r \b \s \" \' \\` are escapes. Independent of the product: it imports none of its code.
 */

const PIECE_BYTES = 4094;
const SPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0]);
const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  s: ' ',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

function lines(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < bytes.length) {
    const newline = bytes.indexOf(0x0a, start);
    const end = Math.min(newline < 0 ? bytes.length : newline + 1, start + PIECE_BYTES);
    out.push(bytes.subarray(start, end));
    start = end;
  }
  return out;
}

function trim(bytes: Buffer): Buffer {
  let start = 0;
  let end = bytes.length;
  while (start < end && SPACE.has(bytes[start]!)) start++;
  while (end > start && SPACE.has(bytes[end - 1]!)) end--;
  return bytes.subarray(start, end);
}

/** The line up to a `#` that is not inside quotes. */
function withoutComment(line: Buffer): Buffer {
  let quote: number | undefined;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if ((c === 0x22 || c === 0x27) && !escaped) {
      if (quote === undefined) quote = c;
      else if (quote === c) quote = undefined;
    }
    if (quote === undefined && c === 0x23) return line.subarray(0, i);
    escaped = quote !== undefined && c === 0x5c && !escaped;
  }
  return line;
}

function unescape(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const next = value[i + 1];
    if (c !== '\\' || next === undefined) {
      out += c;
      continue;
    }
    out += ESCAPES[next] ?? `\\${next}`;
    i++;
  }
  return out;
}

/** group -> option -> value; the last one of a name wins, as with the clients. */
export function readOptionFile(content: string): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  let group: Map<string, string> | undefined;
  for (const raw of lines(Buffer.from(content, 'utf8'))) {
    const line = trim(raw);
    const first = line[0];
    if (first === undefined || first === 0x23 || first === 0x3b || first === 0x21) continue;
    if (first === 0x5b) {
      const name = line.subarray(1, line.indexOf(0x5d)).toString('utf8').trim();
      group = groups.get(name) ?? new Map<string, string>();
      groups.set(name, group);
      continue;
    }
    if (group === undefined) throw new Error('an option outside any group');
    const text = withoutComment(line);
    const eq = text.indexOf(0x3d);
    const name = trim(eq < 0 ? text : text.subarray(0, eq)).toString('utf8');
    let value = eq < 0 ? '' : trim(text.subarray(eq + 1)).toString('utf8');
    const q = value[0];
    if (value.length >= 2 && (q === '"' || q === "'") && value.endsWith(q)) value = value.slice(1, -1);
    group.set(name, unescape(value));
  }
  return groups;
}
