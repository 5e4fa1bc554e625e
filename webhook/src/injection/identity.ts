/**
 * The pod's own AWS identity, as the EKS webhooks inject it into app containers: IRSA (web identity
 * token file + role ARN) or EKS Pod Identity (container credentials endpoint + token file). The
 * sidecar needs a copy of it; with `aws-credentials` the app containers must stop using web identity,
 * because the SDK chain tries web identity before the container endpoint.
 */

import { copyJson } from './copy-json.ts';
import type { Container, EnvVar, Pod, VolumeMount } from './k8s-types.ts';
import { NO_API_TOKEN_VOLUME_NAME, OWN_CONTAINER_NAMES, SERVICE_ACCOUNT_TOKEN_PATH } from './names.ts';

export const AWS_ROLE_ARN = 'AWS_ROLE_ARN';
export const AWS_WEB_IDENTITY_TOKEN_FILE = 'AWS_WEB_IDENTITY_TOKEN_FILE';
export const AWS_CONTAINER_CREDENTIALS_FULL_URI = 'AWS_CONTAINER_CREDENTIALS_FULL_URI';
export const AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE';
export const WEB_IDENTITY_ENV: readonly string[] = [AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE];
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const AWS_REGION = 'AWS_REGION';
export const AWS_DEFAULT_REGION = 'AWS_DEFAULT_REGION';

/** Addresses of the EKS Pod Identity Agent (IPv4 and IPv6 link-local). */
const EKS_POD_IDENTITY_AGENT = /^http:\/\/(169\.254\.170\.23|\[fd00:ec2::23\])(:\d+)?\//;

export function isEksPodIdentityUri(value: string | undefined): boolean {
  return value !== undefined && EKS_POD_IDENTITY_AGENT.test(value);
}

export interface PodIdentity {
  /** Env entries to give the sidecar, in the order found. */
  env: EnvVar[];
  /** Projected-token mounts to give the sidecar. */
  mounts: VolumeMount[];
  /**
   * AWS_REGION (and AWS_DEFAULT_REGION) of the container the identity came from: the EKS webhook
   * sets them to the cluster's region, where STS is reachable (a private cluster may have only an
   * STS VPC endpoint there). Empty when that container has none.
   */
  region: EnvVar[];
}

