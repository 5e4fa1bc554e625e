/**
 * Parses the target annotations (`token-broker.io/rds-<name>`, `token-broker.io/mongo-<name>`) into
 * the contract's RdsTarget / MongoTarget. URIs are split by hand: a mongodb:// seed list is not a
 * WHATWG URL, and hand-splitting lets every error name exactly what is wrong without ever echoing a
 * password (configError() redacts every value it is given). Every credential-carrying form is denied
 * (user-info with a password or a token, secret query keys, secret-looking values), Mongo options
 * must be on the contract's allow-list, and each target built is run through the same checks the
 * sidecar runs on its config (contract/target-rules.ts), so nothing the sidecar refuses is admitted.
 */

import { MONGO_PASS_THROUGH_OPTIONS, passThroughMongoOption } from '../../../contract/mongo-options.ts';
import { unsafeCharacter } from '../../../contract/safe-text.ts';
import type {
  MongoScheme,
  MongoTarget,
  RdsEngine,
  RdsTarget,
  Target,
} from '../../../contract/sidecar-config.ts';
import {
  EXTERNAL_ID_PATTERN,
  isHostName,
  REGION_PATTERN,
  ROLE_ARN_PATTERN,
  targetProblems,
} from '../../../contract/target-rules.ts';
import { configError, type ConfigError, type ConfigErrorCode } from './config-error.ts';
import { isSecretQueryKey, looksLikeSecret, looseDecode } from './redact.ts';
import { editDistance } from './annotations.ts';
import { DEFAULT_RDS_CA_FILE } from './volumes.ts';

export { REGION_PATTERN, ROLE_ARN_PATTERN } from '../../../contract/target-rules.ts';

export interface TargetParse<T> {
  target?: T;
  errors: ConfigError[];
  warnings: string[];
}

/** RDS (and DocumentDB) endpoints carry their region: `db.abc.eu-west-1.rds.amazonaws.com`. */
const AWS_ENDPOINT_REGION =
  /\.([a-z]{2}(?:-[a-z]+){1,3}-\d{1,2})\.(?:rds|docdb|docdb-elastic)\.amazonaws\.com(?:\.cn)?\.?$/;

const TARGET_QUERY_KEYS = ['region', 'role', 'externalId'] as const;
/** RDS targets also take `proxy=<port>`: the sidecar's PostgreSQL proxy on 127.0.0.1:<port>. */
const RDS_QUERY_KEYS = [...TARGET_QUERY_KEYS, 'proxy'] as const;

const DEFAULT_PORTS: Record<RdsEngine, number> = { postgres: 5432, mysql: 3306 };
const MONGO_DEFAULT_PORT = 27017;

interface SplitUri {
  scheme: string;
  userinfo: string | undefined;
  authority: string;
  path: string;
  query: string | undefined;
  fragment: string | undefined;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Splits `scheme://[userinfo@]authority[/path][?query][#fragment]`; the last `@` ends the user-info. */
function splitUri(value: string): SplitUri | undefined {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(value);
  if (!match) return undefined;
  const scheme = (match[1] ?? '').toLowerCase();
  let rest = match[2] ?? '';
  let userinfo: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let fragment: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  let query: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash) : '';
  return { scheme, userinfo, authority, path, query, fragment };
}

interface QueryParam {
  key: string;
  value: string;
}

