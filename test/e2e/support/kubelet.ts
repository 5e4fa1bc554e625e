import { randomBytes } from 'node:crypto';
import type { Container, EnvVar, Pod } from '../../../webhook/src/injection/k8s-types.ts';

/**
 * The little the e2e tests need of what the API server and the kubelet do with a pod, so that a
 * container's command, env and files can be run as a local process: a pod from a Deployment's template,
 * and a container's env resolved like the kubelet resolves it, with each volume the container mounts
 * mapped to a directory on this machine.
 */

/** Volume name -> the directory that holds it here (the kubelet keeps it under /var/lib/kubelet/pods/...). */
export type VolumeDirs = Readonly<Record<string, string>>;

interface PodTemplateOwner {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: {
    readonly template?: { readonly metadata?: Pod['metadata']; readonly spec?: Pod['spec'] };
  };
}

/**
 * The pod a ReplicaSet of `deployment` asks the API server to create: the template's metadata and spec,
 * named by `generateName` (the final name is only known after admission, as in a cluster).
 */
export function podFromTemplate(deployment: PodTemplateOwner): Pod {
  const template = deployment.spec?.template;
  if (template?.spec === undefined) {
    throw new Error(`${deployment.kind ?? 'object'}: spec.template.spec is missing; give a Deployment`);
  }
  const owner = deployment.metadata?.name ?? 'app';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...structuredClone(template.metadata ?? {}), generateName: `${owner}-7d9f8c6b5-` },
    spec: structuredClone(template.spec),
  };
}

/** What the API server fills in after admission: the generated name and the namespace. */
export function persistPod(pod: Pod, namespace: string): Pod {
  const suffix = randomBytes(3).toString('hex').slice(0, 5);
  const name = pod.metadata?.name ?? `${pod.metadata?.generateName ?? 'pod-'}${suffix}`;
  return { ...pod, metadata: { ...pod.metadata, name, namespace } };
}

/** Every container of the pod, init containers first. */
export function allContainers(pod: Pod): Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

export function findContainer(pod: Pod, name: string): Container {
  const container = allContainers(pod).find((c) => c.name === name);
  if (container === undefined) {
    const names = allContainers(pod).map((c) => c.name);
    throw new Error(`pod has no container "${name}" (it has: ${names.join(', ')})`);
  }
  return container;
}

/**
 * `path` as seen inside `container` -> the same file on this machine, through the container's volume
 * mounts (the longest matching mount wins). Paths outside every mount are returned unchanged; a path
 * inside a mount of a volume that `dirs` does not place is an error (the test forgot a volume).
 */
export function hostPath(container: Container, dirs: VolumeDirs, path: string): string {
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  for (const mount of mounts) {
    const root = mount.mountPath.replace(/\/+$/, '');
    if (path !== root && !path.startsWith(`${root}/`)) continue;
    if (mount.subPath !== undefined) throw new Error(`mount ${mount.name}: subPath is not supported here`);
    const dir = dirs[mount.name];
    if (dir === undefined) {
      throw new Error(
        `container "${container.name}" mounts volume "${mount.name}" at ${root}, which the test did not place`,
      );
    }
    return `${dir}${path.slice(root.length)}`;
  }
  return path;
}

function fieldRefValue(pod: Pod, fieldPath: string): string {
  const value =
    fieldPath === 'metadata.name'
      ? pod.metadata?.name
      : fieldPath === 'metadata.namespace'
        ? pod.metadata?.namespace
        : undefined;
  if (value === undefined) throw new Error(`fieldRef ${fieldPath} is not resolvable here`);
  return value;
}

function envValue(pod: Pod, variable: EnvVar): string {
  if (variable.value !== undefined) {
    // The kubelet would expand $(VAR); nothing token-broker injects uses it, so refuse rather than guess.
    if (variable.value.includes('$('))
      throw new Error(`env ${variable.name}: $(VAR) expansion not supported`);
    return variable.value;
  }
  const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
  if (fieldPath !== undefined) return fieldRefValue(pod, fieldPath);
  if (variable.valueFrom === undefined) return '';
  throw new Error(`env ${variable.name}: only value and valueFrom.fieldRef are supported here`);
}

/**
 * The env of `container` as the kubelet resolves it (values, downward-API fieldRefs), with every value
 * that names a path inside one of its volume mounts rewritten to where that volume lives here.
 */
export function containerEnv(pod: Pod, container: Container, dirs: VolumeDirs): Record<string, string> {
  if ((container.envFrom as unknown[] | undefined)?.length) {
    throw new Error(`container "${container.name}": envFrom is not supported here`);
  }
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    env[variable.name] = hostPath(container, dirs, envValue(pod, variable));
  }
  return env;
}
