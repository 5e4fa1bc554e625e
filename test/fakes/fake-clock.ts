/**
 * A manual clock implementing the sidecar's Timers: time moves only in advance(), which fires due
 * timers in order and lets the promise chains they start settle before moving on.
 */
import type { Timers } from '../../sidecar/src/refresher.ts';

interface PendingTimer {
  id: number;
  at: number;
  fn: () => void;
}

export const FAKE_EPOCH = Date.UTC(2030, 0, 1, 0, 0, 0);

export class FakeClock implements Timers {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, PendingTimer>();

  constructor(start: number = FAKE_EPOCH) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  pendingTimers(): number {
    return this.timers.size;
  }

  /** Due time of the earliest pending timer. */
  nextTimerAt(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }

  /** Moves time forward by `ms`, firing timers due on the way (in order) and settling their work. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.at > end) break;
      this.timers.delete(next.id);
      this.current = Math.max(this.current, next.at);
      next.fn();
      await settle();
    }
    this.current = end;
    await settle();
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers.values())
      if (best === undefined || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    return best;
  }
}

/** Lets every promise chain that depends only on resolved promises run to completion. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Deterministic random in [0, 1) (mulberry32), for jitter that varies but repeats. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
