/**
 * The shape of the pod in an AdmissionReview, checked before the core reads any of it. The API server
 * only ever sends pods it decoded into its own types, so everything here holds for real admissions;
 * a body that breaks it comes from another client (or a fuzzer). Without this check such a body reached
 * code that assumes the Kubernetes types (`[null, 42]` as containers, `env: "x"`), recursion that runs
 * out of stack (deep nesting in structuredClone and the patch diff) or a regex fed megabytes: a 500.
 *
 * Pure and non-recursive: one iterative walk bounds depth, then only fixed, shallow paths are read.
 * Problems name the field and never quote its value (it may be an env value or a secret).
 */

import { ANN, isOurAnnotation, parseInject } from './annotations.ts';
import type { Pod } from './k8s-types.ts';

/**
 * Deepest nesting accepted anywhere in the pod. Real pods stay near 20 levels (affinity terms,
 * managedFields); recursion in structuredClone and the patch diff runs out of stack in the thousands.
 */
export const MAX_POD_DEPTH = 100;
/** Kubernetes: a qualified name is an optional DNS prefix (253) + "/" + a name (63). */
export const MAX_ANNOTATION_KEY_LENGTH = 253 + 1 + 63;
/** Kubernetes' TotalAnnotationSizeLimitB: all keys and values of one object together. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/**
 * Longest token-broker.io value: a target URI with the longest host (253), IAM role ARN (2048) and
 * external id (1224) still fits, and no URI parser or regex ever sees more.
 */
export const MAX_OWN_ANNOTATION_LENGTH = 4096;
/**
 * Entries of the lists injection edits (containers, init containers, their env, volume mounts and
 * ports, volumes) together. Real pods have tens to hundreds; the patch diff matches names pairwise,
 * and this keeps its worst case near 100 ms.
 */
export const MAX_LIST_ENTRIES = 4096;
/** Problems listed in one denial; the first ones say enough to fix the pod. */
export const MAX_PROBLEMS = 10;

export interface ShapeProblem {
  /** The pod field at fault, e.g. `spec.containers[1].env`. */
  field: string;
  /** What is wrong, without the value. */
  problem: string;
  fix: string;
}

export type PodShape =
  | { ok: true; pod: Pod }
  /**
   * `optedIn`: whether the pod asks for injection, read as far as the shape allows. `problems` holds
   * the first MAX_PROBLEMS of `total`.
   */
  | { ok: false; optedIn: boolean; problems: ShapeProblem[]; total: number };

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The type of a value in words, never the value itself. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

const SEND_AS_API =
  'send the Pod as the Kubernetes API defines it (the API server would refuse this one too)';

/**
 * Whether the pod opted in, reading only what is safe to read: `metadata.annotations` must be an
 * object and the inject value exactly "true".
 */
export function podOptsIn(object: unknown): boolean {
  if (!isObject(object) || !isObject(object.metadata)) return false;
  const annotations = object.metadata.annotations;
  if (!isObject(annotations)) return false;
  const value = annotations[ANN.inject];
  return typeof value === 'string' && parseInject(value);
}

/** First field nesting deeper than MAX_POD_DEPTH (top three segments of its path), or undefined. */
function tooDeep(root: unknown): string | undefined {
  // Explicit stack: the walk itself must not recurse. `where` stops growing after three segments.
  const stack: { value: unknown; depth: number; where: string }[] = [{ value: root, depth: 1, where: '' }];
  while (stack.length > 0) {
    const { value, depth, where } = stack.pop() as { value: unknown; depth: number; where: string };
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_POD_DEPTH) return where;
    const short = depth > 3;
    if (Array.isArray(value)) {
      value.forEach((child, i) =>
        stack.push({ value: child, depth: depth + 1, where: short ? where : `${where}[${i}]` }),
      );
    } else {
      for (const [key, child] of Object.entries(value)) {
        stack.push({
          value: child,
          depth: depth + 1,
          where: short ? where : `${where}${where ? '.' : ''}${key}`,
        });
      }
    }
  }
  return undefined;
}

