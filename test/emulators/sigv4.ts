// An independent AWS Signature Version 4 implementation (signing and verification) built on node:crypto.
// Test infrastructure only: it is the judge product code is measured against, so it must never import
// product code and must not reuse the SDK's signer.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Longest validity AWS accepts for a presigned URL (7 days). */
export const MAX_PRESIGN_EXPIRES_SECONDS = 604_800;
/** AWS rejects header-signed requests whose X-Amz-Date is more than 5 minutes from its clock. */
export const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 300;

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** What a verifier knows about an access key id (the issuer's view, not the client's). */
export interface KnownCredential {
  secretAccessKey: string;
  /** Present for temporary credentials: requests must carry exactly this token. */
  sessionToken?: string | undefined;
  /** Temporary credentials stop working at this instant (Date or epoch ms). */
  expiration?: Date | number | undefined;
}

export type CredentialLookup = (accessKeyId: string) => KnownCredential | undefined;

export type HeaderBag = Record<string, string | number | readonly string[] | undefined>;

export interface SignableRequest {
  method: string;
  /** Path as sent on the wire (already percent-encoded); may carry `?query`. */
  path: string;
  /** Raw query string without the leading `?`; appended to any query in `path`. */
  query?: string | undefined;
  headers: HeaderBag;
  body?: string | Uint8Array | undefined;
}

export type SigV4FailureReason =
  | 'missing-authentication' // neither an Authorization header nor X-Amz-Signature
  | 'malformed' // Authorization / X-Amz-* parts missing or unparsable
  | 'unsupported-algorithm'
  | 'unsigned-required-header' // host (or a caller-required header) is not in SignedHeaders
  | 'unknown-access-key'
  | 'missing-security-token' // temporary credential used without its session token
  | 'token-mismatch' // session token differs from the one issued with the key
  | 'credential-expired' // the temporary credential is past its Expiration
  | 'wrong-scope' // scope date/region/service/terminator does not fit the request
  | 'clock-skew' // header-signed request dated too far from the verifier's clock
  | 'expired' // presigned URL past X-Amz-Date + X-Amz-Expires
  | 'bad-expires' // X-Amz-Expires missing, not a number, or out of range
  | 'signature-mismatch';

export interface SigV4Success {
  ok: true;
  mode: 'header' | 'query';
  accessKeyId: string;
  credential: KnownCredential;
  region: string;
  service: string;
  signedAt: Date;
  signedHeaders: string[];
  /** Query mode only: X-Amz-Date + X-Amz-Expires. */
  expiresAt?: Date;
  /** Query mode only: the decoded query parameters (X-Amz-* included). */
  params: Array<[string, string]>;
}

export interface SigV4Failure {
  ok: false;
  reason: SigV4FailureReason;
  /** Human readable, never contains a secret, a session token or a signature. */
  message: string;
  accessKeyId?: string;
}

export type SigV4Verification = SigV4Success | SigV4Failure;

export interface VerifyOptions {
  lookup: CredentialLookup;
  /** The verifier's clock (epoch ms, or Date). */
  now: number | Date;
  /** Header mode tolerance; Infinity disables the check. Default 300 s. */
  maxClockSkewSeconds?: number;
  /** When set, the credential scope must name this service. */
  expectedService?: string;
  /** When set, the credential scope must name this region. */
  expectedRegion?: string;
  /** Lowercase header names that must be among the signed headers (host always is). */
  requiredSignedHeaders?: readonly string[];
}

