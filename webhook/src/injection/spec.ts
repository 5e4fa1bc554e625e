/**
 * Spec resolution: pod annotations + webhook defaults (+ ServiceAccount) -> InjectionSpec, or every
 * configuration error at once. Precedence: pod annotation > webhook defaults (flags / chart values)
 * > BUILTIN_DEFAULTS. Pure: reads the pod, never edits it.
 */

import {
  DEFAULT_API_PORT,
  DEFAULT_DIRECTORY,
  DEFAULT_HEALTH_PORT,
  DEFAULT_METRICS_PORT,
  DEFAULT_REFRESH_MARGIN_SECONDS,
  TARGET_NAME_PATTERN,
  type MongoTarget,
  type RdsTarget,
  type Target,
} from '../../../contract/sidecar-config.ts';
import {
  ANN,
  classifyAnnotation,
  isOurAnnotation,
  parseConfigMapRef,
  parseContainerList,
  parseQuantity,
  parseRefreshMargin,
  parseRunAsUser,
  parseSidecarMode,
  parseStatus,
  parseTargetRef,
  quantityValue,
  suggestAnnotation,
  RDS_CA_HOWTO,
  STATUS_INJECTED,
  type ConfigMapRef,
  type Parsed,
  type SidecarMode,
} from './annotations.ts';
import { configError, type ConfigError } from './config-error.ts';
import { appEnvNames } from './app-containers.ts';
import type { ImagePullPolicy, InjectionSpec, SidecarResources } from './injection-spec.ts';
import { IRSA_ROLE_ANNOTATION, sidecarGetsIdentity } from './identity.ts';
import type { Container, Pod } from './k8s-types.ts';
import { isSelectedContainer, OWN_CONTAINER_NAMES, OWN_VOLUME_NAMES } from './names.ts';
import { parseMongoTarget, parseRdsTarget, type TargetParse } from './target-uri.ts';
import { DEFAULT_RDS_CA_FILE, RDS_CA_VOLUME_NAME, rdsCaFile } from './volumes.ts';

/** Webhook-wide settings (flags / env / chart values); pod annotations override them per pod. */
export interface WebhookDefaults {
  sidecarImage: string;
  imagePullPolicy: ImagePullPolicy;
  sidecarMode: SidecarMode;
  refreshMarginSeconds: number;
  resources: SidecarResources;
  apiPort: number;
  healthPort: number;
  metricsPort: number;
  /** UID for the sidecar when neither the annotation nor the pod says which UID the app runs as. */
  runAsUser: number;
}

export const BUILTIN_DEFAULTS: Readonly<WebhookDefaults> = Object.freeze({
  sidecarImage: 'ghcr.io/token-broker/token-broker:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  sidecarMode: 'native',
  refreshMarginSeconds: DEFAULT_REFRESH_MARGIN_SECONDS,
  resources: Object.freeze({ cpuRequest: '10m', memoryRequest: '64Mi', memoryLimit: '128Mi' }),
  apiPort: DEFAULT_API_PORT,
  healthPort: DEFAULT_HEALTH_PORT,
  metricsPort: DEFAULT_METRICS_PORT,
  runAsUser: 65532,
});

export type DefaultsOverrides = Partial<Omit<WebhookDefaults, 'resources'>> & {
  resources?: SidecarResources;
};

/** Layers overrides (e.g. webhook flags) over BUILTIN_DEFAULTS; resources merge key by key. */
export function mergeDefaults(
  overrides: DefaultsOverrides = {},
  base: WebhookDefaults = BUILTIN_DEFAULTS,
): WebhookDefaults {
  return { ...base, ...overrides, resources: { ...base.resources, ...overrides.resources } };
}

export interface ServiceAccountInfo {
  name: string;
  annotations: Record<string, string>;
}

export type SpecResult =
  | { ok: true; spec: InjectionSpec; warnings: string[] }
  | { ok: false; errors: ConfigError[]; warnings: string[] };

export function isInjected(pod: Pod): boolean {
  return pod.metadata?.annotations?.[ANN.status] === STATUS_INJECTED;
}

function take<T>(parsed: Parsed<T>, errors: ConfigError[]): T | undefined {
  if (parsed.ok) return parsed.value;
  errors.push(parsed.error);
  return undefined;
}

const RESOURCE_KEYS = [
  ['cpuRequest', ANN.cpuRequest],
  ['cpuLimit', ANN.cpuLimit],
  ['memoryRequest', ANN.memoryRequest],
  ['memoryLimit', ANN.memoryLimit],
] as const;

