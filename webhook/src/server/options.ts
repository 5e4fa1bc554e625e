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
 * The sidecar rows (also accepted by `token-broker inject`) are the defaults a pod annotation overrides;
 * they are parsed in injection/default-options.ts.
 */
import { LOG_LEVELS, type LogLevel } from '../../../common/log-levels.ts';
import { parseArgs } from 'node:util';
import {
  OptionsError,
  SIDECAR_DEFAULT_OPTIONS,
  lookupIn,
  parseArgsOptions,
  resolveInjectionDefaults,
  type OptionSpec,
} from '../injection/default-options.ts';
import type { WebhookDefaults } from '../injection/spec.ts';

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
