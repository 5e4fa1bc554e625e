/**
 * Fixed names of everything injection adds (docs/design.md "What injection adds"). Fixed names make
 * injection deterministic and let a re-admitted pod be recognised.
 */

export const VOLUME_NAME = 'token-broker';
export const SIDECAR_CONTAINER_NAME = 'token-broker';
/** Legacy mode only: runs `sidecar --once` before the app's init containers. */
export const SIDECAR_INIT_CONTAINER_NAME = 'token-broker-init';
export const HEALTH_PORT_NAME = 'tb-health';
export const METRICS_PORT_NAME = 'tb-metrics';
/** Which container `kubectl logs/exec` use by default; set in legacy mode, where ours comes first. */
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';
/** The volume size limit: a handful of small files (tokens, pgpass, JSON credentials). */
export const VOLUME_SIZE_LIMIT = '4Mi';
/**
 * An always-empty volume mounted where Kubernetes puts the API token, so the sidecar holds none
 * (volumes.ts). Its name must not start with `kube-api-access-`, which ServiceAccount admission
 * takes for its own token volume.
 */
export const NO_API_TOKEN_VOLUME_NAME = 'token-broker-no-api-token';
export const NO_API_TOKEN_SIZE_LIMIT = '1Ki';
/** Where ServiceAccount admission mounts the API token into every container lacking a mount there. */
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Volume names injection adds; a pod not yet injected may not use them. */
export const OWN_VOLUME_NAMES: readonly string[] = [VOLUME_NAME, NO_API_TOKEN_VOLUME_NAME];

export const OWN_CONTAINER_NAMES: readonly string[] = [SIDECAR_CONTAINER_NAME, SIDECAR_INIT_CONTAINER_NAME];

/**
 * Service-mesh containers are not app containers: they never read credentials, run as their own UID
 * (istio-proxy is 1337) and would otherwise make the sidecar UID ambiguous. An explicit
 * `token-broker.io/containers` allow-list can still name them.
 */
export const INFRASTRUCTURE_CONTAINER_NAMES: readonly string[] = [
  'istio-proxy',
  'istio-init',
  'istio-validation',
  'linkerd-proxy',
  'linkerd-init',
  'linkerd-network-validator',
];

/**
 * Whether a container gets the mount and env: the allow-list when given, else every container
 * except ours and the mesh's.
 */
export function isSelectedContainer(name: string, allowList: readonly string[] | undefined): boolean {
  if (OWN_CONTAINER_NAMES.includes(name)) return false;
  if (allowList) return allowList.includes(name);
  return !INFRASTRUCTURE_CONTAINER_NAMES.includes(name);
}