/**
 * The design's steps in order: the containers, the targets (with the CA bundle and proxies), the
 * pod-wide annotations (status, aws-credentials, containers), reserved names, the knobs (mode, refresh
 * margin, resources), the identity (UID), env collisions, then the context warnings. Errors come in
 * that order, all of them at once.
 */
export function resolveSpec(
  pod: Pod,
  namespace: string,
  defaults: WebhookDefaults,
  serviceAccount?: ServiceAccountInfo,
): SpecResult {
  const errors: ConfigError[] = [];
  const warnings: string[] = [];
  const annotations = pod.metadata?.annotations ?? {};

  const containers = Array.isArray(pod.spec?.containers) ? pod.spec.containers : [];
  const initContainers = Array.isArray(pod.spec?.initContainers) ? pod.spec.initContainers : [];
  const all = [...containers, ...initContainers];
  if (containers.length === 0) {
    errors.push(
      configError(
        'no-containers',
        'spec.containers',
        '[]',
        'the pod has no containers',
        'add the app container to the pod template',
      ),
    );
  }

  const found = resolveTargets(annotations, defaults, errors, warnings);
  const { values } = found;
  const status = values[ANN.status];
  if (status !== undefined) take(parseStatus(status), errors);
  const awsCredentials = resolveAwsCredentials(values[ANN.awsCredentials], found.targetKinds, errors);
  const allowList = resolveAllowList(values[ANN.containers], all, errors);
  if (!isInjected(pod)) checkReservedNames(pod, all, errors);

  const knobs = resolveKnobs(values, defaults, errors);
  const selected = all.filter((c) => isSelectedContainer(c.name, allowList));
  const runAsUser = resolveRunAsUser(
    pod,
    selected,
    values[ANN.runAsUser],
    defaults,
    found.rds,
    errors,
    warnings,
  );

  const targets = [...found.rds, ...found.mongo].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  checkEnvCollisions(targets, errors);

  const { mode, refreshMarginSeconds, resources } = knobs;
  if (
    errors.length > 0 ||
    mode === undefined ||
    refreshMarginSeconds === undefined ||
    runAsUser === undefined
  ) {
    return { ok: false, errors, warnings };
  }

  const spec: InjectionSpec = {
    targets,
    ...(awsCredentials !== undefined ? { awsCredentials } : {}),
    ...(found.rdsCa !== undefined && found.proxied > 0 ? { rdsCa: found.rdsCa } : {}),
    ...(allowList !== undefined ? { containers: allowList } : {}),
    mode,
    runAsUser,
    refreshMarginSeconds,
    resources,
    image: defaults.sidecarImage,
    imagePullPolicy: defaults.imagePullPolicy,
    apiPort: defaults.apiPort,
    healthPort: defaults.healthPort,
    metricsPort: defaults.metricsPort,
    directory: DEFAULT_DIRECTORY,
  };
  warnings.push(...contextWarnings(pod, namespace, spec, all, serviceAccount));
  return { ok: true, spec, warnings };
}

/** The pod's token-broker annotations sorted into targets (by kind) and pod-wide values (by key). */
interface ReadAnnotations {
  rds: RdsTarget[];
  mongo: MongoTarget[];
  /** Target name -> the annotation keys that use it (more than one is an error). */
  targetKinds: Map<string, string[]>;
  /** Pod-wide annotations (inject, status, containers, knobs) by key. */
  values: Partial<Record<string, string>>;
  sawTarget: boolean;
}

interface ResolvedTargets extends ReadAnnotations {
  rdsCa: ConfigMapRef | undefined;
  /** How many RDS targets have a proxy. */
  proxied: number;
}

