/**
 * Bounds how many large request bodies are read and handled at once. A body costs its size several
 * times over while it is read, parsed and checked (the text, the parsed object, the strings in it), so
 * memory grows with the number of large bodies in flight, not with the number of requests. Real pods
 * are a few to a few tens of KiB, so the API server's own traffic never waits here; a flood of
 * multi-MiB bodies queues instead of growing the heap. A waiting request's body stays in the kernel
 * (its stream is not read) and the server's request timeout still applies to it.
 */

/** Bodies above this (or of unknown length) pass through the gate. */
export const LARGE_BODY_BYTES = 256 * 1024;
/** Large bodies in flight at once. */
export const LARGE_BODY_CONCURRENCY = 2;

export interface Gate {
  /** Resolves with a release function once a slot is free; release is idempotent. */
  acquire(): Promise<() => void>;
  /** Slots taken and requests waiting (for tests and metrics). */
  state(): { active: number; waiting: number };
}

export function createGate(slots: number): Gate {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    };
  };
  return {
    acquire: () => {
      if (active < slots) {
        active += 1;
        return Promise.resolve(release());
      }
      // The slot is handed over directly: `active` stays the same.
      return new Promise((resolve) => waiting.push(() => resolve(release())));
    },
    state: () => ({ active, waiting: waiting.length }),
  };
}

/** Whether a request with these headers must pass the gate (a body over the limit is refused unread). */
export function needsGate(
  headers: { 'content-length'?: string; 'transfer-encoding'?: string },
  limit: number,
): boolean {
  const length = headers['content-length'];
  if (length === undefined) return headers['transfer-encoding'] !== undefined;
  const bytes = Number(length);
  return !(bytes <= LARGE_BODY_BYTES) && !(bytes > limit);
}
