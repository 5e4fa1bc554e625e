/**
 * Secret scrubbing for anything user-written that the webhook shows back (denial messages land in
 * ReplicaSet events and CI logs). configError() runs every value through redactValue(), so no
 * caller has to remember to; the secrets it found are also cut out of the message and fix text.
 * Secrets are looked for in the value as written and percent-decoded (`u%3A<secret>@host`).
 */

/** Stands in for anything that may be a secret (a password, a session token). */
export const REDACTED = '<redacted>';

/**
 * Query keys that carry a secret in some driver's option set (password, sslpassword, proxyPassword,
 * tlsCertificateKeyFilePassword, passphrase, sessionToken, AWS_SESSION_TOKEN, authMechanismProperties,
 * ...), matched on the decoded key with case, `_`, `-` and `.` ignored.
 */
const SECRET_KEY =
  /pass(?:word|wd|phrase)?|pwd|secret|token|credential|authmechanismproperties|privatekey|apikey|signature/;

export function isSecretQueryKey(key: string): boolean {
  return SECRET_KEY.test(
    looseDecode(key)
      .toLowerCase()
      .replace(/[-_.\s]/g, ''),
  );
}

/** What was shown, and the exact substrings hidden (to cut them out of text that quotes them). */
export interface Redaction {
  shown: string;
  secrets: string[];
}

const SCHEME = /[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * `key=value` / `key: value` pairs outside a URI query whose key names a secret: libpq keyword
 * strings (`password=...`), env-style (`DB_PASSWORD=...`, `AWS_SESSION_TOKEN:...`), JSON-ish.
 * The key words are SECRET_KEY's (but not a bare `pass`, as in `compass=`), separators allowed.
 */
const SECRET_PAIR =
  /(?<![A-Za-z0-9])([A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)|pwd|secret|token|credentials?|authmechanismproperties|private[-_.]?key|api[-_.]?key|signature)["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,"']+)/gi;

/**
 * `?key=value` / `&key=value` anywhere in a text: a query that the user-info guess of redactUri
 * swallowed (an "@" in the query moves the guessed end of the user-info past `?`) is still one.
 */
const QUERY_PAIR = /([?&])([^=&?#]*)=([^&#]*)/g;

/**
 * STS session tokens start with these base64 prefixes; anything this long and opaque is a token too
 * (starting at a letter or digit, so the "//" of a URI before it stays shown).
 */
const SESSION_TOKEN =
  /(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9+/=%]*|[A-Za-z0-9+][A-Za-z0-9+/=%]{99,}/g;

/** `scheme://user:password@` anywhere in a text. */
const URI_PASSWORD = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@\s]*:[^/?#\s]*@/;

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Decodes every well-formed %-escape run and leaves malformed ones as they are. */
export function looseDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => safeDecode(run) ?? run);
}

/** More secrets than this in one value: every text quoting it is hidden whole (bounded work). */
const MAX_SECRETS = 64;

/** Records a secret as written and decoded; scrubSecrets() also cuts its %-escaped spellings. */
function record(secrets: string[], secret: string): void {
  // Past the cap every text quoting the value is hidden whole, so more entries change nothing.
  if (secrets.length > MAX_SECRETS) return;
  for (const s of [secret, looseDecode(secret)]) {
    if (s !== '' && s !== REDACTED && !secrets.includes(s)) secrets.push(s);
  }
}

/**
 * Keys of MongoDB's authMechanismProperties whose values are names, not secrets; every other inner
 * value of a key:value list under a secret key is taken for one.
 */
const NAME_LIST_KEYS = new Set([
  'servicename',
  'servicerealm',
  'servicehost',
  'canonicalizehostname',
  'environment',
  'allowedhosts',
]);

/**
 * Records the value of a secret key and, when it is a key:value list (MongoDB's
 * `authMechanismProperties=AWS_SESSION_TOKEN:<token>,SERVICE_NAME:x`, or `k=v` items), each inner
 * value: the token alone may also stand elsewhere in the annotation (as the database, say).
 */
function recordSecretValue(secrets: string[], raw: string): void {
  record(secrets, raw);
  for (const item of looseDecode(raw).split(',')) {
    const sep = item.search(/[:=]/);
    if (sep < 0) continue;
    const key = item
      .slice(0, sep)
      .toLowerCase()
      .replace(/[-_.\s]/g, '');
    if (!NAME_LIST_KEYS.has(key)) record(secrets, item.slice(sep + 1));
  }
}

/** Scheme names that may stand inside a user-info guessed without a scheme (`jdbc:postgresql://u:pw@`). */
const KNOWN_SCHEME = /^(?:jdbc|postgres|postgresql|mysql|mariadb|mongodb|mongodb\+srv|https?)$/i;

/**
 * Records the password of a user-info: after its first `:`, as written and decoded. That split is a
 * guess (a missing scheme leaves `//d:` before the password, `%3A` hides a colon, a password may hold
 * `:` or `://`, an unencoded `@` in the host or query may end the user-info late), so what follows
 * every decoded `:` is recorded, and every piece between `:` and `@` after the first `:`, except a
 * known scheme name before `://` and the user after it, which are no secret.
 */
function recordUserinfo(secrets: string[], userinfo: string): void {
  const colon = userinfo.indexOf(':');
  if (colon >= 0) record(secrets, userinfo.slice(colon + 1));
  const decoded = looseDecode(userinfo);
  const first = decoded.indexOf(':');
  if (first < 0) return;
  for (let at = first; at >= 0; at = decoded.indexOf(':', at + 1)) record(secrets, decoded.slice(at + 1));
  let afterScheme = false;
  for (const piece of decoded.slice(first + 1).matchAll(/[^:@]+/g)) {
    const scheme =
      KNOWN_SCHEME.test(piece[0]) && piece.input.startsWith('://', piece.index + piece[0].length);
    if (!scheme && !(afterScheme && piece[0].startsWith('//'))) record(secrets, piece[0]);
    afterScheme = scheme;
  }
}

/** Whether a (decoded) value looks like a secret: a session token, a `password=` pair, a URI password. */
export function looksLikeSecret(text: string): boolean {
  return (
    new RegExp(SESSION_TOKEN.source).test(text) ||
    new RegExp(SECRET_PAIR.source, 'i').test(text) ||
    URI_PASSWORD.test(text)
  );
}

/**
 * A URI as it may be shown: the password in the user-info (the last `@` ends it) and the values of
 * secret query keys become REDACTED. Without a scheme, with a user that is not plain text, or with a
 * `:` that only shows once decoded (`u%3Apw`), the split is a guess and the whole user-info is hidden.
 */
export function redactUri(value: string, secrets: string[] = []): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)/.exec(value)?.[1] ?? '';
  const rest = value.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  let shown = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    const plainUser = /^[A-Za-z0-9._~%+-]*$/.test(user) && !looseDecode(user).includes(':');
    let shownUserinfo: string;
    if (!plainUser || !scheme) {
      shownUserinfo = REDACTED;
      record(secrets, userinfo);
      recordUserinfo(secrets, userinfo);
    } else if (colon >= 0) {
      shownUserinfo = `${user}:${REDACTED}`;
      recordUserinfo(secrets, userinfo);
    } else {
      shownUserinfo = user;
    }
    shown = `${shownUserinfo}@${rest.slice(at + 1)}`;
  }
  const q = shown.indexOf('?');
  if (q >= 0) {
    const query = shown
      .slice(q + 1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (!isSecretQueryKey(eq >= 0 ? pair.slice(0, eq) : pair)) return pair;
        if (eq >= 0) recordSecretValue(secrets, pair.slice(eq + 1));
        return `${pair.slice(0, eq >= 0 ? eq : pair.length)}=${REDACTED}`;
      })
      .join('&');
    shown = `${shown.slice(0, q)}?${query}`;
  }
  return scheme + shown;
}

