/**
 * Where the pod templates are in a Kubernetes object, so the offline `inject` can run each through the
 * same mutation as the webhook and re-root the pod's patch under the template's JSON Pointer. Pure.
 */

/** Kinds whose pod template sits at `spec.template`. */
const TEMPLATE_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
]);

export interface PodTemplateRef {
  /** RFC 6901 pointer from the document root to the Pod or PodTemplateSpec ("" for a Pod itself). */
  pointer: string;
  /** The object at the pointer: has `spec` (and usually `metadata`). Not a copy: do not modify it. */
  template: Record<string, unknown>;
  /** The object that owns the template (the Pod, Deployment, List item...), for messages and namespace. */
  owner: { kind: string; name: string; namespace?: string };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ownerOf(object: Record<string, unknown>): PodTemplateRef['owner'] {
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const name =
    typeof metadata.name === 'string'
      ? metadata.name
      : typeof metadata.generateName === 'string'
        ? `${metadata.generateName}*`
        : '(unnamed)';
  const owner: PodTemplateRef['owner'] = {
    kind: typeof object.kind === 'string' ? object.kind : '(no kind)',
    name,
  };
  if (typeof metadata.namespace === 'string' && metadata.namespace) owner.namespace = metadata.namespace;
  return owner;
}

function templateAt(
  object: Record<string, unknown>,
  path: readonly string[],
  base: string,
): PodTemplateRef | undefined {
  let node: unknown = object;
  for (const key of path) {
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  if (!isObject(node) || !isObject(node.spec)) return undefined;
  return { pointer: `${base}/${path.join('/')}`, template: node, owner: ownerOf(object) };
}

function collect(object: unknown, base: string, out: PodTemplateRef[]): void {
  if (!isObject(object)) return;
  const kind = object.kind;
  if (kind === 'Pod') {
    if (isObject(object.spec)) out.push({ pointer: base, template: object, owner: ownerOf(object) });
    return;
  }
  if (typeof kind === 'string' && TEMPLATE_KINDS.has(kind)) {
    const ref = templateAt(object, ['spec', 'template'], base);
    if (ref) out.push(ref);
    return;
  }
  if (kind === 'CronJob') {
    const ref = templateAt(object, ['spec', 'jobTemplate', 'spec', 'template'], base);
    if (ref) out.push(ref);
    return;
  }
  // `kubectl get -o yaml` wraps several objects as kind List (or FooList); items may nest further.
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(object.items)) {
    object.items.forEach((item, index) => collect(item, `${base}/items/${index}`, out));
  }
}

/** Every pod template in `document`, in document order; none for kinds without one (Service, ConfigMap...). */
export function findPodTemplates(document: unknown): PodTemplateRef[] {
  const out: PodTemplateRef[] = [];
  collect(document, '', out);
  return out;
}

/** Prefixes each operation's `path` (and `from`) with the template's pointer. */
export function rerootPatch<T extends { path: string; from?: string }>(
  patch: readonly T[],
  pointer: string,
): T[] {
  if (pointer === '') return patch.map((op) => ({ ...op }));
  return patch.map((op) => {
    const moved = { ...op, path: `${pointer}${op.path}` };
    if (typeof op.from === 'string') moved.from = `${pointer}${op.from}`;
    return moved;
  });
}