// ---------------------------------------------------------------- primitives

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function deriveSigningKey(
  secretAccessKey: string,
  shortDate: string,
  region: string,
  service: string,
): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, shortDate);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20240101T000000Z` for a Date. */
export function toAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Non-S3 canonical URI: normalise `.`/`..`/empty segments, then encode the wire path once more. */
export function canonicalUri(wirePath: string): string {
  const path = wirePath === '' ? '/' : wirePath;
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  const normalised = `/${segments.join('/')}${trailing}`;
  return uriEncode(normalised).replace(/%2F/g, '/');
}

/** Decode a raw query string into ordered [name, value] pairs (`+` stays a literal plus, as AWS SDKs never send it for space). */
export function parseQuery(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    out.push([safeDecode(name), safeDecode(value)]);
  }
  return out;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function canonicalQueryString(params: ReadonlyArray<readonly [string, string]>): string {
  return params
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValue(value: string | number | readonly string[]): string {
  const joined = Array.isArray(value) ? value.join(',') : String(value);
  return joined.trim().replace(/\s+/g, ' ');
}

/** Lowercased header map with canonical values (trimmed, inner whitespace collapsed). */
export function normaliseHeaders(headers: HeaderBag): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const v = headerValue(value);
    const prior = out.get(lower);
    out.set(lower, prior === undefined ? v : `${prior},${v}`);
  }
  return out;
}

export interface CanonicalRequestParts {
  method: string;
  wirePath: string;
  params: ReadonlyArray<readonly [string, string]>;
  headers: Map<string, string>;
  signedHeaders: readonly string[];
  payloadHash: string;
}

export function buildCanonicalRequest(parts: CanonicalRequestParts): string {
  const headerLines = parts.signedHeaders
    .map((name) => `${name}:${parts.headers.get(name) ?? ''}\n`)
    .join('');
  return [
    parts.method.toUpperCase(),
    canonicalUri(parts.wirePath),
    canonicalQueryString(parts.params),
    headerLines,
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

export function buildStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
}

export function computeSignature(
  secretAccessKey: string,
  amzDate: string,
  region: string,
  service: string,
  canonicalRequest: string,
): string {
  const shortDate = amzDate.slice(0, 8);
  const scope = `${shortDate}/${region}/${service}/aws4_request`;
  const key = deriveSigningKey(secretAccessKey, shortDate, region, service);
  return createHmac('sha256', key)
    .update(buildStringToSign(amzDate, scope, canonicalRequest), 'utf8')
    .digest('hex');
}

function splitPath(req: SignableRequest): { wirePath: string; rawQuery: string } {
  const q = req.path.indexOf('?');
  const wirePath = q === -1 ? req.path : req.path.slice(0, q);
  const inline = q === -1 ? '' : req.path.slice(q + 1);
  const extra = req.query ?? '';
  const rawQuery = inline && extra ? `${inline}&${extra}` : inline || extra;
  return { wirePath, rawQuery };
}

function payloadHashOf(body: string | Uint8Array | undefined): string {
  return body === undefined || body.length === 0 ? EMPTY_PAYLOAD_SHA256 : sha256Hex(body);
}

// ---------------------------------------------------------------- signing

export interface SignOptions {
  region: string;
  service: string;
  date: Date;
}

/**
 * Header-signs a request: returns a copy of its headers with X-Amz-Date, X-Amz-Security-Token (if any),
 * and Authorization added. Every header passed in is signed; `host` must be among them.
 */
export function signRequest(
  req: SignableRequest,
  creds: SigningCredentials,
  opts: SignOptions,
): Record<string, string> {
  const amzDate = toAmzDate(opts.date);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  out['x-amz-date'] = amzDate;
  if (creds.sessionToken) out['x-amz-security-token'] = creds.sessionToken;
  const headers = normaliseHeaders(out);
  if (!headers.has('host'))
    throw new Error('signRequest: headers.host is required; add the Host header the request will carry');
  headers.delete('authorization');
  const signedHeaders = [...headers.keys()].sort();
  const { wirePath, rawQuery } = splitPath(req);
  const canonical = buildCanonicalRequest({
    method: req.method,
    wirePath,
    params: parseQuery(rawQuery),
    headers,
    signedHeaders,
    payloadHash: payloadHashOf(req.body),
  });
  const signature = computeSignature(creds.secretAccessKey, amzDate, opts.region, opts.service, canonical);
  const scope = `${amzDate.slice(0, 8)}/${opts.region}/${opts.service}/aws4_request`;
  out['authorization'] =
    `${SIGV4_ALGORITHM} Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return out;
}