/** Targets: every rds/mongo annotation parsed, names unique, at least one, proxies and CA bundle checked. */
function resolveTargets(
  annotations: Record<string, string>,
  defaults: WebhookDefaults,
  errors: ConfigError[],
  warnings: string[],
): ResolvedTargets {
  // Read first: a proxied target's config names the file the CA bundle is mounted as.
  const caValue = annotations[ANN.rdsCaConfigMap];
  const rdsCa = caValue === undefined ? undefined : take(parseConfigMapRef(String(caValue)), errors);
  const caFile = rdsCa === undefined ? DEFAULT_RDS_CA_FILE : rdsCaFile(rdsCa);

  const read = readAnnotations(annotations, caFile, errors, warnings);
  for (const [name, keys] of read.targetKinds) {
    if (keys.length > 1) {
      errors.push(
        configError(
          'duplicate-target-name',
          keys.join(', '),
          name,
          `target name "${name}" is used by more than one annotation; names name files and env vars`,
          'give each rds/mongo target a different name',
        ),
      );
    }
  }
  if (!read.sawTarget) {
    errors.push(
      configError(
        'no-targets',
        ANN.inject,
        annotations[ANN.inject] ?? '',
        'the pod opts in but names no database',
        'add a token-broker.io/rds-<name> or token-broker.io/mongo-<name> annotation, or remove token-broker.io/inject',
      ),
    );
  }

  const proxied = checkProxies(read.rds, annotations, defaults, caValue !== undefined, errors);
  if (caValue !== undefined && proxied === 0 && read.rds.length + read.mongo.length > 0) {
    warnings.push(
      `${ANN.rdsCaConfigMap} is set but no token-broker.io/rds-<name> target has proxy=<port>; the CA bundle is not mounted`,
    );
  }
  return { ...read, rdsCa, proxied };
}

/** One pass over the token-broker.io/ annotations in key order: unknown keys, target names, targets. */
function readAnnotations(
  annotations: Record<string, string>,
  caFile: string,
  errors: ConfigError[],
  warnings: string[],
): ReadAnnotations {
  const read: ReadAnnotations = { rds: [], mongo: [], targetKinds: new Map(), values: {}, sawTarget: false };
  for (const key of Object.keys(annotations).filter(isOurAnnotation).sort()) {
    // Annotations are strings in the API; YAML fed to the CLI may hold numbers or booleans.
    const value = String(annotations[key] ?? '');
    const match = classifyAnnotation(key);
    if (match.kind === 'unknown') {
      const suggestion = suggestAnnotation(key);
      errors.push(
        configError(
          'unknown-annotation',
          key,
          value,
          'is not a token-broker annotation',
          suggestion
            ? `did you mean "${suggestion}"?`
            : 'use one of the keys in the token-broker annotation table (docs/design.md), e.g. token-broker.io/rds-<name>',
        ),
      );
      continue;
    }
    if (match.kind === 'exact') {
      read.values[key] = value;
      continue;
    }
    read.sawTarget = true;
    if (!TARGET_NAME_PATTERN.test(match.name)) {
      errors.push(
        configError(
          'invalid-target-name',
          key,
          value,
          `target name "${match.name}" must be 1-32 lowercase letters, digits or "-", starting with a letter`,
          `rename the annotation, e.g. token-broker.io/${match.kind}-${suggestTargetName(match.name)}`,
        ),
      );
      continue;
    }
    read.targetKinds.set(match.name, [...(read.targetKinds.get(match.name) ?? []), key]);
    const parsed: TargetParse<Target> =
      match.kind === 'rds'
        ? parseRdsTarget(match.name, value, key, caFile)
        : parseMongoTarget(match.name, value, key);
    errors.push(...parsed.errors);
    warnings.push(...parsed.warnings);
    if (parsed.target?.kind === 'rds') read.rds.push(parsed.target);
    if (parsed.target?.kind === 'mongo') read.mongo.push(parsed.target);
  }
  return read;
}

/** `aws-credentials: <name>` must name a mongo target of this pod. */
function resolveAwsCredentials(
  value: string | undefined,
  targetKinds: Map<string, string[]>,
  errors: ConfigError[],
): string | undefined {
  if (value === undefined) return undefined;
  const name = take(parseTargetRef(value), errors);
  const keys = name === undefined ? undefined : targetKinds.get(name);
  if (name !== undefined && !keys?.some((k) => k.startsWith('token-broker.io/mongo-'))) {
    const mongoNames = [...targetKinds].filter(([, ks]) =>
      ks.some((k) => k.startsWith('token-broker.io/mongo-')),
    );
    errors.push(
      configError(
        'unknown-aws-credentials-target',
        ANN.awsCredentials,
        name,
        keys
          ? `"${name}" is an RDS target; only mongo targets have AWS credentials to hand out`
          : `there is no token-broker.io/mongo-${name} annotation`,
        mongoNames.length > 0
          ? `set it to one of: ${mongoNames.map(([n]) => n).join(', ')}`
          : `add token-broker.io/mongo-${name} or remove token-broker.io/aws-credentials`,
      ),
    );
    return undefined;
  }
  return name;
}

