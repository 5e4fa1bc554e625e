/**
 * One fuzz case, kept small and printable: a base pod by name plus the edits made to it, so a failure
 * prints as a few lines of JSON that `npm run fuzz -- --replay '<json>'` runs again. Huge, deep and
 * long values are written as markers (`{"$repeat": "a", "times": 3000000}`, `{"$deep": 100000}`,
 * `{"$env": 5000}` for that many env vars) and only expanded into the request body.
 *
 * `materialize` turns a case into the bytes sent and the review the oracle reasons about. In that
 * review a `$deep` marker stays a marker (the oracle never walks a 100,000-level object), while
 * `$repeat` strings are expanded (they are just long).
 */
import { MAX_OWN_ANNOTATION_LENGTH } from '../../webhook/src/injection/pod-shape.ts';
import { basePod } from './base-pods.ts';

/**
 * Path into the pod: keys, indexes taken modulo the list's length (so they always land), and `-` to
 * append to a list.
 */
export type Path = (string | number)[];

export interface Edit {
  path: Path;
  /** A JSON value, possibly holding `$repeat` / `$deep` markers; `{"$delete": true}` removes the field. */
  value: unknown;
  /**
   * The edit makes the pod malformed (pod-shape.ts must refuse it, naming the edited field, or this
   * field when it is a string: a bound on the whole spec is named `spec`).
   */
  breaks?: boolean | string;
}

export interface FuzzCase {
  /** `review`: an AdmissionReview built from `base`; `raw`: `raw` is sent as the body. */
  kind: 'review' | 'raw';
  base?: string;
  /** Annotation values set on the pod (a `$delete` marker removes one). */
  annotations?: Record<string, unknown>;
  /** Pod edits, applied after the annotations. */
  edits?: Edit[];
  /** Edits of the AdmissionReview itself (paths from its root, e.g. ["request", "uid"]). */
  envelope?: Edit[];
  /** The envelope edits keep it a valid v1 pod review (the answer must be a review). */
  envelopeValid?: boolean;
  /** `raw` cases: the body, and how it is encoded here. */
  raw?: string;
  rawEncoding?: 'utf8' | 'base64';
  /** Cut the serialized body to this many characters (a truncated review). */
  truncate?: number;
  contentType?: string;
  /** Fake secrets planted in the case; none may come back in any answer. */
  secrets?: string[];
}

export const UID = '6b7c2f0e-fuzz-4c1d-9a57-000000000001';

export interface Materialized {
  body: Buffer;
  contentType: string;
  /** The review as sent, `$deep` markers kept; undefined for raw bodies and truncated reviews. */
  review?: Record<string, unknown>;
  /** The pod fields the breaking edit made malformed, as pod-shape.ts names them (first 3 segments). */
  broken: string[];
  /** Deepest nesting in the body (0 for raw bodies). */
  depth: number;
}

const DELETE = '$delete';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isDeepMarker(value: unknown): value is { $deep: number; leaf?: unknown } {
  return isObject(value) && typeof value.$deep === 'number';
}

/** Expands `$repeat` markers (not `$deep`), recursively over the (shallow) generated values. */
export function expandRepeats(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandRepeats);
  if (!isObject(value)) return value;
  if (typeof value.$repeat === 'string' && typeof value.times === 'number') {
    return value.$repeat.repeat(value.times);
  }
  if (typeof value.$env === 'number') {
    return Array.from({ length: value.$env }, (_, i) => ({ name: `E${i}`, value: 'v' }));
  }
  if (isDeepMarker(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandRepeats(v)]));
}

/**
 * JSON text with `$deep` markers expanded (built without recursing into the nesting), and the deepest
 * `{`/`[` nesting of that text.
 */