export function inferRegionFromHost(host: string): string | undefined {
  return AWS_ENDPOINT_REGION.exec(host)?.[1];
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Collects errors for one target annotation; configError() redacts the URI each one shows. */
class Collector {
  readonly errors: ConfigError[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly key: string,
    readonly value: string,
  ) {}

  add(code: ConfigErrorCode, message: string, fix: string): void {
    this.errors.push(configError(code, this.key, this.value, message, fix));
  }

  /**
   * Denies a decoded value the sidecar could not write (the contract's character rule) or that looks
   * like a secret; `what` names the field ("the database user"), `secretFix` says what belongs there.
   */
  checkText(what: string, value: string, secretFix: string): boolean {
    const bad = unsafeCharacter(value);
    if (bad !== undefined) {
      this.add(
        'unsafe-character',
        `${what} contains ${bad}; the sidecar could not write it to pgpass or the URI file`,
        `remove it from ${what} (a %-escape such as %0A counts as the character it encodes)`,
      );
      return false;
    }
    if (looksLikeSecret(value)) {
      this.add(
        'password-in-uri',
        `${what} looks like a secret (a session token or password); a secret must never live in an annotation`,
        `${secretFix} (and rotate that secret)`,
      );
      return false;
    }
    return true;
  }
}

/** The backstop: whatever the sidecar's config parser would refuse in a built target is denied. */
function sidecarAccepts(c: Collector, target: Target): boolean {
  for (const p of targetProblems(target)) {
    c.add(
      'unusable-target',
      `the sidecar would refuse this target: ${p.field} ${p.problem}`,
      'fix that part of the URI; token-broker admits only targets its sidecar can use',
    );
  }
  return c.errors.length === 0;
}

function checkHost(c: Collector, host: string, what: string): string | undefined {
  const lower = host.toLowerCase();
  if (host === '') {
    c.add('invalid-host', `${what} is missing`, 'write the endpoint host name after "//"');
    return undefined;
  }
  if (host.startsWith('[')) {
    c.add('invalid-host', `${what} "${host}" is an IPv6 literal`, 'use the DNS name of the endpoint');
    return undefined;
  }
  if (!isHostName(lower)) {
    c.add(
      'invalid-host',
      `${what} "${host}" is not a valid DNS name or IPv4 address`,
      'use the endpoint host name shown by AWS, e.g. "mydb.abc123.eu-west-1.rds.amazonaws.com"',
    );
    return undefined;
  }
  return lower.replace(/\.$/, '');
}

function checkPort(c: Collector, port: string, fallback: number): number | undefined {
  if (port === '') return fallback;
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= 1 && n <= 65535)) {
    c.add(
      'invalid-port',
      `port "${port}" is not a number from 1 to 65535`,
      `use the endpoint port or omit it (${fallback})`,
    );
    return undefined;
  }
  return n;
}

/** host[:port] */
function splitHostPort(authority: string): { host: string; port: string } {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.startsWith('[')) return { host: authority, port: '' };
  return { host: authority.slice(0, colon), port: authority.slice(colon + 1) };
}

function parseQuery(c: Collector, query: string | undefined): QueryParam[] {
  if (query === undefined || query === '') return [];
  const params: QueryParam[] = [];
  const seen = new Set<string>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = safeDecode(eq >= 0 ? pair.slice(eq + 1) : '');
    if (key === undefined || value === undefined) {
      c.add(
        'invalid-uri',
        'a query parameter has a malformed %-escape',
        'percent-encode reserved characters, e.g. "@" as %40',
      );
      continue;
    }
    if (seen.has(key.toLowerCase())) {
      c.add('duplicate-uri-option', `query parameter "${key}" is given twice`, `keep one "${key}=..."`);
      continue;
    }
    seen.add(key.toLowerCase());
    params.push({ key, value });
  }
  return params;
}

function checkFragment(c: Collector, fragment: string | undefined): void {
  if (fragment !== undefined)
    c.add('invalid-uri', 'the URI has a "#" fragment', 'remove everything from "#" on');
}

