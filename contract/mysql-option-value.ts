/**
 * What a value in the sidecar's MySQL option file (`<name>.my.cnf`) may hold. Values are written bare
 * (`user=ledger`), because the option-file readers of MySQL and MariaDB change a value on the way in:
 * they trim whitespace, strip quotes, read `\` as an escape, cut at `#` (a comment) and treat `;` as a
 * comment in places. They also trim byte A0 (a latin1 no-break space) from the end, which cuts the
 * last character of UTF-8 text such as "à" (C3 A0). So user, database and token may hold none of
 * those, nor what the contract refuses everywhere (safe-text.ts). The webhook denies a mysql target breaking this rule (target-rules.ts),
 * and the sidecar's renderer checks it again: the file never reaches a client changed.
 */

import { unsafeCharacter } from './safe-text.ts';

const NAMED: Readonly<Record<string, string>> = {
  '"': 'a double quote',
  "'": 'a single quote',
  '\\': 'a backslash',
  '#': 'a "#"',
  ';': 'a ";"',
};

/** Every character a bare option value may not hold (after those safe-text.ts already refuses). */
const OPTION_FILE_SPECIAL = /[\s"'\\#;]/u;

/** The rule, as error messages state it. */
export const OPTION_FILE_VALUE_RULE =
  'an option-file value holds no whitespace, quote, "\\", "#" or ";" and does not end in byte A0';

/**
 * Why `value` cannot be written bare into a MySQL option file, e.g. `a space (U+0020)`, or undefined
 * when it can. Names the character, never the text around it (the value may be the token).
 */
export function optionFileCharacter(value: string): string | undefined {
  const unsafe = unsafeCharacter(value);
  if (unsafe !== undefined) return unsafe;
  const found = OPTION_FILE_SPECIAL.exec(value)?.[0];
  if (found !== undefined) {
    const named = NAMED[found];
    if (named !== undefined) return named;
    return `${found === ' ' ? 'a space' : 'whitespace'} (U+${hex(found)})`;
  }
  const last = Array.from(value).at(-1);
  if (last !== undefined && new TextEncoder().encode(last).at(-1) === 0xa0) {
    return `a final character (U+${hex(last)}) whose UTF-8 form ends in byte A0, which MySQL clients trim as a no-break space`;
  }
  return undefined;
}

function hex(character: string): string {
  return (character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}