export interface PresignInput {
  method?: string;
  host: string;
  path?: string;
  /** Unencoded query parameters, in any order. */
  params?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Query-string signs a request (signed header: host only). Returns `path?query` without scheme or host,
 * so an RDS token is `${host}${presignPath(...)}`.
 */
export function presignPath(
  input: PresignInput,
  creds: SigningCredentials,
  opts: SignOptions & { expiresInSeconds: number },
): string {
  const amzDate = toAmzDate(opts.date);
  const scope = `${amzDate.slice(0, 8)}/${opts.region}/${opts.service}/aws4_request`;
  const params: Array<[string, string]> = (input.params ?? []).map(([n, v]) => [n, v]);
  params.push(['X-Amz-Algorithm', SIGV4_ALGORITHM]);
  params.push(['X-Amz-Credential', `${creds.accessKeyId}/${scope}`]);
  params.push(['X-Amz-Date', amzDate]);
  params.push(['X-Amz-Expires', String(opts.expiresInSeconds)]);
  if (creds.sessionToken) params.push(['X-Amz-Security-Token', creds.sessionToken]);
  params.push(['X-Amz-SignedHeaders', 'host']);
  const path = input.path ?? '/';
  const canonical = buildCanonicalRequest({
    method: input.method ?? 'GET',
    wirePath: path,
    params,
    headers: new Map([['host', headerValue(input.host)]]),
    signedHeaders: ['host'],
    payloadHash: EMPTY_PAYLOAD_SHA256,
  });
  const signature = computeSignature(creds.secretAccessKey, amzDate, opts.region, opts.service, canonical);
  // Sorted by name, as the SDK's formatUrl emits them (so tokens compare byte for byte in shape).
  const query = [...params, ['X-Amz-Signature', signature] as const]
    .map(([n, v]) => [uriEncode(n), uriEncode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
  return `${path}?${query}`;
}

// ---------------------------------------------------------------- verification

function fail(reason: SigV4FailureReason, message: string, accessKeyId?: string): SigV4Failure {
  return accessKeyId === undefined
    ? { ok: false, reason, message }
    : { ok: false, reason, message, accessKeyId };
}

interface ParsedAuth {
  mode: 'header' | 'query';
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string | undefined;
  token: string | undefined;
  expires: string | undefined;
}

const CREDENTIAL_PATTERN = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/([^/]+)$/;

function parseCredential(
  value: string,
): Omit<ParsedAuth, 'mode' | 'signedHeaders' | 'signature' | 'amzDate' | 'token' | 'expires'> | undefined {
  const m = CREDENTIAL_PATTERN.exec(value);
  if (!m) return undefined;
  return { accessKeyId: m[1]!, scopeDate: m[2]!, region: m[3]!, service: m[4]!, terminator: m[5]! };
}

function parseAuthorizationHeader(value: string, headers: Map<string, string>): ParsedAuth | SigV4Failure {
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    return fail(
      'unsupported-algorithm',
      `Authorization uses algorithm "${algorithm}"; only ${SIGV4_ALGORITHM} is supported`,
    );
  }
  const fields = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return fail('malformed', 'Authorization header needs Credential=, SignedHeaders= and Signature= parts');
  }
  const cred = parseCredential(credential);
  if (!cred)
    return fail(
      'malformed',
      'Authorization Credential is not <key>/<yyyymmdd>/<region>/<service>/aws4_request',
    );
  return {
    mode: 'header',
    ...cred,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate: headers.get('x-amz-date') ?? dateHeaderAsAmzDate(headers.get('date')),
    token: headers.get('x-amz-security-token'),
    expires: undefined,
  };
}

function dateHeaderAsAmzDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : toAmzDate(new Date(ms));
}

function parseQueryAuth(params: Array<[string, string]>): ParsedAuth | SigV4Failure {
  const get = (name: string): string | undefined => params.find(([n]) => n === name)?.[1];
  const algorithm = get('X-Amz-Algorithm');
  if (algorithm !== SIGV4_ALGORITHM) {
    return fail(
      'unsupported-algorithm',
      `X-Amz-Algorithm is "${algorithm ?? ''}"; only ${SIGV4_ALGORITHM} is supported`,
    );
  }
  const credential = get('X-Amz-Credential');
  const signedHeaders = get('X-Amz-SignedHeaders');
  const signature = get('X-Amz-Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return fail('malformed', 'presigned URL needs X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Signature');
  }
  const cred = parseCredential(credential);
  if (!cred)
    return fail('malformed', 'X-Amz-Credential is not <key>/<yyyymmdd>/<region>/<service>/aws4_request');
  return {
    mode: 'query',
    ...cred,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate: get('X-Amz-Date'),
    token: get('X-Amz-Security-Token'),
    expires: get('X-Amz-Expires'),
  };
}

