/**
 * Sidecar options from `TOKEN_BROKER_*` env vars and the command line, validated once and frozen.
 * AWS_* variables are not read here: the AWS SDK reads them itself (identity.ts).
 */
import {
  parseSidecarConfig,
  POD_NAME_ENV,
  POD_NAMESPACE_ENV,
  SIDECAR_CONFIG_ENV,
  type SidecarConfig,
} from '../../contract/sidecar-config.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_LEVEL_ENV = 'TOKEN_BROKER_LOG_LEVEL';
/** Bind address of the health and metrics ports (`::` for IPv6 pods); the API stays on 127.0.0.1. */
export const LISTEN_HOST_ENV = 'TOKEN_BROKER_LISTEN_HOST';
export const DEFAULT_LISTEN_HOST = '0.0.0.0';

export interface SidecarOptions {
  config: SidecarConfig;
  podName: string;
  podNamespace: string;
  /** `--once`: fetch every target, write the files, exit. */
  once: boolean;
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

const USAGE = 'usage: token-broker sidecar [--once] [--log-level fatal|error|warn|info|debug|trace|silent]';

interface Flags {
  once: boolean;
  logLevel: string | undefined;
}

function parseArgv(argv: readonly string[]): Flags {
  const flags: Flags = { once: false, logLevel: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--once') {
      flags.once = true;
    } else if (arg === '--log-level') {
      const value = argv[i + 1];
      if (value === undefined) throw new SidecarOptionsError(`--log-level needs a value; ${USAGE}`);
      flags.logLevel = value;
      i++;
    } else if (arg.startsWith('--log-level=')) {
      flags.logLevel = arg.slice('--log-level='.length);
    } else {
      throw new SidecarOptionsError(`unknown argument "${arg}"; ${USAGE}`);
    }
  }
  return flags;
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
  return Object.freeze({ config, podName, podNamespace, once: flags.once, logLevel, listenHost });
}
