/**
 * Webhook options from command-line flags and `TOKEN_BROKER_*` env vars, validated once and frozen.
 * Precedence: flag > env > built-in. An empty env value counts as unset (Helm renders empty strings).
 * Each row maps one to one onto a Helm chart value (the chart sets the env var):
 *
 * | flag                                 | env                                          | built-in default               |
 * | ------------------------------------ | -------------------------------------------- | ------------------------------ |
 * | --port                               | TOKEN_BROKER_WEBHOOK_PORT                    | 8443                           |
 * | --host                               | TOKEN_BROKER_WEBHOOK_HOST                    | :: (all interfaces, IPv4 too)  |
 * | --tls-cert-file                      | TOKEN_BROKER_TLS_CERT_FILE                   | /etc/token-broker/tls/tls.crt  |
 * | --tls-key-file                       | TOKEN_BROKER_TLS_KEY_FILE                    | /etc/token-broker/tls/tls.key  |
 * | --log-level                          | TOKEN_BROKER_LOG_LEVEL                       | info                           |
 * | --service-account-lookup             | TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP          | true (only when in a cluster)  |
 * | --service-account-cache-ttl          | TOKEN_BROKER_SERVICE_ACCOUNT_CACHE_TTL       | 60s                            |
 * | --service-account-lookup-timeout     | TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP_TIMEOUT  | 1s                             |
 * | --shutdown-delay                     | TOKEN_BROKER_WEBHOOK_SHUTDOWN_DELAY          | 2s (not ready, still serving)  |
 * | --sidecar-image                      | TOKEN_BROKER_SIDECAR_IMAGE                   | BUILTIN_DEFAULTS (spec.ts)     |
 * | --sidecar-image-pull-policy          | TOKEN_BROKER_SIDECAR_IMAGE_PULL_POLICY       | BUILTIN_DEFAULTS               |
 * | --sidecar-mode                       | TOKEN_BROKER_SIDECAR_MODE                    | native                         |
 * | --sidecar-cpu-request                | TOKEN_BROKER_SIDECAR_CPU_REQUEST             | 10m                            |
 * | --sidecar-cpu-limit                  | TOKEN_BROKER_SIDECAR_CPU_LIMIT               | none ("none" clears it)        |
 * | --sidecar-memory-request             | TOKEN_BROKER_SIDECAR_MEMORY_REQUEST          | 64Mi                           |
 * | --sidecar-memory-limit               | TOKEN_BROKER_SIDECAR_MEMORY_LIMIT            | 128Mi ("none" clears it)       |
 * | --refresh-margin                     | TOKEN_BROKER_REFRESH_MARGIN                  | 120 (seconds, or "2m", "90s")  |
 * | --run-as-user                        | TOKEN_BROKER_RUN_AS_USER                     | BUILTIN_DEFAULTS               |
 * | --sidecar-api-port                   | TOKEN_BROKER_SIDECAR_API_PORT                | 9901 (127.0.0.1 only)          |
 * | --sidecar-health-port                | TOKEN_BROKER_SIDECAR_HEALTH_PORT             | 9902                           |
 * | --sidecar-metrics-port               | TOKEN_BROKER_SIDECAR_METRICS_PORT            | 9903                           |
 *
 * The sidecar rows (also accepted by `token-broker inject`) are the defaults a pod annotation overrides.
 */
import { LOG_LEVELS, type LogLevel } from '../../common/log-levels.ts';
import { parseArgs } from 'node:util';
import {
  parseQuantity,
  parseRefreshMargin,
  parseRunAsUser,
  parseSidecarMode,
  quantityValue,
  type Parsed,
} from './annotations.ts';
import { BUILTIN_DEFAULTS, type ImagePullPolicy, type WebhookDefaults } from './spec.ts';

export interface WebhookOptions {
  host: string;
  port: number;
  tlsCertFile: string;
  tlsKeyFile: string;
  logLevel: LogLevel;
  serviceAccountLookup: { enabled: boolean; cacheTtlMs: number; timeoutMs: number };
  /** On SIGTERM: answer not-ready but keep serving this long, so endpoints drop the pod before it closes. */
  shutdownDelayMs: number;
  /** What injection uses where the pod's annotations say nothing. */
  defaults: WebhookDefaults;
}