export function toJson(value: unknown): { text: string; depth: number } {
  let deepest = 0;
  const write = (v: unknown, depth: number): string => {
    if (isDeepMarker(v)) {
      deepest = Math.max(deepest, depth + v.$deep);
      const leaf = v.leaf === undefined ? '1' : write(v.leaf, depth + v.$deep);
      return `${'{"a":'.repeat(v.$deep)}${leaf}${'}'.repeat(v.$deep)}`;
    }
    if (Array.isArray(v) || isObject(v)) deepest = Math.max(deepest, depth + 1);
    if (Array.isArray(v))
      return `[${v.map((x) => (x === undefined ? 'null' : write(x, depth + 1))).join(',')}]`;
    if (isObject(v)) {
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v))
        if (x !== undefined) parts.push(`${JSON.stringify(k)}:${write(x, depth + 1)}`);
      return `{${parts.join(',')}}`;
    }
    return JSON.stringify(v) ?? 'null';
  };
  const text = write(value, 0);
  return { text, depth: deepest };
}

/** The pod field name as pod-shape.ts writes it: `spec.containers[0].env`. */
export function fieldName(path: Path): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/**
 * Sets `value` at `path` in `root` (edited in place). Missing objects and lists on the way are created
 * when the next step is a key or `-`; an index into a non-empty list is taken modulo its length. Returns
 * the path actually written, or undefined when the path cannot land (the edit is then skipped).
 */
export function setAt(root: Record<string, unknown>, path: Path, value: unknown): Path | undefined {
  const remove = isObject(value) && value[DELETE] === true;
  let node: unknown = root;
  const resolved: Path = [];
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string | number;
    const last = i === path.length - 1;
    let key: string | number;
    if (Array.isArray(node)) {
      if (segment === '-') key = node.length;
      else if (typeof segment === 'number' && node.length > 0) key = segment % node.length;
      else return undefined;
    } else if (isObject(node)) {
      key = String(segment);
    } else {
      return undefined;
    }
    resolved.push(key);
    const parent = node as Record<string | number, unknown>;
    if (last) {
      if (!remove) parent[key] = value;
      else if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      return resolved;
    }
    const next = path[i + 1];
    if (typeof parent[key] !== 'object' || parent[key] === null) {
      // Create what is missing, but never a list entry: an index needs an existing list to land in.
      if (typeof next === 'number') return undefined;
      parent[key] = next === '-' ? [] : {};
    }
    node = parent[key];
  }
  return resolved;
}

/** The pod and review for a `review` case (shared by materialize and the oracle). */
export function buildReview(c: FuzzCase): { review: Record<string, unknown>; broken: string[] } {
  const pod = structuredClone(basePod(c.base ?? '')) as Record<string, unknown>;
  const broken: string[] = [];
  if (c.annotations && Object.keys(c.annotations).length > 0) {
    if (!isObject(pod.metadata)) pod.metadata = {};
    const metadata = pod.metadata as Record<string, unknown>;
    if (!isObject(metadata.annotations)) metadata.annotations = {};
    const annotations = metadata.annotations as Record<string, unknown>;
    for (const [key, value] of Object.entries(c.annotations)) {
      if (isObject(value) && value[DELETE] === true) {
        delete annotations[key];
        continue;
      }
      const expanded = expandRepeats(value);
      annotations[key] = expanded;
      const tooLong =
        key.startsWith('token-broker.io/') &&
        typeof expanded === 'string' &&
        expanded.length > MAX_OWN_ANNOTATION_LENGTH;
      if (typeof expanded !== 'string' || tooLong) broken.push('metadata.annotations');
    }
  }
  for (const edit of c.edits ?? []) {
    const resolved = setAt(pod, edit.path, expandRepeats(edit.value));
    if (edit.breaks && resolved)
      broken.push(typeof edit.breaks === 'string' ? edit.breaks : fieldName(resolved.slice(0, 3)));
  }
  const review: Record<string, unknown> = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'fuzz',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
  for (const edit of c.envelope ?? []) setAt(review, edit.path, expandRepeats(edit.value));
  return { review, broken };
}

export function materialize(c: FuzzCase): Materialized {
  const contentType = c.contentType ?? 'application/json';
  if (c.kind === 'raw') {
    return { body: Buffer.from(c.raw ?? '', c.rawEncoding ?? 'utf8'), contentType, broken: [], depth: 0 };
  }
  const { review, broken } = buildReview(c);
  const { text, depth } = toJson(review);
  if (c.truncate !== undefined && c.truncate < text.length) {
    return { body: Buffer.from(text.slice(0, c.truncate)), contentType, broken: [], depth };
  }
  return { body: Buffer.from(text), contentType, review, broken, depth };
}