function toMs(value: number | Date): number {
  return typeof value === 'number' ? value : value.getTime();
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Verifies a SigV4-signed request the way an AWS service does: header auth (Authorization) or query auth
 * (X-Amz-Signature). The secret comes from `lookup`, never from the request.
 */
export function verifySignedRequest(req: SignableRequest, opts: VerifyOptions): SigV4Verification {
  const headers = normaliseHeaders(req.headers);
  const { wirePath, rawQuery } = splitPath(req);
  const params = parseQuery(rawQuery);
  const authorization = headers.get('authorization');
  let parsed: ParsedAuth | SigV4Failure;
  if (authorization !== undefined) parsed = parseAuthorizationHeader(authorization, headers);
  else if (params.some(([n]) => n === 'X-Amz-Signature')) parsed = parseQueryAuth(params);
  else
    return fail('missing-authentication', 'request has neither an Authorization header nor X-Amz-Signature');
  if ('ok' in parsed) return parsed;
  const auth = parsed;
  const key = auth.accessKeyId;

  if (auth.amzDate === undefined) return fail('malformed', 'request has no X-Amz-Date (or Date)', key);
  const signedAt = parseAmzDate(auth.amzDate);
  if (!signedAt) return fail('malformed', `X-Amz-Date "${auth.amzDate}" is not yyyyMMddTHHmmssZ`, key);

  const sortedSigned = [...auth.signedHeaders].sort();
  if (
    auth.signedHeaders.some((h) => h !== h.toLowerCase()) ||
    sortedSigned.join(';') !== auth.signedHeaders.join(';')
  ) {
    return fail(
      'malformed',
      `SignedHeaders "${auth.signedHeaders.join(';')}" must be lowercase and sorted`,
      key,
    );
  }
  for (const required of ['host', ...(opts.requiredSignedHeaders ?? [])]) {
    if (!auth.signedHeaders.includes(required)) {
      return fail('unsigned-required-header', `header "${required}" must be listed in SignedHeaders`, key);
    }
  }
  for (const name of auth.signedHeaders) {
    if (!headers.has(name))
      return fail('malformed', `signed header "${name}" is not present in the request`, key);
  }

  const known = opts.lookup(key);
  if (!known) return fail('unknown-access-key', `access key id ${key} is not known to the issuer`, key);
  if (known.sessionToken !== undefined) {
    if (auth.token === undefined || auth.token === '') {
      return fail(
        'missing-security-token',
        `access key id ${key} is temporary but the request carries no X-Amz-Security-Token`,
        key,
      );
    }
    if (!constantTimeEqualHex(auth.token, known.sessionToken)) {
      return fail(
        'token-mismatch',
        `X-Amz-Security-Token does not match the session token issued with ${key}`,
        key,
      );
    }
  }
  const nowMs = toMs(opts.now);
  if (known.expiration !== undefined && nowMs >= toMs(known.expiration)) {
    return fail(
      'credential-expired',
      `credential ${key} expired at ${new Date(toMs(known.expiration)).toISOString()}`,
      key,
    );
  }

  if (auth.terminator !== 'aws4_request')
    return fail('wrong-scope', `credential scope must end in aws4_request, not "${auth.terminator}"`, key);
  if (auth.scopeDate !== auth.amzDate.slice(0, 8)) {
    return fail(
      'wrong-scope',
      `credential scope date ${auth.scopeDate} differs from X-Amz-Date ${auth.amzDate}`,
      key,
    );
  }
  if (opts.expectedService !== undefined && auth.service !== opts.expectedService) {
    return fail(
      'wrong-scope',
      `credential should be scoped to service "${opts.expectedService}", not "${auth.service}"`,
      key,
    );
  }
  if (opts.expectedRegion !== undefined && auth.region !== opts.expectedRegion) {
    return fail(
      'wrong-scope',
      `credential should be scoped to region "${opts.expectedRegion}", not "${auth.region}"`,
      key,
    );
  }

  let expiresAt: Date | undefined;
  const skewMs = (opts.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS) * 1000;
  if (auth.mode === 'query') {
    const expires = auth.expires === undefined ? NaN : Number(auth.expires);
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_EXPIRES_SECONDS) {
      return fail(
        'bad-expires',
        `X-Amz-Expires "${auth.expires ?? ''}" must be an integer 1..${MAX_PRESIGN_EXPIRES_SECONDS}`,
        key,
      );
    }
    expiresAt = new Date(signedAt.getTime() + expires * 1000);
    if (nowMs > expiresAt.getTime()) {
      return fail(
        'expired',
        `presigned request expired at ${expiresAt.toISOString()} (signed ${signedAt.toISOString()}, ${expires}s)`,
        key,
      );
    }
    if (signedAt.getTime() - nowMs > skewMs) {
      return fail(
        'clock-skew',
        `presigned request is dated ${signedAt.toISOString()}, in the future of ${new Date(nowMs).toISOString()}`,
        key,
      );
    }
  } else if (Math.abs(signedAt.getTime() - nowMs) > skewMs) {
    return fail(
      'clock-skew',
      `X-Amz-Date ${auth.amzDate} is more than ${skewMs / 1000}s from ${toAmzDate(new Date(nowMs))}`,
      key,
    );
  }

  const canonical = buildCanonicalRequest({
    method: req.method,
    wirePath,
    params,
    headers,
    signedHeaders: auth.signedHeaders,
    payloadHash: payloadHashOf(req.body),
  });
  const expected = computeSignature(
    known.secretAccessKey,
    auth.amzDate,
    auth.region,
    auth.service,
    canonical,
  );
  if (!constantTimeEqualHex(expected, auth.signature)) {
    return fail(
      'signature-mismatch',
      'the signature we calculated does not match the signature provided',
      key,
    );
  }
  const success: SigV4Success = {
    ok: true,
    mode: auth.mode,
    accessKeyId: key,
    credential: known,
    region: auth.region,
    service: auth.service,
    signedAt,
    signedHeaders: auth.signedHeaders,
    params,
  };
  if (expiresAt) success.expiresAt = expiresAt;
  return success;
}