/** Bad flags or env: every problem, one per line, each naming the flag/env var, the value and the fix. */
export class OptionsError extends Error {
  override name = 'OptionsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

interface OptionSpec {
  flag: string;
  env: string;
  help: string;
}

/** Options that set injection defaults: shared by `token-broker webhook` and `token-broker inject`. */
export const SIDECAR_DEFAULT_OPTIONS = {
  sidecarImage: { flag: 'sidecar-image', env: 'TOKEN_BROKER_SIDECAR_IMAGE', help: 'sidecar container image' },
  sidecarImagePullPolicy: {
    flag: 'sidecar-image-pull-policy',
    env: 'TOKEN_BROKER_SIDECAR_IMAGE_PULL_POLICY',
    help: 'Always, IfNotPresent or Never',
  },
  sidecarMode: { flag: 'sidecar-mode', env: 'TOKEN_BROKER_SIDECAR_MODE', help: 'native or legacy' },
  cpuRequest: { flag: 'sidecar-cpu-request', env: 'TOKEN_BROKER_SIDECAR_CPU_REQUEST', help: 'e.g. 10m' },
  cpuLimit: { flag: 'sidecar-cpu-limit', env: 'TOKEN_BROKER_SIDECAR_CPU_LIMIT', help: 'e.g. 100m, or none' },
  memoryRequest: {
    flag: 'sidecar-memory-request',
    env: 'TOKEN_BROKER_SIDECAR_MEMORY_REQUEST',
    help: 'e.g. 64Mi',
  },
  memoryLimit: {
    flag: 'sidecar-memory-limit',
    env: 'TOKEN_BROKER_SIDECAR_MEMORY_LIMIT',
    help: 'e.g. 128Mi, or none',
  },
  refreshMargin: {
    flag: 'refresh-margin',
    env: 'TOKEN_BROKER_REFRESH_MARGIN',
    help: 'seconds or duration, 0..600',
  },
  runAsUser: {
    flag: 'run-as-user',
    env: 'TOKEN_BROKER_RUN_AS_USER',
    help: 'sidecar UID when the app UID is unknown',
  },
  apiPort: {
    flag: 'sidecar-api-port',
    env: 'TOKEN_BROKER_SIDECAR_API_PORT',
    help: 'sidecar API port on 127.0.0.1, 1024..65535 (default 9901)',
  },
  healthPort: {
    flag: 'sidecar-health-port',
    env: 'TOKEN_BROKER_SIDECAR_HEALTH_PORT',
    help: 'sidecar /healthz, /readyz port, 1024..65535 (default 9902)',
  },
  metricsPort: {
    flag: 'sidecar-metrics-port',
    env: 'TOKEN_BROKER_SIDECAR_METRICS_PORT',
    help: 'sidecar /metrics port, 1024..65535 (default 9903)',
  },
} as const satisfies Record<string, OptionSpec>;

export const SERVER_OPTIONS = {
  port: { flag: 'port', env: 'TOKEN_BROKER_WEBHOOK_PORT', help: 'HTTPS port (default 8443)' },
  host: { flag: 'host', env: 'TOKEN_BROKER_WEBHOOK_HOST', help: 'listen address (default ::)' },
  tlsCertFile: { flag: 'tls-cert-file', env: 'TOKEN_BROKER_TLS_CERT_FILE', help: 'PEM certificate (chain)' },
  tlsKeyFile: { flag: 'tls-key-file', env: 'TOKEN_BROKER_TLS_KEY_FILE', help: 'PEM private key' },
  logLevel: { flag: 'log-level', env: 'TOKEN_BROKER_LOG_LEVEL', help: LOG_LEVELS.join(', ') },
  serviceAccountLookup: {
    flag: 'service-account-lookup',
    env: 'TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP',
    help: 'true or false: read ServiceAccount annotations for warnings',
  },
  serviceAccountCacheTtl: {
    flag: 'service-account-cache-ttl',
    env: 'TOKEN_BROKER_SERVICE_ACCOUNT_CACHE_TTL',
    help: 'duration, e.g. 60s',
  },
  serviceAccountLookupTimeout: {
    flag: 'service-account-lookup-timeout',
    env: 'TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP_TIMEOUT',
    help: 'duration, e.g. 1s',
  },
  shutdownDelay: {
    flag: 'shutdown-delay',
    env: 'TOKEN_BROKER_WEBHOOK_SHUTDOWN_DELAY',
    help: 'duration to keep serving after SIGTERM while not ready, e.g. 2s',
  },
} as const satisfies Record<string, OptionSpec>;

export const DEFAULT_TLS_CERT_FILE = '/etc/token-broker/tls/tls.crt';
export const DEFAULT_TLS_KEY_FILE = '/etc/token-broker/tls/tls.key';
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];

function usageLines(specs: Record<string, OptionSpec>): string[] {
  return Object.values(specs).map((s) => `  --${s.flag.padEnd(32)} ${s.help} [$${s.env}]`);
}

export const WEBHOOK_USAGE = [
  'Usage: token-broker webhook [options]',
  '',
  'Runs the mutating admission webhook over HTTPS (POST /mutate, /healthz, /readyz, /metrics).',
  'Every option can also be set by its env var (shown in brackets); a flag wins over the env var.',
  '',
  ...usageLines(SERVER_OPTIONS),
  '',
  'Injection defaults (a pod annotation overrides them):',
  ...usageLines(SIDECAR_DEFAULT_OPTIONS),
  '',
].join('\n');

