/**
 * Nesting depth of JSON text, measured on the text before anything parses it. V8's JSON.parse does not
 * recurse, but a body nested hundreds of thousands deep still costs native memory far beyond its size
 * while it is parsed, collected and walked. The API server never sends such a body: a Pod's schema
 * nests about 20 levels and unknown fields are dropped. So a body past MAX_BODY_DEPTH is refused
 * unparsed (400); pods between the pod bound (pod-shape.ts) and this one are parsed and denied with the
 * field named.
 *
 * Pure, one pass, no allocation; brackets inside strings (and escaped quotes) do not count.
 */

/** Deepest `{`/`[` nesting accepted in a request body: the pod bound (100) plus the envelope, many times over. */
export const MAX_BODY_DEPTH = 1000;

const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * The deepest nesting of `text`, counting stops as soon as it passes `limit` (the result is then
 * limit + 1): a scan that never reads further than it must.
 */
export function jsonDepth(text: string, limit: number = MAX_BODY_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // Skip the string: up to the next quote that is not escaped.
      for (i++; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) break;
      }
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      depth -= 1;
    }
  }
  return deepest;
}
