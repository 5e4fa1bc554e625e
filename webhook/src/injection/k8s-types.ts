/**
 * Minimal structural types for the parts of a Pod the webhook reads or writes. They are plain JSON
 * shapes (what the API server sends in an AdmissionReview), not client classes. Every object keeps an
 * index signature so fields this file does not name (newer Kubernetes fields, user extensions) pass
 * through injection untouched.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface ObjectFieldSelector {
  fieldPath: string;
  apiVersion?: string;
  [key: string]: unknown;
}

export interface EnvVarSource {
  fieldRef?: ObjectFieldSelector;
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  [key: string]: unknown;
}

export interface EmptyDirVolumeSource {
  medium?: string;
  sizeLimit?: string;
  [key: string]: unknown;
}

export interface Volume {
  name: string;
  emptyDir?: EmptyDirVolumeSource;
  [key: string]: unknown;
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
  [key: string]: unknown;
}

export interface SeccompProfile {
  type: string;
  localhostProfile?: string;
  [key: string]: unknown;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: Capabilities;
  seccompProfile?: SeccompProfile;
  [key: string]: unknown;
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  [key: string]: unknown;
}

export interface HttpGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: string;
  [key: string]: unknown;
}

export interface Probe {
  httpGet?: HttpGetAction;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  [key: string]: unknown;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
  [key: string]: unknown;
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: ContainerPort[];
  resources?: ResourceRequirements;
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  /** `Always` on an init container makes it a native sidecar (Kubernetes >= 1.29). */
  restartPolicy?: string;
  terminationMessagePolicy?: string;
  [key: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: PodSecurityContext;
  serviceAccountName?: string;
  restartPolicy?: string;
  hostNetwork?: boolean;
  [key: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec: PodSpec;
  [key: string]: unknown;
}