/** parseArgs option table for a set of specs (all take a string value). */
export function parseArgsOptions(specs: Record<string, OptionSpec>): Record<string, { type: 'string' }> {
  return Object.fromEntries(Object.values(specs).map((s) => [s.flag, { type: 'string' as const }]));
}

type Lookup = (spec: OptionSpec) => { value: string; source: string } | undefined;

function lookupIn(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Lookup {
  return (spec) => {
    const flag = flags[spec.flag];
    if (typeof flag === 'string') return { value: flag, source: `--${spec.flag}` };
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: spec.env };
    return undefined;
  };
}

function problemFrom(parsed: Parsed<unknown>, source: string): string | undefined {
  if (parsed.ok) return undefined;
  const e = parsed.error;
  return `${source}=${JSON.stringify(e.value)}: ${e.message}. Fix: ${e.fix}`;
}

/** Injection defaults from flags/env over the built-in ones; problems are appended to `problems`. */
export function resolveInjectionDefaults(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  problems: string[],
): WebhookDefaults {
  const get = lookupIn(flags, env);
  const o = SIDECAR_DEFAULT_OPTIONS;
  const defaults: WebhookDefaults = structuredClone(BUILTIN_DEFAULTS);

  const image = get(o.sidecarImage);
  if (image) {
    if (/\s/.test(image.value))
      problems.push(`${image.source}=${JSON.stringify(image.value)}: not an image reference`);
    else defaults.sidecarImage = image.value;
  }
  const pull = get(o.sidecarImagePullPolicy);
  if (pull) {
    if (PULL_POLICIES.includes(pull.value)) defaults.imagePullPolicy = pull.value as ImagePullPolicy;
    else
      problems.push(
        `${pull.source}=${JSON.stringify(pull.value)}: must be one of ${PULL_POLICIES.join(', ')}`,
      );
  }
  const mode = get(o.sidecarMode);
  if (mode) {
    const parsed = parseSidecarMode(mode.value, mode.source);
    if (parsed.ok) defaults.sidecarMode = parsed.value;
    else problems.push(problemFrom(parsed, mode.source) ?? '');
  }
  const margin = get(o.refreshMargin);
  if (margin) {
    const parsed = parseRefreshMargin(margin.value, margin.source);
    if (parsed.ok) defaults.refreshMarginSeconds = parsed.value;
    else problems.push(problemFrom(parsed, margin.source) ?? '');
  }
  const uid = get(o.runAsUser);
  if (uid) {
    const parsed = parseRunAsUser(uid.value, uid.source);
    if (parsed.ok) defaults.runAsUser = parsed.value;
    else problems.push(problemFrom(parsed, uid.source) ?? '');
  }
  const quantities = [
    ['cpuRequest', o.cpuRequest, false],
    ['cpuLimit', o.cpuLimit, true],
    ['memoryRequest', o.memoryRequest, false],
    ['memoryLimit', o.memoryLimit, true],
  ] as const;
  for (const [field, spec, clearable] of quantities) {
    const found = get(spec);
    if (!found) continue;
    if (clearable && found.value === 'none') {
      delete defaults.resources[field];
      continue;
    }
    // Flag names contain "memory"/"cpu", which picks the matching hint in parseQuantity.
    const parsed = parseQuantity(found.value, found.source.toLowerCase());
    if (parsed.ok) defaults.resources[field] = parsed.value;
    else problems.push(problemFrom(parsed, found.source) ?? '');
  }
  checkRequestWithinLimit(defaults, problems);
  resolveSidecarPorts(get, defaults, problems);
  return defaults;
}

/**
 * The sidecar's ports: unprivileged (it runs as non-root with no capabilities) and distinct (one
 * process listens on all three). Two flags naming the same port is reported once, naming both.
 */
function resolveSidecarPorts(get: Lookup, defaults: WebhookDefaults, problems: string[]): void {
  const o = SIDECAR_DEFAULT_OPTIONS;
  const fields = [
    ['apiPort', o.apiPort],
    ['healthPort', o.healthPort],
    ['metricsPort', o.metricsPort],
  ] as const;
  const sources: Partial<Record<(typeof fields)[number][0], string>> = {};
  for (const [field, spec] of fields) {
    const found = get(spec);
    if (!found) continue;
    const n = /^\d{1,5}$/.test(found.value) ? Number(found.value) : NaN;
    if (n >= 1024 && n <= 65535) {
      defaults[field] = n;
      sources[field] = found.source;
    } else {
      problems.push(
        `${found.source}=${JSON.stringify(found.value)}: must be a port number 1024..65535 (the sidecar runs as non-root)`,
      );
    }
  }
  for (let i = 0; i < fields.length; i++) {
    for (let j = i + 1; j < fields.length; j++) {
      const [a, specA] = fields[i] as (typeof fields)[number];
      const [b, specB] = fields[j] as (typeof fields)[number];
      if (defaults[a] !== defaults[b]) continue;
      const name = (field: typeof a, spec: OptionSpec) => sources[field] ?? `--${spec.flag} (default)`;
      problems.push(
        `${name(a, specA)} and ${name(b, specB)} are both ${defaults[a]}: the sidecar's API, health and metrics ports must differ`,
      );
    }
  }
}

