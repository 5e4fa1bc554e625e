/**
 * A token bucket, as AWS APIs throttle: `callsPerSecond` tokens a second flow into a bucket that holds
 * at most `burst` (default: one second's worth); each call takes one, and a call that finds the bucket
 * empty is refused (the STS emulator answers it 400 Throttling, as real STS does). Generic: it knows
 * nothing of STS or the product; the clock is injected.
 */

export interface RateLimit {
  /** Sustained rate; above it calls are refused. */
  callsPerSecond: number;
  /** Calls accepted at once after a quiet spell. Default: callsPerSecond (one second's worth). */
  burst?: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;

  constructor(
    private readonly limit: RateLimit,
    /** Epoch (or monotonic) ms. */
    private readonly now: () => number,
  ) {
    if (!(limit.callsPerSecond > 0)) {
      throw new Error(`rateLimit.callsPerSecond must be a positive number, got ${limit.callsPerSecond}`);
    }
    this.capacity = limit.burst ?? limit.callsPerSecond;
    if (!(this.capacity >= 1)) {
      throw new Error(`rateLimit.burst must be at least 1 (one call), got ${this.capacity}`);
    }
    this.tokens = this.capacity;
    this.last = now();
  }

  /** Takes a token for one call: true when the call is within the rate, false when it is refused. */
  tryTake(): boolean {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs / 1000) * this.limit.callsPerSecond);
    // Float sums of small refills fall a hair short of a whole token (0.9 + 0.1): allow for it.
    if (this.tokens < 1 - 1e-9) return false;
    this.tokens = Math.max(0, this.tokens - 1);
    return true;
  }
}
