/**
 * Secret scrubbing for anything user-written that the webhook shows back (denial messages land in
 * ReplicaSet events and CI logs). configError() runs every value through redactValue(), so no
 * caller has to remember to; the secrets it found are also cut out of the message and fix text.
 */

/** Stands in for anything that may be a secret (a password, a session token). */
export const REDACTED = '<redacted>';

/** Query keys whose values may be secrets; their values are redacted wherever a URI is shown. */
export const SECRET_QUERY_KEYS: ReadonlySet<string> = new Set([
  'password',
  'authmechanismproperties',
  'tlscertificatekeyfilepassword',
  'sslpassword',
]);

/** What was shown, and the exact substrings hidden (to cut them out of text that quotes them). */
export interface Redaction {
  shown: string;
  secrets: string[];
}

const SCHEME = /[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * `key=value` / `key: value` pairs outside a URI query whose key names a secret: libpq keyword
 * strings (`password=...`), env-style (`DB_PASSWORD=...`, `AWS_SESSION_TOKEN:...`), JSON-ish.
 */
const SECRET_PAIR =
  /(?<![A-Za-z0-9])([A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|authmechanismproperties|credentials?)["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,"']+)/gi;

/** STS session tokens start with these base64 prefixes; anything this long and opaque is a token too. */
const SESSION_TOKEN = /(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9+/=%]*|[A-Za-z0-9+/=%]{100,}/g;

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function record(secrets: string[], secret: string): void {
  for (const s of [secret, safeDecode(secret)]) {
    if (s !== undefined && s !== '' && s !== REDACTED && !secrets.includes(s)) secrets.push(s);
  }
}

/**
 * A URI as it may be shown: the password in the user-info (the last `@` ends it) and the values of
 * secret query keys become REDACTED. Without a scheme, or with a user that is not plain text, the
 * split is a guess and the whole user-info is hidden.
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
    const plainUser = /^[A-Za-z0-9._~%+-]*$/.test(user);
    let shownUserinfo: string;
    if (!plainUser || !scheme) {
      shownUserinfo = REDACTED;
      record(secrets, userinfo);
    } else if (colon >= 0) {
      shownUserinfo = `${user}:${REDACTED}`;
      record(secrets, userinfo.slice(colon + 1));
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
        const key = safeDecode(eq >= 0 ? pair.slice(0, eq) : pair) ?? pair;
        if (!SECRET_QUERY_KEYS.has(key.toLowerCase())) return pair;
        if (eq >= 0) record(secrets, pair.slice(eq + 1));
        return `${pair.slice(0, eq >= 0 ? eq : pair.length)}=${REDACTED}`;
      })
      .join('&');
    shown = `${shown.slice(0, q)}?${query}`;
  }
  return scheme + shown;
}

/**
 * Any user-written value as it may be shown: a URI anywhere in it is redacted (redactUri, from its
 * scheme to the end, so a password with spaces or quotes is covered), then secret `key=value`
 * pairs and session-token-looking runs. Over-redacting in an error message is the safe failure.
 */
export function redactValue(value: string): Redaction {
  const secrets: string[] = [];
  const start = SCHEME.exec(value)?.index ?? 0;
  let shown = value.slice(0, start) + redactUri(value.slice(start), secrets);
  shown = shown.replace(SECRET_PAIR, (_match, key: string, raw: string) => {
    const quote = /^["']/.test(raw) ? raw.charAt(0) : '';
    const secret = quote ? raw.slice(1, -1) : raw;
    if (secret !== REDACTED) record(secrets, secret);
    return `${key}${quote}${REDACTED}${quote}`;
  });
  shown = shown.replace(SESSION_TOKEN, (token) => {
    record(secrets, token);
    return REDACTED;
  });
  return { shown, secrets };
}

/** Secrets shorter than this are not cut out of message text: they would garble ordinary words. */
const MIN_SCRUBBED_LENGTH = 4;

/** Replaces every occurrence of the given secrets in code-authored text that quotes user input. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret containing a shorter one is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= MIN_SCRUBBED_LENGTH) out = out.split(secret).join(REDACTED);
  }
  return out;
}
