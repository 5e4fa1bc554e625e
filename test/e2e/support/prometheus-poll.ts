/**
 * Waiting on a condition instead of sleeping: the probe runs every `intervalMs` until it returns a
 * value (not undefined) or the deadline passes. On timeout the error names what was awaited and what
 * the probe saw last, so a failing run says why without a rerun. A probe that throws fails at once.
 */
export interface PollOptions {
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Describes the last observation for the timeout message. */
  readonly lastSeen?: () => string;
}

export async function pollUntil<T>(probe: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const seen = options.lastSeen?.();
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}${seen === undefined ? '' : `; last seen: ${seen}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}