/** `containers: a,b`: every name must be a container of this pod (not one of ours). */
function resolveAllowList(
  value: string | undefined,
  all: Container[],
  errors: ConfigError[],
): string[] | undefined {
  if (value === undefined) return undefined;
  const existing = all.map((c) => c.name).filter((n) => !OWN_CONTAINER_NAMES.includes(n));
  const allowList = take(parseContainerList(value), errors);
  const missing = (allowList ?? []).filter((n) => !existing.includes(n));
  if (missing.length > 0) {
    errors.push(
      configError(
        'unknown-container',
        ANN.containers,
        value,
        `the pod has no container named ${missing.map((n) => `"${n}"`).join(', ')}`,
        `list only containers of this pod: ${existing.join(', ') || '(none)'}`,
      ),
    );
  }
  return allowList;
}

/** A pod not yet injected must not already use the names of the containers and volumes we add. */
function checkReservedNames(pod: Pod, all: Container[], errors: ConfigError[]): void {
  const reserved = all.filter((c) => OWN_CONTAINER_NAMES.includes(c.name));
  for (const c of reserved) {
    errors.push(
      configError(
        'reserved-name',
        'spec.containers',
        c.name,
        `container name "${c.name}" is reserved for the injected sidecar`,
        'rename the container, or remove token-broker.io/inject if the pod was injected already',
      ),
    );
  }
  const ownVolumes = [...OWN_VOLUME_NAMES, RDS_CA_VOLUME_NAME];
  for (const name of ownVolumes.filter((n) => (pod.spec?.volumes ?? []).some((v) => v.name === n))) {
    errors.push(
      configError(
        'reserved-name',
        'spec.volumes',
        name,
        `volume name "${name}" is reserved for a volume token-broker injects`,
        'rename the volume',
      ),
    );
  }
}

/** Knobs: sidecar mode, refresh margin and resources, each the annotation's or the webhook default. */
function resolveKnobs(
  values: Partial<Record<string, string>>,
  defaults: WebhookDefaults,
  errors: ConfigError[],
): { mode: SidecarMode | undefined; refreshMarginSeconds: number | undefined; resources: SidecarResources } {
  const modeValue = values[ANN.sidecarMode];
  const mode = modeValue !== undefined ? take(parseSidecarMode(modeValue), errors) : defaults.sidecarMode;
  const marginValue = values[ANN.refreshMargin];
  const refreshMarginSeconds =
    marginValue !== undefined ? take(parseRefreshMargin(marginValue), errors) : defaults.refreshMarginSeconds;

  const resources: SidecarResources = { ...defaults.resources };
  for (const [field, key] of RESOURCE_KEYS) {
    const raw = values[key];
    if (raw === undefined) continue;
    const q = take(parseQuantity(raw, key), errors);
    if (q !== undefined) resources[field] = q;
  }
  checkRequestWithinLimit(resources, 'cpu', values, errors);
  checkRequestWithinLimit(resources, 'memory', values, errors);
  return { mode, refreshMarginSeconds, resources };
}

function suggestTargetName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  return cleaned || 'main';
}

function checkRequestWithinLimit(
  resources: SidecarResources,
  kind: 'cpu' | 'memory',
  values: Partial<Record<string, string>>,
  errors: ConfigError[],
): void {
  const request = kind === 'cpu' ? resources.cpuRequest : resources.memoryRequest;
  const limit = kind === 'cpu' ? resources.cpuLimit : resources.memoryLimit;
  if (request === undefined || limit === undefined) return;
  const r = quantityValue(request);
  const l = quantityValue(limit);
  if (r === undefined || l === undefined || r <= l) return;
  const requestKey = kind === 'cpu' ? ANN.cpuRequest : ANN.memoryRequest;
  const limitKey = kind === 'cpu' ? ANN.cpuLimit : ANN.memoryLimit;
  const key = values[requestKey] !== undefined ? requestKey : limitKey;
  errors.push(
    configError(
      'request-exceeds-limit',
      key,
      values[key] ?? '',
      `the sidecar ${kind} request ${request} is above its limit ${limit}`,
      `lower ${requestKey} or raise ${limitKey}`,
    ),
  );
}

/**
 * The sidecar's UID: the annotation, else the UID the selected containers run as (container
 * runAsUser, else the pod's). Different non-root UIDs are an error, not a guess: only one UID can
 * read the 0600 files. Root containers do not constrain it (root reads any file).
 */