function envValue(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

/** The mount holding a token file: the longest mountPath that contains the path. */
function mountFor(container: Container, file: string | undefined): VolumeMount | undefined {
  if (!file) return undefined;
  let best: VolumeMount | undefined;
  for (const m of container.volumeMounts ?? []) {
    const dir = m.mountPath.endsWith('/') ? m.mountPath : `${m.mountPath}/`;
    if (file.startsWith(dir) && (!best || m.mountPath.length > best.mountPath.length)) best = m;
  }
  return best;
}

function appContainers(pod: Pod): Container[] {
  return [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].filter(
    (c) => !OWN_CONTAINER_NAMES.includes(c.name),
  );
}

/**
 * IRSA and/or EKS Pod Identity env and mounts, each taken from the first app container (containers
 * before init containers) that has it. The container endpoint counts only when it is the EKS agent's:
 * after `aws-credentials` injection app containers point at our own sidecar, which must never be
 * copied back into the sidecar.
 */
export function findPodIdentity(pod: Pod): PodIdentity {
  const identity: PodIdentity = { env: [], mounts: [], region: [] };
  const containers = appContainers(pod);
  const irsa = containers.find((c) => envValue(c, AWS_WEB_IDENTITY_TOKEN_FILE) !== undefined);
  if (irsa) {
    for (const name of WEB_IDENTITY_ENV) {
      const entry = irsa.env?.find((e) => e.name === name);
      if (entry) identity.env.push(copyJson(entry));
    }
    const mount = mountFor(irsa, envValue(irsa, AWS_WEB_IDENTITY_TOKEN_FILE));
    if (mount) identity.mounts.push(copyJson(mount));
  }
  const podIdentity = containers.find((c) =>
    isEksPodIdentityUri(envValue(c, AWS_CONTAINER_CREDENTIALS_FULL_URI)),
  );
  if (podIdentity) {
    for (const name of [AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE]) {
      const entry = podIdentity.env?.find((e) => e.name === name);
      if (entry) identity.env.push(copyJson(entry));
    }
    const mount = mountFor(podIdentity, envValue(podIdentity, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE));
    if (mount && !identity.mounts.some((m) => m.name === mount.name)) identity.mounts.push(copyJson(mount));
  }
  const source = irsa ?? podIdentity;
  if (source) identity.region = regionEnv(source);
  return identity;
}

/** AWS_REGION (from AWS_DEFAULT_REGION when only that is set; the JS SDK reads AWS_REGION) and AWS_DEFAULT_REGION. */
function regionEnv(container: Container): EnvVar[] {
  // An empty value is no region (the SDK would fail on it); the sidecar then uses a target's region.
  const set = (name: string) =>
    container.env?.find((e) => e.name === name && (e.valueFrom !== undefined || (e.value ?? '') !== ''));
  const region = set(AWS_REGION);
  const fallback = set(AWS_DEFAULT_REGION);
  const out: EnvVar[] = [];
  if (region) out.push(copyJson(region));
  else if (fallback) out.push({ ...copyJson(fallback), name: AWS_REGION });
  if (fallback) out.push(copyJson(fallback));
  return out;
}

/**
 * Adds identity env and mounts the sidecar container lacks (by name); edits `sidecar` in place. When
 * identity env is newly given, the sidecar also gets the identity container's region env. Only then: our own edits to app containers (web identity
 * stripped for aws-credentials) can move the identity to another container on reinvocation, and the
 * region must not follow it there, or admitting the result again would not be a no-op.
 */
export function giveIdentity(sidecar: Container, identity: PodIdentity): void {
  const env = (sidecar.env ??= []);
  let given = false;
  for (const entry of identity.env) {
    if (!env.some((e) => e.name === entry.name)) {
      env.push(copyJson(entry));
      given = true;
    }
  }
  if (given) {
    for (const entry of identity.region) {
      const at = env.findIndex((e) => e.name === entry.name);
      if (at < 0) env.push(copyJson(entry));
      else env[at] = copyJson(entry);
    }
  }
  for (const mount of identity.mounts) {
    if (nested(mount.mountPath, SERVICE_ACCOUNT_TOKEN_PATH)) {
      // A token file at, above or below the API token path (not EKS's layout): the identity needs
      // that path more than the sidecar needs it empty, and nesting mounts there could fail.
      sidecar.volumeMounts = sidecar.volumeMounts?.filter((m) => m.name !== NO_API_TOKEN_VOLUME_NAME);
    }
    const mounts = (sidecar.volumeMounts ??= []);
    if (!mounts.some((m) => m.name === mount.name || m.mountPath === mount.mountPath)) {
      mounts.push({ ...copyJson(mount), readOnly: true });
    }
  }
}

/** Whether two mount paths are equal or one lies inside the other. */
function nested(a: string, b: string): boolean {
  const dir = (p: string) => (p.endsWith('/') ? p : `${p}/`);
  return dir(a).startsWith(dir(b)) || dir(b).startsWith(dir(a));
}

/**
 * With `aws-credentials`, an app container's default credentials come from the sidecar: web identity
 * env is removed (it would win in the SDK chain) and EKS Pod Identity's endpoint is replaced by ours.
 * A container endpoint the user set to anything else is kept. Edits `container` in place.
 */
export function pointAtSidecar(container: Container, fullUri: string, tokenFile: string): void {
  if (!container.env) return;
  const eksManaged = isEksPodIdentityUri(envValue(container, AWS_CONTAINER_CREDENTIALS_FULL_URI));
  container.env = container.env
    .filter((e) => !WEB_IDENTITY_ENV.includes(e.name))
    .map((e) => {
      if (!eksManaged) return e;
      if (e.name === AWS_CONTAINER_CREDENTIALS_FULL_URI) return { name: e.name, value: fullUri };
      if (e.name === AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) return { name: e.name, value: tokenFile };
      return e;
    });
}

/** Whether a container's env names IRSA's token file or the EKS Pod Identity agent. */
function carriesIdentity(container: Container): boolean {
  return (
    envValue(container, AWS_WEB_IDENTITY_TOKEN_FILE) !== undefined ||
    isEksPodIdentityUri(envValue(container, AWS_CONTAINER_CREDENTIALS_FULL_URI))
  );
}

/**
 * Whether the sidecar ends up with an AWS identity after this admission: one to copy from an app
 * container, or, on reinvocation, one every injected container holds already. After `aws-credentials`
 * the app containers point at the sidecar, so the stored sidecar may be the only place it is left.
 */
export function sidecarGetsIdentity(pod: Pod): boolean {
  if (findPodIdentity(pod).env.length > 0) return true;
  const own = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].filter((c) =>
    OWN_CONTAINER_NAMES.includes(c.name),
  );
  return own.length > 0 && own.every(carriesIdentity);
}
