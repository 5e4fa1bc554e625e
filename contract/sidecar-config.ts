/**
 * The versioned contract between the webhook (which writes it into the injected container's env) and
 * the sidecar (which parses and validates it at start). Both sides import this one module, so a change
 * here is a change to both: bump the apiVersion when a change is not backwards compatible.
 */

import { targetProblems } from './target-rules.ts';
import type { PgProxyConfig, Target } from './target.ts';

export { PROXY_PORT_MIN, TARGET_NAME_PATTERN } from './target-rules.ts';

export const SIDECAR_CONFIG_API_VERSION = 'token-broker.io/v1';

/** Env var that carries the whole sidecar configuration as JSON. */
export const SIDECAR_CONFIG_ENV = 'TOKEN_BROKER_CONFIG';
/** Downward-API env vars: the pod's name is unknown at admission time (generateName). */
export const POD_NAME_ENV = 'TOKEN_BROKER_POD_NAME';
export const POD_NAMESPACE_ENV = 'TOKEN_BROKER_POD_NAMESPACE';

export const DEFAULT_DIRECTORY = '/var/run/token-broker';
export const DEFAULT_API_PORT = 9901;
export const DEFAULT_HEALTH_PORT = 9902;
export const DEFAULT_METRICS_PORT = 9903;
export const DEFAULT_REFRESH_MARGIN_SECONDS = 120;

// The target types live in target.ts (shared with target-rules.ts); every importer finds them here.
export type { MongoScheme, MongoTarget, PgProxyConfig, RdsEngine, RdsTarget, Target } from './target.ts';

/** The proxy listens on IPv4 loopback only: never reachable from outside the pod. */
export const PROXY_HOST = '127.0.0.1';

export interface SidecarConfig {
  apiVersion: typeof SIDECAR_CONFIG_API_VERSION;
  /** Where the shared in-memory volume is mounted in the sidecar. */
  directory: string;
  listen: {
    /** Credentials API, bound to 127.0.0.1 only. */
    apiPort: number;
    /** /healthz and /readyz for kubelet probes, bound to all interfaces (::, dual-stack). */
    healthPort: number;
    /** /metrics only, bound to all interfaces (::, dual-stack) for Prometheus. */
    metricsPort: number;
  };
  refresh: {
    /** Credentials closer than this to expiry are not served as fresh and are refreshed at once. */
    marginSeconds: number;
  };
  targets: Target[];
}

/** File names inside the shared directory; the app side reads them under the same names. */
export const FILES = {
  authToken: 'auth-token',
  socket: 'broker.sock',
  pgpass: 'pgpass',
  rdsToken: (name: string) => `${name}.token`,
  /** mysql targets only: the MySQL option file (`--defaults-extra-file`) holding the same token. */
  mysqlOptionFile: (name: string) => `${name}.my.cnf`,
  credentialsJson: (name: string) => `${name}.credentials.json`,
  mongoUri: (name: string) => `${name}.uri`,
} as const;

/** HTTP routes of the credentials API. */
export const ROUTES = {
  token: (name: string) => `/v1/token/${name}`,
  credentials: (name: string) => `/v1/credentials/${name}`,
  status: '/v1/status',
  quit: '/quitquitquit',
} as const;