/** Keeps the first MAX_PROBLEMS and counts the rest (a list of a million nulls is one request). */
class Problems {
  readonly list: ShapeProblem[] = [];
  total = 0;
  add(field: string, problem: string, fix: string = SEND_AS_API): void {
    this.total += 1;
    if (this.list.length < MAX_PROBLEMS) this.list.push({ field, problem, fix });
  }
  /** Optional field: absent and null are fine (the API omits empty fields; Go may write null). */
  optional(value: unknown, field: string, check: (v: unknown) => boolean, expected: string): boolean {
    if (value === undefined || value === null) return true;
    if (check(value)) return true;
    this.add(field, `is ${kindOf(value)}; expected ${expected}`);
    return false;
  }
}

const isString = (v: unknown) => typeof v === 'string';
const isNonEmptyString = (v: unknown) => typeof v === 'string' && v.length > 0;
const isUid = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkAnnotations(annotations: unknown, problems: Problems): void {
  if (!problems.optional(annotations, 'metadata.annotations', isObject, 'a map of strings')) return;
  if (!isObject(annotations)) return;
  let bytes = 0;
  for (const [key, value] of Object.entries(annotations)) {
    const field = `metadata.annotations[${JSON.stringify(key.slice(0, 80))}]`;
    bytes += Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
    if (key.length > MAX_ANNOTATION_KEY_LENGTH) {
      problems.add(
        field,
        `the key is ${key.length} characters long; Kubernetes annotation keys are at most ${MAX_ANNOTATION_KEY_LENGTH}`,
        'shorten the key',
      );
      continue;
    }
    if (typeof value !== 'string') {
      problems.add(field, `is ${kindOf(value)}; annotation values are strings`, 'quote the value');
      continue;
    }
    if (isOurAnnotation(key) && value.length > MAX_OWN_ANNOTATION_LENGTH) {
      problems.add(
        field,
        `is ${value.length} characters long; token-broker values are at most ${MAX_OWN_ANNOTATION_LENGTH}`,
        'shorten the value (a target URI needs host, database, user and a few options)',
      );
    }
  }
  if (bytes > MAX_ANNOTATIONS_BYTES) {
    problems.add(
      'metadata.annotations',
      `total ${bytes} bytes; Kubernetes allows at most ${MAX_ANNOTATIONS_BYTES} for all annotations of a pod`,
      'remove or shorten annotations',
    );
  }
}

function checkSecurityContext(value: unknown, field: string, problems: Problems): void {
  if (!problems.optional(value, field, isObject, 'an object')) return;
  if (!isObject(value)) return;
  problems.optional(value.runAsUser, `${field}.runAsUser`, isUid, 'a UID (an integer, 0 or more)');
}

/** Checks a list of objects; returns the objects to look into (the list must be one). */
function objectList(value: unknown, field: string, what: string, problems: Problems): JsonObject[] {
  if (!problems.optional(value, field, Array.isArray, `a list of ${what}`)) return [];
  if (!Array.isArray(value)) return [];
  const items: JsonObject[] = [];
  value.forEach((item, i) => {
    if (isObject(item)) items.push(item);
    else problems.add(`${field}[${i}]`, `is ${kindOf(item)}; expected ${what}`);
  });
  return items;
}

function checkContainer(c: JsonObject, field: string, problems: Problems): number {
  const env = objectList(c.env, `${field}.env`, 'env vars ({name, value} or {name, valueFrom})', problems);
  env.forEach((e, i) => {
    const at = `${field}.env[${i}]`;
    if (!isNonEmptyString(e.name))
      problems.add(`${at}.name`, `is ${kindOf(e.name)}; expected the variable name`);
    problems.optional(e.value, `${at}.value`, isString, 'a string (quote numbers and booleans)');
    problems.optional(e.valueFrom, `${at}.valueFrom`, isObject, 'an object (fieldRef, secretKeyRef, ...)');
  });
  const mounts = objectList(
    c.volumeMounts,
    `${field}.volumeMounts`,
    'volume mounts ({name, mountPath})',
    problems,
  );
  mounts.forEach((m, i) => {
    const at = `${field}.volumeMounts[${i}]`;
    if (!isNonEmptyString(m.name)) problems.add(`${at}.name`, `is ${kindOf(m.name)}; expected a volume name`);
    if (!isNonEmptyString(m.mountPath))
      problems.add(`${at}.mountPath`, `is ${kindOf(m.mountPath)}; expected an absolute path`);
  });
  const ports = objectList(c.ports, `${field}.ports`, 'container ports ({containerPort})', problems);
  ports.forEach((p, i) => {
    const isPort = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
    problems.optional(
      p.containerPort,
      `${field}.ports[${i}].containerPort`,
      isPort,
      'a port number 1..65535',
    );
  });
  checkSecurityContext(c.securityContext, `${field}.securityContext`, problems);
  return env.length + mounts.length + ports.length;
}

