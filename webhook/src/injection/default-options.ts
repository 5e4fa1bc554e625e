/**
 * The flags and `TOKEN_BROKER_*` env vars that set injection defaults (sidecar image, mode, resources,
 * refresh margin, UID, ports), shared by `token-broker webhook` and `token-broker inject`. Precedence:
 * flag > env > BUILTIN_DEFAULTS; an empty env value counts as unset (Helm renders empty strings). Pure:
 * flags and env are passed in; the server's own flags are in server/options.ts.
 */
import {
  parseQuantity,
  parseRefreshMargin,
  parseRunAsUser,
  parseSidecarMode,
  quantityValue,
  type Parsed,
} from './annotations.ts';
import type { ImagePullPolicy } from './injection-spec.ts';
import { BUILTIN_DEFAULTS, type WebhookDefaults } from './spec.ts';

/** Bad flags or env: every problem, one per line, each naming the flag/env var, the value and the fix. */
export class OptionsError extends Error {
  override name = 'OptionsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export interface OptionSpec {
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

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];

/** parseArgs option table for a set of specs (all take a string value). */
export function parseArgsOptions(specs: Record<string, OptionSpec>): Record<string, { type: 'string' }> {
  return Object.fromEntries(Object.values(specs).map((s) => [s.flag, { type: 'string' as const }]));
}

export type Lookup = (spec: OptionSpec) => { value: string; source: string } | undefined;

export function lookupIn(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Lookup {
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