function checkDatabase(c: Collector, path: string, example: string): string | undefined {
  const raw = path.replace(/^\//, '');
  if (raw === '') {
    c.add('missing-database', 'the database name is missing', `add it after the host: ${example}`);
    return undefined;
  }
  const db = safeDecode(raw);
  if (db === undefined || raw.includes('/')) {
    c.add(
      'invalid-uri',
      `database "${raw}" must be one path segment`,
      'write ".../<dbname>?..." with no further "/" and with %-escapes of valid UTF-8 only',
    );
    return undefined;
  }
  return c.checkText('the database name', db, 'write the database name after the host') ? db : undefined;
}

interface AwsParams {
  region?: string;
  roleArn?: string;
  externalId?: string;
}

/** region (given or inferred), role, externalId: shared by both target kinds. */
function checkAwsParams(
  c: Collector,
  params: Map<string, string>,
  host: string | undefined,
): AwsParams | undefined {
  let okay = true;
  const given = params.get('region');
  const inferred = host === undefined ? undefined : inferRegionFromHost(host);
  let region = given ?? inferred;
  if (given !== undefined && !REGION_PATTERN.test(given)) {
    c.add(
      'invalid-region',
      `region "${given}" is not an AWS region`,
      'use a region code such as "eu-west-1"',
    );
    region = undefined;
    okay = false;
  } else if (given !== undefined && inferred !== undefined && given !== inferred) {
    c.add(
      'region-mismatch',
      `region "${given}" differs from the endpoint's region "${inferred}"; the signature would be rejected`,
      `set region=${inferred} or drop the region parameter`,
    );
    okay = false;
  } else if (region === undefined && host !== undefined) {
    c.add(
      'missing-region',
      'the AWS region is missing and cannot be inferred from the host',
      'add "region=<aws-region>" to the query, e.g. "?region=eu-west-1"',
    );
    okay = false;
  }
  const roleArn = params.get('role');
  if (roleArn !== undefined) {
    if (!ROLE_ARN_PATTERN.test(roleArn)) {
      c.add(
        'invalid-role-arn',
        `role "${roleArn}" is not an IAM role ARN`,
        'use "role=arn:aws:iam::<12-digit account>:role/<name>" (percent-encoding is optional)',
      );
      okay = false;
    } else if (
      region !== undefined &&
      REGION_PATTERN.test(region) &&
      !roleArn.startsWith(`arn:${partitionOf(region)}:`)
    ) {
      c.add(
        'invalid-role-arn',
        `role "${roleArn}" is not in the partition of region "${region}"`,
        `use an "arn:${partitionOf(region)}:iam::..." role`,
      );
      okay = false;
    }
  }
  const externalId = params.get('externalId');
  if (externalId !== undefined) {
    if (looksLikeSecret(externalId)) {
      c.add(
        'password-in-uri',
        'externalId looks like a session token; a secret must never live in an annotation',
        'use the external ID the role trust policy expects (and rotate that token)',
      );
      okay = false;
    } else if (!EXTERNAL_ID_PATTERN.test(externalId)) {
      c.add(
        'invalid-external-id',
        'externalId must be 2-1224 characters of letters, digits and +=,.@:/-_',
        'use the external ID the role trust policy expects',
      );
      okay = false;
    } else if (roleArn === undefined) {
      c.add(
        'invalid-external-id',
        'externalId is only used with role',
        'add "role=<roleArn>" or remove externalId',
      );
      okay = false;
    }
  }
  if (!okay) return undefined;
  return { region, roleArn, externalId };
}

function suggest(key: string, known: readonly string[]): string {
  // No option name is this long; the edit distance would only cost time on a huge key.
  if (key.length > 64) return '';
  let best = '';
  let bestDistance = Infinity;
  for (const k of known) {
    const [a, b] = [key.toLowerCase(), k.toLowerCase()];
    // A known name extended by a suffix ("roleArn" for "role") counts as close.
    const d = a.startsWith(b) ? 1 : editDistance(a, b);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? `did you mean "${best}"? ` : '';
}

function baseFields(name: string, aws: AwsParams & { region: string }) {
  return {
    name,
    region: aws.region,
    ...(aws.roleArn !== undefined ? { roleArn: aws.roleArn } : {}),
    ...(aws.externalId !== undefined ? { externalId: aws.externalId } : {}),
  };
}

const RDS_EXAMPLE = 'postgres://<dbuser>@<host>[:<port>]/<dbname>?region=<region>';

/** postgres:// and postgresql:// are postgres, mysql:// is mysql; any other scheme is denied. */
function rdsEngine(c: Collector, scheme: string, name: string): RdsEngine | undefined {
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql') return 'mysql';
  c.add(
    'unsupported-scheme',
    `scheme "${scheme}://" is not an RDS engine`,
    scheme.startsWith('mongodb')
      ? `MongoDB targets use the token-broker.io/mongo-${name} annotation`
      : 'use postgres://, postgresql:// or mysql:// (MariaDB and Aurora MySQL use mysql://)',
  );
  return undefined;
}

/** The user before "@": decoded, never a password in any disguise; undefined when it is wrong. */
function checkRdsUser(c: Collector, userinfo: string | undefined): string | undefined {
  if (userinfo === undefined || userinfo === '') {
    c.add(
      'missing-user',
      'the database user is missing',
      `write the IAM-enabled database user before the host: ${RDS_EXAMPLE}`,
    );
  } else if (userinfo.includes(':')) {
    c.add(
      'password-in-uri',
      'the URI contains a password; a secret must never live in an annotation',
      'remove ":<password>": the sidecar signs a fresh IAM auth token for this user (and change that password)',
    );
  } else if (/[/?#]/.test(userinfo)) {
    c.add(
      'invalid-uri',
      '"@" may only separate the user from the host',
      'percent-encode any other "@" as %40',
    );
  } else {
    const decoded = safeDecode(userinfo);
    if (decoded === undefined) {
      c.add(
        'invalid-uri',
        'the user has a malformed %-escape or encodes invalid UTF-8 (such as a lone surrogate)',
        'percent-encode it correctly',
      );
    } else if (decoded.includes(':')) {
      // libpq would read it as one user name, but "<user>%3A<password>" is a password in disguise.
      c.add(
        'password-in-uri',
        'the user contains an encoded ":" (%3A); a password must never live in an annotation',
        'remove ":<password>": the sidecar signs a fresh IAM auth token for this user (and change that password)',
      );
    } else if (
      c.checkText(
        'the database user',
        decoded,
        'write the IAM-enabled database user before "@"; the sidecar signs fresh IAM auth tokens itself',
      )
    ) {
      return decoded;
    }
  }
  return undefined;
}

/** The query: our own keys (region, role, externalId, proxy) by name; anything else is denied. */
function checkRdsQuery(c: Collector, query: string | undefined): Map<string, string> {
  const params = new Map<string, string>();
  for (const p of parseQuery(c, query)) {
    if (isSecretQueryKey(p.key)) {
      c.add(
        'password-in-uri',
        `query parameter "${p.key}" holds a secret; a secret must never live in an annotation`,
        `remove "${p.key}=...": the sidecar signs a fresh IAM auth token`,
      );
    } else if (looksLikeSecret(p.value)) {
      secretValue(c, p.key);
    } else if ((RDS_QUERY_KEYS as readonly string[]).includes(p.key)) {
      params.set(p.key, p.value);
    } else {
      c.add(
        'unknown-uri-option',
        `query parameter "${p.key}" is not supported for RDS targets`,
        `${suggest(p.key, RDS_QUERY_KEYS)}RDS targets accept only ${RDS_QUERY_KEYS.join(', ')}; set driver options (e.g. sslmode) in the app`,
      );
    }
  }
  return params;
}

/** `token-broker.io/rds-<name>`: postgres://, postgresql:// or mysql:// `user@host[:port]/db?region=&role=&externalId=&proxy=`. */
export function parseRdsTarget(
  name: string,
  value: string,
  key = `token-broker.io/rds-${name}`,
  /** Where the sidecar reads the RDS CA bundle when the target has `proxy=` (token-broker.io/rds-ca-configmap). */
  caFile = DEFAULT_RDS_CA_FILE,
): TargetParse<RdsTarget> {
  const c = new Collector(key, value);
  const uri = splitUri(value.trim());
  if (!uri) {
    c.add('invalid-uri', 'is not a URI', `write ${RDS_EXAMPLE}`);
    return { errors: c.errors, warnings: c.warnings };
  }
  const engine = rdsEngine(c, uri.scheme, name);
  // The rest of the URI follows another grammar; more errors would only be noise.
  if (engine === undefined) return { errors: c.errors, warnings: c.warnings };
  const user = checkRdsUser(c, uri.userinfo);
  if (uri.authority.includes(',')) {
    c.add(
      'invalid-host',
      'an RDS target has exactly one host',
      'use the cluster (writer), reader or instance endpoint',
    );
  }
  const { host: rawHost, port: rawPort } = splitHostPort(uri.authority.includes(',') ? '' : uri.authority);
  const host = uri.authority.includes(',') ? undefined : checkHost(c, rawHost, 'host');
  const port = checkPort(c, rawPort, DEFAULT_PORTS[engine]);
  const database = checkDatabase(c, uri.path, RDS_EXAMPLE);
  checkFragment(c, uri.fragment);

  const params = checkRdsQuery(c, uri.query);
  const aws = checkAwsParams(c, params, host);
  const proxyPort = checkProxyPort(c, params.get('proxy'), engine, name);
  if (c.errors.length > 0 || !engine || !user || !host || !port || !database || !aws?.region) {
    return { errors: c.errors, warnings: c.warnings };
  }
  const target: RdsTarget = {
    kind: 'rds',
    ...baseFields(name, { ...aws, region: aws.region }),
    engine,
    host,
    port,
    database,
    user,
    ...(proxyPort === undefined ? {} : { proxy: { port: proxyPort, caFile } }),
  };
  if (!sidecarAccepts(c, target)) return { errors: c.errors, warnings: c.warnings };
  return { errors: c.errors, warnings: c.warnings, target };
}

const MIN_PROXY_PORT = 1024;

/** `proxy=<port>`: undefined when absent or wrong (the error is collected). */
function checkProxyPort(
  c: Collector,
  value: string | undefined,
  engine: RdsEngine,
  name: string,
): number | undefined {
  if (value === undefined) return undefined;
  if (engine !== 'postgres') {
    c.add(
      'proxy-unsupported-engine',
      `proxy=${value}: the proxy speaks PostgreSQL only; use the token file`,
      `remove "proxy=..." and let the MySQL client read the token from $TOKEN_BROKER_${envName(name)}_MY_CNF (--defaults-extra-file) or $TOKEN_BROKER_${envName(name)}_TOKEN_FILE`,
    );
    return undefined;
  }
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= MIN_PROXY_PORT && port <= 65535)) {
    c.add(
      'invalid-proxy-port',
      `proxy port "${value}" is not a number from ${MIN_PROXY_PORT} to 65535`,
      'pick a free unprivileged port for the proxy on 127.0.0.1 inside the pod, e.g. proxy=6432',
    );
    return undefined;
  }
  return port;
}

function envName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

function secretValue(c: Collector, key: string): void {
  c.add(
    'password-in-uri',
    `the value of query parameter "${key}" looks like a secret (a session token or password); a secret must never live in an annotation`,
    `remove it: the sidecar supplies fresh credentials itself (and rotate that secret)`,
  );
}

const MONGO_EXAMPLE = 'mongodb+srv://<host>/<db>?region=<region>';

/**
 * Options that turn certificate checks off: a man-in-the-middle could then relay the MONGODB-AWS
 * login (signed over the server's nonce) and act as the app, so they are denied unless "false".
 */
const TLS_CHECKS_OFF: readonly string[] = [
  'tlsInsecure',
  'tlsAllowInvalidCertificates',
  'tlsAllowInvalidHostnames',
];

/** Names that are not on the allow-list, with the reason or the current name to use instead. */
const MONGO_OPTION_HINTS: Record<string, string> = {
  ssl: 'use "tls", its current name; ',
  j: 'use "journal", its current name; ',
  wtimeout: 'use "wTimeoutMS", its current name; ',
  tlsdisableocspendpointcheck: 'it turns off certificate revocation checks; ',
  tlsdisablecertificaterevocationcheck: 'it turns off certificate revocation checks; ',
  proxyusername: 'proxy credentials must not live in an annotation; ',
};

function unknownMongoOption(c: Collector, key: string): void {
  const hint =
    MONGO_OPTION_HINTS[key.toLowerCase()] ??
    suggest(key, [...TARGET_QUERY_KEYS, ...MONGO_PASS_THROUGH_OPTIONS]);
  c.add(
    'unknown-uri-option',
    `query parameter "${key}" is not a MongoDB option token-broker passes through`,
    `${hint}only non-secret connection options pass (e.g. appName, retryWrites, w, readPreference, replicaSet, tls, tlsCAFile; the README lists them); set other driver options in the app`,
  );
}

/** Whether a driver option may pass into the app's URI; otherwise it is denied with the reason. */
function checkMongoOption(c: Collector, key: string, value: string): boolean {
  if (!c.checkText(`the name of query parameter "${key}"`, key, 'remove it')) return false;
  const option = passThroughMongoOption(key);
  if (option === undefined) {
    unknownMongoOption(c, key);
    return false;
  }
  if (!c.checkText(`the value of option "${key}"`, value, `remove "${key}=..."`)) return false;
  if (TLS_CHECKS_OFF.includes(option) && value.toLowerCase() !== 'false') {
    c.add(
      'denied-uri-option',
      `${key}=${value} turns off TLS certificate checks; a man-in-the-middle could relay the MONGODB-AWS login and act as this app`,
      `remove "${key}" and trust the server's CA with tlsCAFile=<path to its CA bundle>`,
    );
    return false;
  }
  if (option === 'tls' && value.toLowerCase() === 'false') {
    c.warnings.push(
      `${c.key}: "${key}=false" sends the MONGODB-AWS login, which carries the session token, unencrypted`,
    );
  }
  return true;
}

/** Any userinfo is denied: MONGODB-AWS takes its user (the access key) from the sidecar. */
function checkMongoUserinfo(c: Collector, userinfo: string | undefined): void {
  if (userinfo !== undefined) {
    const decoded = looseDecode(userinfo);
    if (decoded.includes(':') || /[/?#]/.test(userinfo) || looksLikeSecret(decoded)) {
      c.add(
        'password-in-uri',
        'the URI contains credentials; a secret must never live in an annotation',
        'remove "<user>:<password>@": the sidecar fetches temporary AWS credentials (MONGODB-AWS) (and change that password)',
      );
    } else {
      c.add(
        'credentials-in-uri',
        'the URI names a user; with MONGODB-AWS the user is the AWS access key the sidecar fetches',
        'remove "<user>@" from the URI',
      );
    }
  }
}

/** One SRV name (no port) or a seed list of host[:port]; `hostsOk` is false when any entry is wrong. */
function checkMongoHosts(
  c: Collector,
  scheme: MongoScheme,
  authority: string,
): { hosts: string[]; hostsOk: boolean } {
  const hosts: string[] = [];
  let hostsOk = true;
  const entries = authority.split(',');
  if (scheme === 'mongodb+srv' && entries.length > 1) {
    c.add(
      'invalid-host',
      'mongodb+srv:// takes exactly one host name',
      'use the SRV name of the cluster, or mongodb:// with a seed list',
    );
    hostsOk = false;
  }
  for (const entry of entries) {
    const { host: rawHost, port: rawPort } = splitHostPort(entry);
    const host = checkHost(c, rawHost, 'host');
    if (scheme === 'mongodb+srv' && rawPort !== '') {
      c.add(
        'invalid-port',
        'mongodb+srv:// URIs take no port (SRV records carry it)',
        `remove ":${rawPort}"`,
      );
      hostsOk = false;
      continue;
    }
    const port = checkPort(c, rawPort, MONGO_DEFAULT_PORT);
    if (host === undefined || port === undefined) {
      hostsOk = false;
      continue;
    }
    hosts.push(scheme === 'mongodb+srv' ? host : `${host}:${port}`);
  }
  return { hosts, hostsOk };
}

/**
 * The query: our own keys (region, role, externalId) into `params`, allowed driver options into
 * `options`; secrets, authentication the sidecar sets itself and unknown options are denied.
 */
function checkMongoQuery(
  c: Collector,
  query: string | undefined,
): { params: Map<string, string>; options: Record<string, string> } {
  const params = new Map<string, string>();
  const options: Record<string, string> = {};
  for (const p of parseQuery(c, query)) {
    const lower = p.key.toLowerCase();
    if ((TARGET_QUERY_KEYS as readonly string[]).includes(p.key)) {
      if (looksLikeSecret(p.value)) secretValue(c, p.key);
      else params.set(p.key, p.value);
    } else if (isSecretQueryKey(p.key)) {
      c.add(
        lower === 'authmechanismproperties' ? 'denied-uri-option' : 'password-in-uri',
        `query parameter "${p.key}" may hold a secret (e.g. AWS_SESSION_TOKEN); a secret must never live in an annotation`,
        `remove "${p.key}=...": the sidecar supplies the session token with fresh credentials`,
      );
    } else if (lower === 'authmechanism') {
      if (p.value === 'MONGODB-AWS') {
        c.warnings.push(`${c.key}: dropped "authMechanism=MONGODB-AWS"; the sidecar always sets it`);
      } else {
        c.add(
          'denied-uri-option',
          `authMechanism "${p.value}" conflicts with token-broker, which authenticates with MONGODB-AWS`,
          'remove "authMechanism=..." from the URI',
        );
      }
    } else if (lower === 'authsource') {
      if (p.value === '$external') {
        c.warnings.push(`${c.key}: dropped "authSource=$external"; the sidecar always sets it`);
      } else {
        c.add(
          'denied-uri-option',
          `authSource "${p.value}" conflicts with MONGODB-AWS, whose users live in "$external"`,
          'remove "authSource=..." from the URI',
        );
      }
    } else if (/^(region|role|externalid)$/i.test(p.key)) {
      c.add(
        'unknown-uri-option',
        `query parameter "${p.key}" is misspelt`,
        `${suggest(p.key, TARGET_QUERY_KEYS)}the names are case-sensitive`,
      );
    } else if (checkMongoOption(c, p.key, p.value)) {
      options[p.key] = p.value;
    }
  }
  return { params, options };
}

/**
 * `token-broker.io/mongo-<name>`: `mongodb+srv://host/db?...` or `mongodb://h1:p1,h2:p2/db?...`.
 * region/role/externalId are ours; other query keys pass through as driver options when they are on
 * the contract's allow-list (contract/mongo-options.ts), except the authentication ones the sidecar
 * sets itself (MONGODB-AWS with $external).
 */
export function parseMongoTarget(
  name: string,
  value: string,
  key = `token-broker.io/mongo-${name}`,
): TargetParse<MongoTarget> {
  const c = new Collector(key, value);
  const uri = splitUri(value.trim());
  if (!uri) {
    c.add('invalid-uri', 'is not a URI', `write ${MONGO_EXAMPLE}`);
    return { errors: c.errors, warnings: c.warnings };
  }
  let scheme: MongoScheme;
  if (uri.scheme === 'mongodb' || uri.scheme === 'mongodb+srv') scheme = uri.scheme;
  else {
    c.add(
      'unsupported-scheme',
      `scheme "${uri.scheme}://" is not a MongoDB scheme`,
      /^(postgres|postgresql|mysql)$/.test(uri.scheme)
        ? `RDS targets use the token-broker.io/rds-${name} annotation`
        : 'use mongodb+srv:// (Atlas) or mongodb://',
    );
    return { errors: c.errors, warnings: c.warnings };
  }
  checkMongoUserinfo(c, uri.userinfo);

  const { hosts, hostsOk } = checkMongoHosts(c, scheme, uri.authority);
  const database = checkDatabase(c, uri.path, MONGO_EXAMPLE);
  checkFragment(c, uri.fragment);

  const { params, options } = checkMongoQuery(c, uri.query);
  const aws = checkAwsParams(c, params, hostsOk ? hosts[0]?.replace(/:\d+$/, '') : undefined);
  if (c.errors.length > 0 || !scheme || !hostsOk || hosts.length === 0 || !database || !aws?.region) {
    return { errors: c.errors, warnings: c.warnings };
  }
  const target: MongoTarget = {
    kind: 'mongo',
    ...baseFields(name, { ...aws, region: aws.region }),
    scheme,
    hosts,
    database,
    options,
  };
  if (!sidecarAccepts(c, target)) return { errors: c.errors, warnings: c.warnings };
  return { errors: c.errors, warnings: c.warnings, target };
}