/** The pattern-based passes: secret query options, secret `key=value` pairs, session-token-looking runs. */
function redactPatterns(text: string, secrets: string[]): string {
  const unqueried = text.replace(QUERY_PAIR, (match, sep: string, key: string, raw: string) => {
    if (!isSecretQueryKey(key)) return match;
    if (raw !== REDACTED) recordSecretValue(secrets, raw);
    return `${sep}${key}=${REDACTED}`;
  });
  const shown = unqueried.replace(SECRET_PAIR, (_match, key: string, raw: string) => {
    const quote = /^["']/.test(raw) ? raw.charAt(0) : '';
    const secret = quote ? raw.slice(1, -1) : raw;
    if (secret !== REDACTED) recordSecretValue(secrets, secret);
    return `${key}${quote}${REDACTED}${quote}`;
  });
  return shown.replace(SESSION_TOKEN, (token) => {
    record(secrets, token);
    return REDACTED;
  });
}

/**
 * Any user-written value as it may be shown: a URI anywhere in it is redacted (redactUri, from its
 * scheme to the end, so a password with spaces or quotes is covered), then secret `key=value`
 * pairs and session-token-looking runs. The same passes over the decoded value find secrets that
 * hide behind %-escapes; every secret found is then cut wherever else it appears in the value. If a
 * secret would still show once decoded, the whole value is hidden. Over-redacting is the safe failure.
 */
export function redactValue(value: string): Redaction {
  const secrets: string[] = [];
  const start = SCHEME.exec(value)?.index ?? 0;
  let shown = redactPatterns(value.slice(0, start) + redactUri(value.slice(start), secrets), secrets);
  // After a ":" the first "x://" may lie inside a password (`u:pw://x@host`): the value read as a
  // URI without a scheme finds that password too (recorded only; the shown form stays the first).
  if (looseDecode(value.slice(0, start)).includes(':')) redactUri(value, secrets);
  // Structure-free passes only: re-splitting a decoded URI on a decoded "@" or "/" would guess wrong.
  const decoded = looseDecode(value);
  if (decoded !== value) redactPatterns(decoded, secrets);
  shown = scrubSecrets(shown, secrets);
  // Safety net: a secret still readable once decoded (an odd spelling) hides the whole value.
  const decodedShown = looseDecode(shown);
  if (secrets.some((s) => findSecret(decodedShown, s))) shown = REDACTED;
  return { shown, secrets };
}

/**
 * Secrets shorter than this are cut only where they stand as a whole token next to punctuation
 * (`"ab"`, `:ab@`, `/ab`): a password such as "is" must go, but cutting it everywhere would
 * garble ordinary words of the message, and prose words sit between spaces, not punctuation.
 */
const MIN_ANYWHERE_LENGTH = 4;

const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Stands in for REDACTED while secrets are cut, so a cut never lands inside a marker and a marker
 * still counts as punctuation next to a short secret. (A private-use character in the user's own
 * text comes back as REDACTED: over-redaction, the safe side.)
 */
const MARK = '\uE000';

const UTF8 = new TextEncoder();

function hexDigit(digit: string): string {
  return /[a-f]/i.test(digit) ? `[${digit.toLowerCase()}${digit.toUpperCase()}]` : digit;
}

/** Each character as itself or as its %-escaped UTF-8 bytes, so any mix of spellings matches. */
function spelledPattern(secret: string): string {
  let pattern = '';
  for (const ch of secret) {
    const escaped = [...UTF8.encode(ch)]
      .map((b) => `%${[...b.toString(16).toUpperCase().padStart(2, '0')].map(hexDigit).join('')}`)
      .join('');
    pattern += `(?:${ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}|${escaped})`;
  }
  return pattern;
}

const PUNCT_BEFORE = '(?<=[^\\p{L}\\p{N}\\s]|%[0-9A-Fa-f]{2})';
const NO_WORD_BEFORE = '(?:(?<![\\p{L}\\p{N}])|(?<=%[0-9A-Fa-f]{2}))';
const PUNCT_AFTER = '(?=[^\\p{L}\\p{N}\\s])';
const NO_WORD_AFTER = '(?![\\p{L}\\p{N}])';

function secretPattern(secret: string): RegExp | undefined {
  const spelled = spelledPattern(secret);
  if (secret.length >= MIN_ANYWHERE_LENGTH) return new RegExp(spelled, 'gu');
  // A 1-3 character secret of punctuation alone protects nothing and would eat the quotes.
  if (!WORD_CHAR.test(secret)) return undefined;
  // Not inside a word, and next to punctuation (or a %-escape) on at least one side.
  return new RegExp(
    `${PUNCT_BEFORE}${spelled}${NO_WORD_AFTER}|${NO_WORD_BEFORE}${spelled}${PUNCT_AFTER}`,
    'gu',
  );
}

/**
 * Longer secrets (tokens) are cut as written and fully %-encoded only: spelling out every character
 * would build a regular expression as large as the annotation.
 */
const MAX_SPELLED_LENGTH = 256;

function encodedForm(text: string): string | undefined {
  try {
    return encodeURIComponent(text);
  } catch {
    return undefined; // a lone surrogate
  }
}

function cut(text: string, secret: string): string {
  if (secret.length > MAX_SPELLED_LENGTH) {
    let out = text.split(secret).join(MARK);
    const encoded = encodedForm(secret);
    if (encoded !== undefined) out = out.split(encoded).join(MARK);
    return out;
  }
  const pattern = secretPattern(secret);
  return pattern ? text.replace(pattern, MARK) : text;
}

function findSecret(text: string, secret: string): boolean {
  const marked = text.split(REDACTED).join(MARK);
  return cut(marked, secret) !== marked;
}

/**
 * Replaces every occurrence of the given secrets, in any mix of plain and %-escaped spelling, in
 * code-authored text that quotes user input. If one still reads once decoded (a long secret in a
 * mixed spelling), the whole text is hidden.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  if (secrets.length > MAX_SECRETS) return REDACTED;
  // Longest first, so a secret containing a shorter one is removed whole.
  let out = text.split(REDACTED).join(MARK);
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = cut(out, secret);
  }
  const decoded = looseDecode(out);
  if (decoded !== out && secrets.some((s) => cut(decoded, s) !== decoded)) return REDACTED;
  return out.split(MARK).join(REDACTED);
}