function checkRequestWithinLimit(defaults: WebhookDefaults, problems: string[]): void {
  const r = defaults.resources;
  for (const [request, limit, what] of [
    [r.cpuRequest, r.cpuLimit, 'cpu'],
    [r.memoryRequest, r.memoryLimit, 'memory'],
  ] as const) {
    if (request === undefined || limit === undefined) continue;
    const req = quantityValue(request);
    const lim = quantityValue(limit);
    if (req !== undefined && lim !== undefined && req > lim) {
      problems.push(
        `sidecar ${what} request ${request} is above its limit ${limit}: raise --sidecar-${what}-limit or lower --sidecar-${what}-request`,
      );
    }
  }
}

/** `60`, `60s`, `500ms`, `2m` -> milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(amount * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000));
}

function parseBoolean(value: string): boolean | undefined {
  if (/^(true|1|yes|on)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  return undefined;
}

/** Parses `token-broker webhook` flags + env. Throws OptionsError listing every problem. */
export function parseWebhookOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Readonly<WebhookOptions> {
  let flags: Record<string, unknown>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: { ...parseArgsOptions(SERVER_OPTIONS), ...parseArgsOptions(SIDECAR_DEFAULT_OPTIONS) },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new OptionsError([`${(error as Error).message} (see token-broker webhook --help)`]);
  }
  const problems: string[] = [];
  const get = lookupIn(flags, env);
  const s = SERVER_OPTIONS;

  let port = 8443;
  const portValue = get(s.port);
  if (portValue) {
    const n = Number(portValue.value);
    // 0 (a free port) is for tests; the chart always sets a fixed port.
    if (/^\d+$/.test(portValue.value) && n >= 0 && n <= 65535) port = n;
    else
      problems.push(`${portValue.source}=${JSON.stringify(portValue.value)}: must be a port number 1..65535`);
  }
  const host = get(s.host)?.value ?? '::';
  const tlsCertFile = get(s.tlsCertFile)?.value ?? DEFAULT_TLS_CERT_FILE;
  const tlsKeyFile = get(s.tlsKeyFile)?.value ?? DEFAULT_TLS_KEY_FILE;

  let logLevel: LogLevel = 'info';
  const level = get(s.logLevel);
  if (level) {
    if ((LOG_LEVELS as readonly string[]).includes(level.value)) logLevel = level.value as LogLevel;
    else
      problems.push(
        `${level.source}=${JSON.stringify(level.value)}: must be one of ${LOG_LEVELS.join(', ')}`,
      );
  }

  let enabled = true;
  const lookup = get(s.serviceAccountLookup);
  if (lookup) {
    const parsed = parseBoolean(lookup.value);
    if (parsed === undefined)
      problems.push(`${lookup.source}=${JSON.stringify(lookup.value)}: must be true or false`);
    else enabled = parsed;
  }
  const duration = (spec: OptionSpec, fallback: number, max: number): number => {
    const found = get(spec);
    if (!found) return fallback;
    const ms = parseDurationMs(found.value);
    if (ms === undefined || ms > max) {
      problems.push(
        `${found.source}=${JSON.stringify(found.value)}: must be a duration up to ${max / 1000}s, e.g. "500ms", "5s", "1m"`,
      );
      return fallback;
    }
    return ms;
  };
  const cacheTtlMs = duration(s.serviceAccountCacheTtl, 60_000, 3_600_000);
  // The API server's webhook timeout is at most 30 s (the chart sets a few seconds): stay well below.
  const timeoutMs = duration(s.serviceAccountLookupTimeout, 1_000, 10_000);
  const shutdownDelayMs = duration(s.shutdownDelay, 2_000, 60_000);

  const defaults = resolveInjectionDefaults(flags, env, problems);
  if (problems.length > 0) throw new OptionsError(problems);

  return deepFreeze({
    host,
    port,
    tlsCertFile,
    tlsKeyFile,
    logLevel,
    serviceAccountLookup: { enabled, cacheTtlMs, timeoutMs },
    shutdownDelayMs,
    defaults,
  });
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
