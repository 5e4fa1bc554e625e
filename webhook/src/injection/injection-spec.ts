/**
 * What injection adds to one pod, as resolved from its annotations and the webhook defaults: the
 * output of spec resolution (spec.ts) and the input of every builder (sidecar container, app
 * containers, volumes). Types only, in a module of their own so the builders and the resolver can both
 * import them without importing each other.
 */
import type { Target } from '../../../contract/sidecar-config.ts';
import type { ConfigMapRef, SidecarMode } from './annotations.ts';

export interface SidecarResources {
  cpuRequest?: string;
  cpuLimit?: string;
  memoryRequest?: string;
  memoryLimit?: string;
}

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

export interface InjectionSpec {
  /** Sorted by name so the sidecar config and the env are deterministic. */
  targets: Target[];
  /** Mongo target whose credentials become the app containers' default AWS credentials. */
  awsCredentials?: string;
  /** ConfigMap with the RDS CA bundle, mounted into the sidecar; set when a target has a proxy. */
  rdsCa?: ConfigMapRef;
  /** Allow-list of container names; undefined: every app and init container but mesh proxies. */
  containers?: string[];
  mode: SidecarMode;
  runAsUser: number;
  refreshMarginSeconds: number;
  resources: SidecarResources;
  image: string;
  imagePullPolicy: ImagePullPolicy;
  apiPort: number;
  healthPort: number;
  metricsPort: number;
  directory: string;
}