function resolveRunAsUser(
  pod: Pod,
  selected: Container[],
  annotation: string | undefined,
  defaults: WebhookDefaults,
  rds: RdsTarget[],
  errors: ConfigError[],
  warnings: string[],
): number | undefined {
  const podUid = pod.spec?.securityContext?.runAsUser;
  const uids = new Map<string, number>();
  let anyRoot = false;
  for (const c of selected) {
    const uid = c.securityContext?.runAsUser ?? podUid;
    if (uid === 0) anyRoot = true;
    else if (typeof uid === 'number') uids.set(c.name, uid);
  }
  const distinct = [...new Set(uids.values())];

  if (annotation !== undefined) {
    const uid = take(parseRunAsUser(annotation), errors);
    const others = [...uids].filter(([, u]) => u !== uid);
    if (uid !== undefined && others.length > 0) {
      warnings.push(
        `${ANN.runAsUser}=${uid} differs from the UID of ${others.map(([n, u]) => `container "${n}" (${u})`).join(', ')}: ` +
          'those containers cannot read the 0600 credential files',
      );
    }
    return uid;
  }
  if (distinct.length > 1) {
    errors.push(
      configError(
        'conflicting-run-as-user',
        ANN.runAsUser,
        [...uids].map(([n, u]) => `${n}=${u}`).join(', '),
        'the selected containers run as different UIDs; the sidecar files (pgpass, auth-token are 0600) can be owned by only one',
        `set ${ANN.runAsUser} to the UID that reads the credentials, or limit ${ANN.containers} to containers sharing one UID`,
      ),
    );
    return undefined;
  }
  if (distinct.length === 1) return distinct[0];
  if (!anyRoot) {
    const uid = defaults.runAsUser;
    const consequence = rds.some((t) => t.engine === 'postgres')
      ? `libpq will ignore the pgpass unless the app runs as UID ${uid} too`
      : `the app can read them only if it runs as UID ${uid} too`;
    warnings.push(
      `no runAsUser on the pod or its containers: the sidecar runs as UID ${uid} and its files are 0600, so ${consequence}; ` +
        `set securityContext.runAsUser on the pod or annotate ${ANN.runAsUser} with the app's UID`,
    );
  }
  return defaults.runAsUser;
}

/**
 * Proxied targets: each port free of the sidecar's own ports and of the other proxies, and the CA
 * bundle named. Returns how many targets have a proxy.
 */
function checkProxies(
  rds: RdsTarget[],
  annotations: Record<string, string>,
  defaults: WebhookDefaults,
  hasCa: boolean,
  errors: ConfigError[],
): number {
  const proxied = rds.filter((t) => t.proxy !== undefined);
  const owners = new Map<number, string>([
    [defaults.apiPort, "the sidecar's API port"],
    [defaults.healthPort, "the sidecar's health port"],
    [defaults.metricsPort, "the sidecar's metrics port"],
  ]);
  for (const t of proxied) {
    const port = t.proxy?.port ?? 0;
    const key = `token-broker.io/rds-${t.name}`;
    const owner = owners.get(port);
    if (owner !== undefined) {
      errors.push(
        configError(
          'proxy-port-conflict',
          key,
          String(annotations[key] ?? ''),
          `proxy port ${port} is already ${owner}`,
          'pick another port for proxy=<port>, e.g. 6432, 6433, ... (one per target)',
        ),
      );
    } else {
      owners.set(port, `the proxy port of target "${t.name}"`);
    }
  }
  if (proxied.length > 0 && !hasCa) {
    errors.push(
      configError(
        'missing-rds-ca',
        ANN.rdsCaConfigMap,
        undefined,
        `target${proxied.length > 1 ? 's' : ''} ${proxied.map((t) => `"${t.name}"`).join(', ')} ha${proxied.length > 1 ? 've' : 's'} proxy=<port>, and the proxy verifies the database's certificate against the RDS CA bundle, but no ConfigMap with it is named`,
        `create the ConfigMap in the pod's namespace and annotate the pod with ${ANN.rdsCaConfigMap}: rds-ca (${RDS_CA_HOWTO})`,
      ),
    );
  }
  return proxied.length;
}

