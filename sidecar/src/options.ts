/**
 * Sidecar options from `TOKEN_BROKER_*` env vars and the command line, validated once and frozen.
 * AWS_* variables are not read here: the AWS SDK reads them itself (identity.ts).
 */
import { LOG_LEVELS, type LogLevel } from '../../common/log-levels.ts';
import {
  parseSidecarConfig,
  POD_NAME_ENV,
  POD_NAMESPACE_ENV,
  SIDECAR_CONFIG_ENV,
  type SidecarConfig,
} from '../../contract/sidecar-config.ts';

export const LOG_LEVEL_ENV = 'TOKEN_BROKER_LOG_LEVEL';
/** Bind address of the health and metrics ports; the API stays on 127.0.0.1. */
export const LISTEN_HOST_ENV = 'TOKEN_BROKER_LISTEN_HOST';
/**
 * Dual stack: kubelet probes the pod's IP, which is IPv6 on an IPv6 cluster. A host without IPv6
 * falls back to 0.0.0.0 (http.ts listenPublic).
 */
export const DEFAULT_LISTEN_HOST = '::';
/** `--once`: how long failed targets are retried before the init container gives up. */
export const ONCE_TIMEOUT_ENV = 'TOKEN_BROKER_ONCE_TIMEOUT';
export const DEFAULT_ONCE_TIMEOUT_SECONDS = 60;

export interface SidecarOptions {
  config: SidecarConfig;
  podName: string;
  podNamespace: string;
  /** `--once`: fetch every target, write the files, exit. */
  once: boolean;
  /** `--once`: retry failed targets (with backoff) until this long after the start; 0: one attempt. */
  onceTimeoutMs: number;
  logLevel: LogLevel;
  /** Bind address of the health and metrics servers. */
  listenHost: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

export class SidecarOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SidecarOptionsError';
  }
}

const USAGE =
  'usage: token-broker sidecar [--once [--once-timeout <seconds>]] [--log-level fatal|error|warn|info|debug|trace|silent]';

interface Flags {
  once: boolean;
  logLevel: string | undefined;
  onceTimeout: string | undefined;
}

const VALUE_FLAGS = { '--log-level': 'logLevel', '--once-timeout': 'onceTimeout' } as const;

function parseArgv(argv: readonly string[]): Flags {
  const flags: Flags = { once: false, logLevel: undefined, onceTimeout: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--once') {
      flags.once = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!Object.hasOwn(VALUE_FLAGS, name)) {
      throw new SidecarOptionsError(`unknown argument "${arg}"; ${USAGE}`);
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      if (value === undefined) throw new SidecarOptionsError(`${name} needs a value; ${USAGE}`);
      i++;
    }
    flags[VALUE_FLAGS[name as keyof typeof VALUE_FLAGS]] = value;
  }
  return flags;
}

function parseSeconds(value: string, source: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,6}$/.test(trimmed)) {
    throw new SidecarOptionsError(
      `${source}: "${value}" is not a whole number of seconds; use e.g. ${DEFAULT_ONCE_TIMEOUT_SECONDS} (0: a single attempt)`,
    );
  }
  return Number(trimmed) * 1000;
}

function parseLogLevel(value: string, source: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new SidecarOptionsError(
    `${source}: "${value}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`,
  );
}

function requireEnv(env: Env, name: string, fix: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new SidecarOptionsError(`${name} is not set; ${fix}`);
  }
  return value.trim();
}

/** Throws SidecarOptionsError or SidecarConfigError with a message naming the variable and the fix. */
export function parseSidecarOptions(argv: readonly string[], env: Env): SidecarOptions {
  const flags = parseArgv(argv);
  const configJson = requireEnv(
    env,
    SIDECAR_CONFIG_ENV,
    'it is written by the token-broker webhook into the injected sidecar; run the sidecar only in an injected pod or set it by hand',
  );
  const config = parseSidecarConfig(configJson);
  const downward = 'the webhook sets it from the downward API (fieldRef metadata.name / metadata.namespace)';
  const podName = requireEnv(env, POD_NAME_ENV, downward);
  const podNamespace = requireEnv(env, POD_NAMESPACE_ENV, downward);
  const logLevel =
    flags.logLevel !== undefined
      ? parseLogLevel(flags.logLevel, '--log-level')
      : env[LOG_LEVEL_ENV]
        ? parseLogLevel(env[LOG_LEVEL_ENV], LOG_LEVEL_ENV)
        : 'info';
  const listenHost = env[LISTEN_HOST_ENV]?.trim() || DEFAULT_LISTEN_HOST;
  if (!/^[0-9a-fA-F:.]+$/.test(listenHost)) {
    throw new SidecarOptionsError(
      `${LISTEN_HOST_ENV}: "${listenHost}" is not an IP address; use 0.0.0.0, :: or a pod IP`,
    );
  }
  if (flags.onceTimeout !== undefined && !flags.once) {
    throw new SidecarOptionsError(`--once-timeout applies to --once only; add --once or drop it; ${USAGE}`);
  }
  const onceTimeoutMs =
    flags.onceTimeout !== undefined
      ? parseSeconds(flags.onceTimeout, '--once-timeout')
      : env[ONCE_TIMEOUT_ENV]?.trim()
        ? parseSeconds(env[ONCE_TIMEOUT_ENV], ONCE_TIMEOUT_ENV)
        : DEFAULT_ONCE_TIMEOUT_SECONDS * 1000;
  return Object.freeze({
    config,
    podName,
    podNamespace,
    once: flags.once,
    onceTimeoutMs,
    logLevel,
    listenHost,
  });
}
