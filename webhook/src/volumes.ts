/**
 * The volumes injection adds: the shared credentials volume, in memory (credentials never touch the
 * node's disk) and small; and an empty one that keeps the Kubernetes API token out of the sidecar.
 */

import type { Volume } from './k8s-types.ts';
import {
  NO_API_TOKEN_SIZE_LIMIT,
  NO_API_TOKEN_VOLUME_NAME,
  VOLUME_NAME,
  VOLUME_SIZE_LIMIT,
} from './names.ts';

export function credentialsVolume(): Volume {
  return { name: VOLUME_NAME, emptyDir: { medium: 'Memory', sizeLimit: VOLUME_SIZE_LIMIT } };
}

/**
 * Mounted read-only at the API token path of our containers. ServiceAccount admission mounts its
 * `kube-api-access-*` token into every container without a mount at that exact path; the sidecar needs
 * no Kubernetes API access, so it should hold no token (a compromised sidecar could otherwise act as
 * the pod's ServiceAccount). It also keeps ServiceAccount admission from changing the pod after us,
 * which would re-invoke every `IfNeeded` webhook once more for every injected pod.
 */
export function noApiTokenVolume(): Volume {
  return {
    name: NO_API_TOKEN_VOLUME_NAME,
    emptyDir: { medium: 'Memory', sizeLimit: NO_API_TOKEN_SIZE_LIMIT },
  };
}

/** Every volume injection adds, in pod order. */
export function injectedVolumes(): Volume[] {
  return [credentialsVolume(), noApiTokenVolume()];
}
