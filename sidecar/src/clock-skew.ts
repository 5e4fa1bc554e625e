/**
 * This node's clock against STS's. Every STS answer, success or error, carries a `Date` header; its
 * difference from our clock when the answer arrived is the offset. STS states lifetimes on its own
 * clock (Expiration): read through the offset they become local times, so a node whose clock is
 * behind never trusts credentials past their end, and one whose clock is ahead does not see fresh
 * credentials as already expired. The SDK signs STS calls with the same offset (identity.ts).
 *
 * `offset` is STS's clock minus ours. Before any STS answer (or with credentials that never come
 * from STS, such as EKS Pod Identity's agent) it is unknown and times are taken as they are.
 */

/** Beyond this, AWS refuses requests signed on our clock (the STS emulator's tolerance, too). */
export const CLOCK_SKEW_THRESHOLD_MS = 5 * 60_000;
/** `Date` has whole seconds, so the true offset may be up to this much above the measured one. */
export const DATE_HEADER_RESOLUTION_MS = 1_000;

/** STS's clock minus ours (ms), from a `Date` header received at `receivedAt`; undefined if unreadable. */
export function measureOffset(dateHeader: unknown, receivedAt: number): number | undefined {
  if (typeof dateHeader !== 'string' || dateHeader.length > 64) return undefined;
  const serverTime = Date.parse(dateHeader);
  return Number.isFinite(serverTime) ? serverTime - receivedAt : undefined;
}

export function isSkewed(offsetMs: number | undefined): boolean {
  return offsetMs !== undefined && Math.abs(offsetMs) >= CLOCK_SKEW_THRESHOLD_MS;
}

/** What the rest of the sidecar reads: the last measured offset. */
export interface ClockOffset {
  /** STS's clock minus ours, ms; undefined until an STS answer was seen. */
  offsetMs(): number | undefined;
}

/** Told when the offset crosses the threshold, in either direction. */
export type SkewListener = (skewed: boolean, offsetMs: number) => void;

export class StsClock implements ClockOffset {
  private offset: number | undefined;

  constructor(
    private readonly now: () => number,
    private readonly onCrossing: SkewListener = () => undefined,
  ) {}

  /** Records the `Date` of an STS answer that arrives now. An `Age` header means a cache answered. */
  observe(dateHeader: unknown, ageHeader?: unknown): void {
    if (ageHeader !== undefined) return;
    const measured = measureOffset(dateHeader, this.now());
    if (measured === undefined) return;
    const was = isSkewed(this.offset);
    this.offset = measured;
    if (isSkewed(measured) !== was) this.onCrossing(!was, measured);
  }

  offsetMs(): number | undefined {
    return this.offset;
  }

  /**
   * A time STS states on its clock (an Expiration), on ours: never later than it really is, so the
   * header's whole seconds are taken against us.
   */
  toLocal(stsTime: number): number {
    return this.offset === undefined ? stsTime : stsTime - this.offset - DATE_HEADER_RESOLUTION_MS;
  }
}

/**
 * Credentials or a token that are already expired on this node's clock when they arrive: with no
 * measured offset that is the sign of a clock ahead of AWS (or of a broken credentials source).
 */
export class ClockSkewError extends Error {
  readonly code = 'ClockSkew';
  constructor(message: string) {
    super(message);
    this.name = 'ClockSkewError';
  }
}

/** "5 min 3 s ahead of STS" for logs and errors. */
export function describeOffset(offsetMs: number): string {
  const total = Math.round(Math.abs(offsetMs) / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  const amount = m > 0 ? `${m} min${s > 0 ? ` ${s} s` : ''}` : `${s} s`;
  return `${amount} ${offsetMs > 0 ? 'behind' : 'ahead of'} STS`;
}
