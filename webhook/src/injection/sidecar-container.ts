/**
 * The injected token-broker container(s): the native sidecar (first init container with
 * `restartPolicy: Always`), or in legacy mode an init container running `sidecar --once` plus a
 * regular sidecar container. All variants share env, mounts, resources and security context.
 */

import {
  POD_NAME_ENV,
  POD_NAMESPACE_ENV,
  serializeSidecarConfig,
  SIDECAR_CONFIG_API_VERSION,
  SIDECAR_CONFIG_ENV,
  type SidecarConfig,
} from '../../../contract/sidecar-config.ts';
import { giveIdentity, type PodIdentity } from './identity.ts';
import type { Container, EnvVar, Probe, ResourceRequirements } from './k8s-types.ts';
import {
  HEALTH_PORT_NAME,
  METRICS_PORT_NAME,
  NO_API_TOKEN_VOLUME_NAME,
  SERVICE_ACCOUNT_TOKEN_PATH,
  SIDECAR_CONTAINER_NAME,
  SIDECAR_INIT_CONTAINER_NAME,
  VOLUME_NAME,
} from './names.ts';
import type { InjectionSpec } from './injection-spec.ts';
import { rdsCaMount } from './volumes.ts';

export type SidecarVariant = 'native' | 'legacy-init' | 'legacy';

/**
 * The injected containers' command when no target of the pod is proxied: the image's node running the
 * sidecar bundle (dist/sidecar.cjs, `npm run build:bundle`, scripts/sidecar-bundle.ts) rather than the
 * image ENTRYPOINT (the whole CLI, loaded file by file). `--lite-mode`: V8 without its optimizing
 * compilers and with lazy feedback; such a sidecar does little CPU work, so they buy it little and cost
 * it memory in every pod for its whole life (docs/bench.md: 8 MiB less RSS, 2-6 MiB less anon, about
 * 0.02 CPU-s more at start). Lite mode turns WebAssembly off (see scripts/sidecar-bundle.ts for what
 * that rules out); `--no-expose-wasm` says so up front, which keeps V8's warning line about it out of
 * the logs.
 */
export const SIDECAR_COMMAND: readonly string[] = [
  '/nodejs/bin/node',
  '--lite-mode',
  '--no-expose-wasm',
  '/app/dist/sidecar.cjs',
];

/**
 * The command when a target of the pod is proxied (sidecar/src/pg-proxy/): without `--lite-mode`, since
 * the proxy relays every query of the app; in lite mode it spent about 1.7 times the CPU per query and
 * gave 20% less throughput (bench/pgbench.ts runs both). Still `--no-expose-wasm`: the same bundle, no
 * WebAssembly either way.
 */
export const PROXY_SIDECAR_COMMAND: readonly string[] = SIDECAR_COMMAND.filter(
  (arg) => arg !== '--lite-mode',
);

/** The injected command for `spec`: lite mode unless a target of the pod is proxied. */
export function sidecarCommand(spec: Pick<InjectionSpec, 'targets'>): readonly string[] {
  const proxied = spec.targets.some((target) => target.kind === 'rds' && target.proxy !== undefined);
  return proxied ? PROXY_SIDECAR_COMMAND : SIDECAR_COMMAND;
}

/** The contract JSON the sidecar parses at start (contract/sidecar-config.ts). */
export function sidecarConfig(spec: InjectionSpec): SidecarConfig {
  return {
    apiVersion: SIDECAR_CONFIG_API_VERSION,
    directory: spec.directory,
    listen: { apiPort: spec.apiPort, healthPort: spec.healthPort, metricsPort: spec.metricsPort },
    refresh: { marginSeconds: spec.refreshMarginSeconds },
    targets: spec.targets,
  };
}

