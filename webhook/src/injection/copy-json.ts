/**
 * Deep copy of plain JSON data (a parsed pod, its env entries and mounts). A walk rather than
 * `structuredClone`, which costs about five times as much on a typical pod and showed as 5-7% of the
 * webhook's CPU profile under load. Undefined values are kept, as structuredClone keeps them; an own
 * `__proto__` key stays data.
 */
export function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const item = copyJson(source[key]);
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out as T;
}
