/**
 * The volumes injection adds: the shared credentials volume, in memory (credentials never touch the
 * node's disk) and small; and an empty one that keeps the Kubernetes API token out of the sidecar.
 */

import { DEFAULT_RDS_CA_KEY, type ConfigMapRef } from './annotations.ts';
import type { Volume, VolumeMount } from './k8s-types.ts';
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

/** The RDS CA bundle (token-broker.io/rds-ca-configmap), for the PostgreSQL proxy's TLS to the database. */
export const RDS_CA_VOLUME_NAME = 'token-broker-rds-ca';
/** Where the sidecar, and only the sidecar, sees the bundle; the app never needs it. */
export const RDS_CA_MOUNT_PATH = '/etc/token-broker/rds-ca';
export const DEFAULT_RDS_CA_FILE = `${RDS_CA_MOUNT_PATH}/${DEFAULT_RDS_CA_KEY}`;

export function rdsCaFile(ref: ConfigMapRef): string {
  return `${RDS_CA_MOUNT_PATH}/${ref.key}`;
}

/** Only the named key: a missing key stops the pod with a clear event instead of a proxy that cannot verify. */
export function rdsCaVolume(ref: ConfigMapRef): Volume {
  return {
    name: RDS_CA_VOLUME_NAME,
    configMap: { name: ref.name, items: [{ key: ref.key, path: ref.key }] },
  };
}

export function rdsCaMount(): VolumeMount {
  return { name: RDS_CA_VOLUME_NAME, mountPath: RDS_CA_MOUNT_PATH, readOnly: true };
}

/** Every volume injection adds, in pod order. */
export function injectedVolumes(spec: { rdsCa?: ConfigMapRef } = {}): Volume[] {
  return [
    credentialsVolume(),
    noApiTokenVolume(),
    ...(spec.rdsCa === undefined ? [] : [rdsCaVolume(spec.rdsCa)]),
  ];
}