function sidecarEnv(spec: InjectionSpec): EnvVar[] {
  const env: EnvVar[] = [
    { name: SIDECAR_CONFIG_ENV, value: serializeSidecarConfig(sidecarConfig(spec)) },
    { name: POD_NAME_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: POD_NAMESPACE_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  ];
  // No AWS_REGION here: giveIdentity copies the cluster's region from the app (where the EKS webhook
  // put it), or the EKS webhook adds it to this container itself when it runs after us; a value set
  // here would stop it from doing so. Without any, the sidecar uses the first target's region for STS.
  // RDS tokens are signed with each target's own region regardless.
  env.push({ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' });
  return env;
}

function sidecarResources(spec: InjectionSpec): ResourceRequirements {
  const { cpuRequest, cpuLimit, memoryRequest, memoryLimit } = spec.resources;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (cpuRequest !== undefined) requests.cpu = cpuRequest;
  if (memoryRequest !== undefined) requests.memory = memoryRequest;
  if (cpuLimit !== undefined) limits.cpu = cpuLimit;
  if (memoryLimit !== undefined) limits.memory = memoryLimit;
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

function probe(path: string, periodSeconds: number, failureThreshold: number): Probe {
  return { httpGet: { path, port: HEALTH_PORT_NAME }, periodSeconds, timeoutSeconds: 1, failureThreshold };
}

/**
 * One injected container. `identity` (IRSA / EKS Pod Identity env and mounts copied from an app
 * container) gives the sidecar the pod's AWS identity.
 */
export function buildSidecarContainer(
  spec: InjectionSpec,
  identity: PodIdentity,
  variant: SidecarVariant,
): Container {
  const container: Container = {
    name: variant === 'legacy-init' ? SIDECAR_INIT_CONTAINER_NAME : SIDECAR_CONTAINER_NAME,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    command: [...sidecarCommand(spec)],
  };
  // With a command and no args, Kubernetes ignores the image's CMD too: the sidecar gets no arguments.
  if (variant === 'legacy-init') container.args = ['--once'];
  // restartPolicy Always on an init container is what makes it a native sidecar (k8s >= 1.29).
  if (variant === 'native') container.restartPolicy = 'Always';
  container.env = sidecarEnv(spec);
  if (variant !== 'legacy-init') {
    // The API port stays undeclared: it listens on 127.0.0.1 only.
    container.ports = [
      { name: HEALTH_PORT_NAME, containerPort: spec.healthPort, protocol: 'TCP' },
      { name: METRICS_PORT_NAME, containerPort: spec.metricsPort, protocol: 'TCP' },
    ];
  }
  const resources = sidecarResources(spec);
  if (Object.keys(resources).length > 0) container.resources = resources;
  container.securityContext = {
    runAsNonRoot: true,
    runAsUser: spec.runAsUser,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  if (variant !== 'legacy-init') {
    // Native: later init containers and the app start only once credentials are fresh (up to ~2 min).
    // Plain init containers may not have probes, hence none for legacy-init.
    container.startupProbe = probe('/readyz', 1, 120);
    // No readinessProbe: it would tie every replica's Service readiness to STS, so an STS hiccup near
    // expiry - margin would pull all replicas out of their Services although pooled database
    // connections still work. Staleness is alerted on from the sidecar's metrics instead.
    container.livenessProbe = probe('/healthz', 10, 3);
  }
  container.volumeMounts = [
    { name: VOLUME_NAME, mountPath: spec.directory },
    // Holds the API token's place, so ServiceAccount admission gives this container none (volumes.ts).
    { name: NO_API_TOKEN_VOLUME_NAME, mountPath: SERVICE_ACCOUNT_TOKEN_PATH, readOnly: true },
    // The RDS CA bundle for the PostgreSQL proxy: the sidecar's alone, the app needs none.
    ...(spec.rdsCa === undefined ? [] : [rdsCaMount()]),
  ];
  // `--once` failures print one clear line; surface it in the pod status.
  container.terminationMessagePolicy = 'FallbackToLogsOnError';
  giveIdentity(container, identity);
  return container;
}