/**
 * Checks what the core reads of a pod: the opt-in and its annotations, the containers it edits and the
 * fields it looks at. Anything else is passed through untouched and only its depth is bounded.
 */
export function checkPodShape(object: unknown): PodShape {
  const optedIn = podOptsIn(object);
  const problems = new Problems();
  const fail = (): PodShape => ({ ok: false, optedIn, problems: problems.list, total: problems.total });
  if (!isObject(object)) {
    problems.add('(pod)', `is ${kindOf(object)}; expected a Pod object`);
    return fail();
  }
  const deep = tooDeep(object);
  if (deep !== undefined) {
    problems.add(
      deep || '(pod)',
      `nests deeper than ${MAX_POD_DEPTH} levels; no Pod field nests that deep`,
      'remove the nesting',
    );
    return fail();
  }

  const metadata = object.metadata;
  if (problems.optional(metadata, 'metadata', isObject, 'an object') && isObject(metadata)) {
    for (const key of ['name', 'generateName', 'namespace'] as const) {
      problems.optional(metadata[key], `metadata.${key}`, isString, 'a string');
    }
    checkAnnotations(metadata.annotations, problems);
  }

  const spec = object.spec;
  if (!isObject(spec)) {
    problems.add('spec', `is ${kindOf(spec)}; expected the pod spec with its containers`);
    return fail();
  }
  let entries = 0;
  const names = new Set<string>();
  for (const list of ['initContainers', 'containers'] as const) {
    if (list === 'containers' && !Array.isArray(spec.containers)) {
      problems.add(
        'spec.containers',
        `is ${kindOf(spec.containers)}; expected the list of the pod's containers`,
      );
      continue;
    }
    const containers = objectList(spec[list], `spec.${list}`, 'containers ({name, image, ...})', problems);
    entries += containers.length;
    containers.forEach((c, i) => {
      const field = `spec.${list}[${i}]`;
      if (!isNonEmptyString(c.name)) {
        problems.add(`${field}.name`, `is ${kindOf(c.name)}; expected the container's name`);
      } else if (names.has(c.name as string)) {
        problems.add(
          `${field}.name`,
          'is used by another container too',
          'give every container its own name',
        );
      } else {
        names.add(c.name as string);
      }
      entries += checkContainer(c, field, problems);
    });
  }
  const volumes = objectList(spec.volumes, 'spec.volumes', 'volumes ({name, ...})', problems);
  volumes.forEach((v, i) => {
    if (!isNonEmptyString(v.name))
      problems.add(`spec.volumes[${i}].name`, `is ${kindOf(v.name)}; expected a name`);
  });
  entries += volumes.length;
  checkSecurityContext(spec.securityContext, 'spec.securityContext', problems);
  problems.optional(spec.serviceAccountName, 'spec.serviceAccountName', isString, 'a string');
  problems.optional(spec.restartPolicy, 'spec.restartPolicy', isString, 'a string');
  problems.optional(spec.hostNetwork, 'spec.hostNetwork', (v) => typeof v === 'boolean', 'true or false');
  if (entries > MAX_LIST_ENTRIES) {
    problems.add(
      'spec',
      `containers, init containers, their env, volume mounts and ports and the volumes hold ${entries} entries together; at most ${MAX_LIST_ENTRIES} are accepted`,
      'split the workload into smaller pods, or move env into a ConfigMap (envFrom)',
    );
  }
  return problems.total > 0 ? fail() : { ok: true, pod: object as unknown as Pod };
}

/** The denial text for a malformed opted-in pod: each problem listed with its field and fix. */
export function renderShapeDenial(problems: readonly ShapeProblem[], total = problems.length): string {
  const count = total === 1 ? '1 problem' : `${total} problems`;
  const shown = total > problems.length ? `, the first ${problems.length} shown` : '';
  return [
    `token-broker: the pod opts in to injection but cannot be read (${count}${shown}):`,
    ...problems.map((p) => `- ${p.field}: ${p.problem}. Fix: ${p.fix}`),
  ].join('\n');
}