/** Env names the injection adds per target must not collide (e.g. rds target "auth"). */
function checkEnvCollisions(targets: Target[], errors: ConfigError[]): void {
  const owner = new Map<string, Target | undefined>();
  for (const { name, target } of appEnvNames(targets)) {
    if (!owner.has(name)) {
      owner.set(name, target);
      continue;
    }
    const previous = owner.get(name);
    if (!target) continue;
    errors.push(
      configError(
        'env-collision',
        `token-broker.io/${target.kind}-${target.name}`,
        target.name,
        `the app env var ${name} is already set for ${previous ? `target "${previous.name}"` : 'token-broker itself'}`,
        'rename the target',
      ),
    );
  }
}

function contextWarnings(
  pod: Pod,
  namespace: string,
  spec: InjectionSpec,
  all: Container[],
  serviceAccount: ServiceAccountInfo | undefined,
): string[] {
  const warnings: string[] = [];
  if (
    serviceAccount &&
    serviceAccount.annotations[IRSA_ROLE_ANNOTATION] === undefined &&
    // On reinvocation the identity may sit only in the stored sidecar (aws-credentials repointed the app).
    !sidecarGetsIdentity(pod)
  ) {
    warnings.push(
      `the sidecar will have no AWS identity: annotate ServiceAccount ${namespace}/${serviceAccount.name} with ` +
        `${IRSA_ROLE_ANNOTATION} (IRSA) or use EKS Pod Identity (create a pod identity association for it; ` +
        'if one exists, its webhook adds the env on reinvocation and this warning can be ignored)',
    );
  }
  const restartPolicy = pod.spec?.restartPolicy;
  if (spec.mode === 'legacy' && (restartPolicy === 'Never' || restartPolicy === 'OnFailure')) {
    warnings.push(
      `legacy sidecar mode with restartPolicy ${restartPolicy}: the sidecar container keeps running after the app exits, ` +
        'so the pod never completes unless the app, when done, calls POST $TOKEN_BROKER_URL/quitquitquit with the header ' +
        '"Authorization: $(cat $TOKEN_BROKER_AUTH_TOKEN_FILE)" (e.g. curl -fsS -X POST -H "Authorization: $(cat $TOKEN_BROKER_AUTH_TOKEN_FILE)" ' +
        '"$TOKEN_BROKER_URL/quitquitquit"); or use sidecar-mode native (Kubernetes >= 1.29)',
    );
  }
  const ports: [number, string, string][] = [
    [spec.apiPort, 'API', '--sidecar-api-port'],
    [spec.healthPort, 'health', '--sidecar-health-port'],
    [spec.metricsPort, 'metrics', '--sidecar-metrics-port'],
  ];
  if (pod.spec?.hostNetwork === true) {
    // A warning, not a denial: a host-network DaemonSet (one pod per node) works, and denying would
    // leave such pods no way to use token-broker at all.
    warnings.push(
      `hostNetwork: true: the sidecar listens on ports ${ports.map(([p]) => p).join(', ')} in the node's network namespace, ` +
        'so it cannot start on a node where another process or another injected host-network pod uses them, and its API ' +
        "(127.0.0.1, auth token required) is reachable from the node's loopback; run the pod without hostNetwork, or set " +
        'free ports with the webhook flags --sidecar-api-port, --sidecar-health-port, --sidecar-metrics-port (chart: sidecar.ports)',
    );
  }
  const proxyPorts = new Map(
    spec.targets.flatMap((t) => (t.kind === 'rds' && t.proxy ? [[t.proxy.port, t.name] as const] : [])),
  );
  for (const c of all.filter((x) => !OWN_CONTAINER_NAMES.includes(x.name))) {
    for (const p of c.ports ?? []) {
      const target = proxyPorts.get(p.containerPort);
      if (target !== undefined) {
        warnings.push(
          `container "${c.name}" declares port ${p.containerPort}, which the PostgreSQL proxy of target "${target}" listens on ` +
            '(ports are shared within a pod); give the target another proxy=<port>',
        );
      }
    }
    for (const p of c.ports ?? []) {
      const clash = ports.find(([port]) => port === p.containerPort);
      if (clash) {
        warnings.push(
          `container "${c.name}" declares port ${p.containerPort}, which the token-broker sidecar's ${clash[1]} server listens on ` +
            `(ports are shared within a pod); change the app's port or the webhook's ${clash[2]} flag (chart: sidecar.ports.${clash[1] === 'API' ? 'api' : clash[1]})`,
        );
      }
    }
  }
  return warnings;
}
