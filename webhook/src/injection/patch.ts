/**
 * RFC 6902 JSON Patch from the diff of two JSON documents (before/after injection). Whole new
 * objects are added in one operation (a new container, not field by field); arrays of named objects
 * (containers, env, volumes, mounts) are matched by name so edits stay small and readable.
 */

export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  /** Present for add and replace. */
  value?: unknown;
}

/** RFC 6901: `~` -> `~0`, `/` -> `~1` (in that order). */
export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function diffToJsonPatch(before: unknown, after: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  diff(before, after, '', ops);
  return ops;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON copy: drops undefined-valued keys, as the API server would, and turns an undefined array item
 * into null, as JSON.stringify does. A walk, not a JSON.stringify/parse round trip: the values are
 * already plain JSON data (a parsed pod plus what injection built), and the round trip per patch
 * operation was a visible share of the webhook's CPU profile.
 */
function json(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : json(item)));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === undefined) continue;
    // An own `__proto__` key (as JSON.parse makes it), never a prototype change.
    if (key === '__proto__')
      Object.defineProperty(out, key, {
        value: json(item),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[key] = json(item);
  }
  return out;
}

/** JSON equality; a key holding undefined counts as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => b[k] !== undefined && jsonEqual(a[k], b[k]));
  }
  return false;
}

function diff(before: unknown, after: unknown, path: string, ops: JsonPatchOperation[]): void {
  if (jsonEqual(before, after)) return;
  if (isObject(before) && isObject(after)) return diffObjects(before, after, path, ops);
  if (Array.isArray(before) && Array.isArray(after)) return diffArrays(before, after, path, ops);
  ops.push({ op: 'replace', path, value: json(after) });
}

function diffObjects(before: JsonObject, after: JsonObject, path: string, ops: JsonPatchOperation[]): void {
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && after[key] === undefined) {
      ops.push({ op: 'remove', path: `${path}/${escapePointerSegment(key)}` });
    }
  }
  for (const key of Object.keys(after)) {
    if (after[key] === undefined) continue;
    const child = `${path}/${escapePointerSegment(key)}`;
    if (before[key] === undefined) ops.push({ op: 'add', path: child, value: json(after[key]) });
    else diff(before[key], after[key], child, ops);
  }
}

/** Names of an array of `{name: string}` objects, or undefined when not all named or not unique. */
function uniqueNames(items: unknown[]): string[] | undefined {
  const names: string[] = [];
  for (const item of items) {
    if (!isObject(item) || typeof item.name !== 'string') return undefined;
    names.push(item.name);
  }
  return new Set(names).size === names.length ? names : undefined;
}

function addAt(path: string, index: number, length: number): string {
  return index === length ? `${path}/-` : `${path}/${index}`;
}

function diffArrays(before: unknown[], after: unknown[], path: string, ops: JsonPatchOperation[]): void {
  const beforeNames = uniqueNames(before);
  const afterNames = uniqueNames(after);
  if (beforeNames && afterNames) {
    if (!diffNamed(before, after, beforeNames, afterNames, path, ops))
      ops.push({ op: 'replace', path, value: json(after) });
    return;
  }

  if (before.length === after.length) {
    before.forEach((item, i) => diff(item, after[i], `${path}/${i}`, ops));
    return;
  }
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && jsonEqual(before[prefix], after[prefix]))
    prefix++;
  let suffix = 0;
  while (
    suffix < before.length - prefix &&
    suffix < after.length - prefix &&
    jsonEqual(before[before.length - 1 - suffix], after[after.length - 1 - suffix])
  ) {
    suffix++;
  }
  const removed = before.length - prefix - suffix;
  const added = after.length - prefix - suffix;
  if (removed === 0) {
    for (let i = 0; i < added; i++) {
      ops.push({
        op: 'add',
        path: addAt(path, prefix + i, before.length + i),
        value: json(after[prefix + i]),
      });
    }
  } else if (added === 0) {
    for (let i = 0; i < removed; i++) ops.push({ op: 'remove', path: `${path}/${prefix}` });
  } else {
    ops.push({ op: 'replace', path, value: json(after) });
  }
}

/**
 * Named arrays: remove dropped names (from the end), insert new ones at their final index, then diff
 * the kept ones in place. Returns false (the caller replaces the array) when kept items were reordered.
 */
function diffNamed(
  before: unknown[],
  after: unknown[],
  beforeNames: string[],
  afterNames: string[],
  path: string,
  ops: JsonPatchOperation[],
): boolean {
  const keptInAfter = afterNames.filter((n) => beforeNames.includes(n));
  const keptInBefore = beforeNames.filter((n) => afterNames.includes(n));
  if (keptInAfter.some((n, i) => n !== keptInBefore[i])) return false;

  for (let i = before.length - 1; i >= 0; i--) {
    if (!afterNames.includes(beforeNames[i] ?? '')) ops.push({ op: 'remove', path: `${path}/${i}` });
  }
  let length = keptInBefore.length;
  afterNames.forEach((name, j) => {
    if (!beforeNames.includes(name)) {
      ops.push({ op: 'add', path: addAt(path, j, length), value: json(after[j]) });
      length++;
    }
  });
  afterNames.forEach((name, j) => {
    const i = beforeNames.indexOf(name);
    if (i >= 0) diff(before[i], after[j], `${path}/${j}`, ops);
  });
  return true;
}
