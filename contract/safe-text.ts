/**
 * The one rule for text the sidecar writes into files and URIs (pgpass fields, the Mongo `.uri` file,
 * env-derived values): no line breaks, NUL or other control characters, no bidirectional-text
 * controls, no lone UTF-16 surrogates. The webhook denies such values and the sidecar refuses a config
 * holding them, both through this module, so the webhook cannot admit what the sidecar rejects.
 */

/** What kind of character makes a text unusable; the message never echoes the text itself. */
function describe(code: number): string | undefined {
  if (code === 0x0a || code === 0x0d || code === 0x85 || code === 0x2028 || code === 0x2029) {
    return 'a line break';
  }
  if (code === 0) return 'a NUL character';
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return 'a control character';
  // Bidi marks, embeddings, overrides and isolates reorder what a reader sees (Trojan Source).
  if (
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  ) {
    return 'a bidirectional-text control';
  }
  return undefined;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/** Index and description of the first unusable UTF-16 unit of `text`, if any. */
function firstUnsafe(text: string, from = 0): { index: number; description: string } | undefined {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isHighSurrogate(code) && isLowSurrogate(text.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    if (isHighSurrogate(code) || isLowSurrogate(code)) {
      return { index: i, description: `a lone surrogate (U+${hex(code)}, not valid Unicode)` };
    }
    const kind = describe(code);
    if (kind !== undefined) return { index: i, description: `${kind} (U+${hex(code)})` };
  }
  return undefined;
}

/**
 * Why `text` cannot be written by the sidecar, e.g. `a line break (U+000A)`, or undefined when it can.
 * Safe to show: it names the character, never the text around it.
 */
export function unsafeCharacter(text: string): string | undefined {
  return firstUnsafe(text)?.description;
}

/**
 * `text` with every unusable unit written as `\uXXXX`, so an error message that quotes user input
 * cannot break a log line or reorder what a terminal shows.
 */
export function escapeUnsafeCharacters(text: string): string {
  let out = '';
  let last = 0;
  for (let found = firstUnsafe(text); found; found = firstUnsafe(text, found.index + 1)) {
    out += `${text.slice(last, found.index)}\\u${hex(text.charCodeAt(found.index)).toLowerCase()}`;
    last = found.index + 1;
  }
  return out + text.slice(last);
}