/** `invoicing-db` -> `INVOICING_DB`, for env var names. */
export function envSegment(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

export class SidecarConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${SIDECAR_CONFIG_ENV}: ${field}: ${message}`);
    this.name = 'SidecarConfigError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function requireString(obj: Json, key: string, path: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new SidecarConfigError(fieldPath(path, key), 'must be a non-empty string');
  }
  return value;
}

function optionalString(obj: Json, key: string, path: string): string | undefined {
  if (obj[key] === undefined) return undefined;
  return requireString(obj, key, path);
}

function parseProxy(raw: unknown, path: string): PgProxyConfig {
  if (!isObject(raw)) throw new SidecarConfigError(path, 'must be an object with port and caFile');
  return { port: requirePort(raw, 'port', path), caFile: requireString(raw, 'caFile', path) };
}

function requirePort(obj: Json, key: string, path: string): number {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new SidecarConfigError(fieldPath(path, key), 'must be an integer port between 1 and 65535');
  }
  return value;
}

/** The target's shape; its values are checked by targetProblems() (the rules the webhook also runs). */
function parseTargetShape(raw: unknown, path: string): Target {
  if (!isObject(raw)) throw new SidecarConfigError(path, 'must be an object');
  const name = requireString(raw, 'name', path);
  const roleArn = optionalString(raw, 'roleArn', path);
  const externalId = optionalString(raw, 'externalId', path);
  // Optional keys are left out, not set to undefined, so a parsed config equals the one serialized.
  const base = {
    name,
    region: requireString(raw, 'region', path),
    ...(roleArn === undefined ? {} : { roleArn }),
    ...(externalId === undefined ? {} : { externalId }),
  };
  if (raw.kind === 'rds') {
    const engine = raw.engine;
    if (engine !== 'postgres' && engine !== 'mysql') {
      throw new SidecarConfigError(`${path}.engine`, 'must be "postgres" or "mysql"');
    }
    return {
      kind: 'rds',
      ...base,
      engine,
      host: requireString(raw, 'host', path),
      port: requirePort(raw, 'port', path),
      database: requireString(raw, 'database', path),
      user: requireString(raw, 'user', path),
      ...(raw.proxy === undefined ? {} : { proxy: parseProxy(raw.proxy, `${path}.proxy`) }),
    };
  }
  if (raw.kind === 'mongo') {
    const scheme = raw.scheme;
    if (scheme !== 'mongodb' && scheme !== 'mongodb+srv') {
      throw new SidecarConfigError(`${path}.scheme`, 'must be "mongodb" or "mongodb+srv"');
    }
    const hosts = raw.hosts;
    if (!Array.isArray(hosts) || hosts.length === 0 || !hosts.every((h) => typeof h === 'string' && h)) {
      throw new SidecarConfigError(`${path}.hosts`, 'must be a non-empty list of host names');
    }
    const options = raw.options ?? {};
    if (!isObject(options) || !Object.values(options).every((v) => typeof v === 'string')) {
      throw new SidecarConfigError(`${path}.options`, 'must be an object of string values');
    }
    return {
      kind: 'mongo',
      ...base,
      scheme,
      hosts: hosts as string[],
      database: requireString(raw, 'database', path),
      options: options as Record<string, string>,
    };
  }
  throw new SidecarConfigError(`${path}.kind`, 'must be "rds" or "mongo"');
}

function parseTarget(raw: unknown, path: string): Target {
  const target = parseTargetShape(raw, path);
  const [first] = targetProblems(target);
  if (first) throw new SidecarConfigError(`${path}.${first.field}`, first.problem);
  return target;
}

/** Parses and validates the JSON the webhook wrote; throws SidecarConfigError naming the field. */
export function parseSidecarConfig(json: string): SidecarConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new SidecarConfigError('(root)', 'is not valid JSON; it is written by the token-broker webhook');
  }
  if (!isObject(raw)) throw new SidecarConfigError('(root)', 'must be a JSON object');
  if (raw.apiVersion !== SIDECAR_CONFIG_API_VERSION) {
    throw new SidecarConfigError(
      'apiVersion',
      `must be "${SIDECAR_CONFIG_API_VERSION}"; the sidecar image and the webhook are from different releases`,
    );
  }
  const listen = raw.listen;
  if (!isObject(listen)) throw new SidecarConfigError('listen', 'must be an object');
  const refresh = raw.refresh;
  if (!isObject(refresh)) throw new SidecarConfigError('refresh', 'must be an object');
  const margin = refresh.marginSeconds;
  if (typeof margin !== 'number' || !Number.isInteger(margin) || margin < 0 || margin > 600) {
    throw new SidecarConfigError('refresh.marginSeconds', 'must be an integer from 0 to 600');
  }
  if (!Array.isArray(raw.targets) || raw.targets.length === 0) {
    throw new SidecarConfigError('targets', 'must list at least one target');
  }
  const targets = raw.targets.map((t, i) => parseTarget(t, `targets[${i}]`));
  const seen = new Set<string>();
  for (const [i, t] of targets.entries()) {
    if (seen.has(t.name)) {
      throw new SidecarConfigError(`targets[${i}].name`, `"${t.name}" is used by two targets`);
    }
    seen.add(t.name);
  }
  const listenPorts = {
    apiPort: requirePort(listen, 'apiPort', 'listen'),
    healthPort: requirePort(listen, 'healthPort', 'listen'),
    metricsPort: requirePort(listen, 'metricsPort', 'listen'),
  };
  checkProxyPorts(targets, listenPorts);
  const directory = requireString(raw, 'directory', '');
  if (!directory.startsWith('/')) {
    throw new SidecarConfigError('directory', 'must be an absolute path (the shared volume mount)');
  }
  const config: SidecarConfig = {
    apiVersion: SIDECAR_CONFIG_API_VERSION,
    directory,
    listen: listenPorts,
    refresh: { marginSeconds: margin },
    targets,
  };
  return deepFreeze(config);
}

/** A proxy port must not be one of the sidecar's own ports or another target's proxy port. */
function checkProxyPorts(targets: readonly Target[], listen: SidecarConfig['listen']): void {
  const owners = new Map<number, string>(
    Object.entries(listen).map(([key, port]) => [port, `listen.${key}`]),
  );
  for (const [i, t] of targets.entries()) {
    if (t.kind !== 'rds' || t.proxy === undefined) continue;
    const owner = owners.get(t.proxy.port);
    if (owner !== undefined) {
      throw new SidecarConfigError(
        `targets[${i}].proxy.port`,
        `${t.proxy.port} is also ${owner}; give the proxy of target "${t.name}" a port of its own`,
      );
    }
    owners.set(t.proxy.port, `the proxy port of target "${t.name}"`);
  }
}

/** Canonical JSON for the env var: stable key order so the injected pod is deterministic. */
export function serializeSidecarConfig(config: SidecarConfig): string {
  return JSON.stringify(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
