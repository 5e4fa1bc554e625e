/**
 * One credential shared by every target that needs it: fetched once per lifetime, whoever asks.
 *
 * The cache holds the last credentials and their refresh point (refresh-policy.ts, the same margin
 * and jitter as a target's own). Before that point every caller gets the held credentials; at or
 * after it, the first caller fetches anew and every concurrent caller joins that one fetch (single
 * flight). The held credentials carry the refresh point (`refreshAt`), so the targets sharing
 * them all come back at that one point and STS sees one call per lifetime. Likewise a failure carries
 * the cache's own retry point (`sharedRetryAt`, full-jitter backoff over its consecutive failures):
 * the targets sharing it come back together and join one fetch, so a throttled STS sees one retry
 * per credential, not one per target. Until that point the failure stands: a caller that comes
 * after the failed fetch settled (a target whose cycle started a moment later, a role's signer)
 * gets the held credentials while they are still valid (due again at the retry point), else the same
 * error and point, instead of a call of its own; from that point on the next caller fetches anew.
 *
 * A fetch that never settles would hold every later caller on it: it gets its own deadline, after
 * which the next caller starts a new fetch.
 */
import { withDeadline } from './deadline.ts';
import type { CredentialFetcher, TemporaryCredentials } from './identity.ts';
import { classifyError } from './error-class.ts';
import { backoffFor, FETCH_TIMEOUT_MS, nextRefreshAt, nextRetryAt } from './refresh-policy.ts';
import type { Timers } from './timers.ts';

export interface CredentialCachePolicy {
  /** The sidecar's clock (the refreshers' `timers.now`). */
  now: () => number;
  marginMs: number;
  random: () => number;
  /** Timers of the fetch deadline; real time also when `now` is a test's fake clock. */
  deadlineTimers: Pick<Timers, 'setTimeout' | 'clearTimeout'>;
  /** Default FETCH_TIMEOUT_MS. */
  fetchTimeoutMs?: number;
}

/** Held credentials are served until their refresh point, and never once expired. */
export function isServable(held: TemporaryCredentials | undefined, now: number): boolean {
  return held !== undefined && now < (held.refreshAt ?? held.expiresAt) && now < held.expiresAt;
}

/** The retry point a shared credential's failure carries (set on the error its callers get). */
const retryPoints = new WeakMap<object, number>();

/** When the targets sharing the credential whose fetch failed with `error` should retry, if shared. */
export function sharedRetryAt(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? retryPoints.get(error) : undefined;
}

export class CredentialCache {
  private held: TemporaryCredentials | undefined;
  private inFlight: Promise<TemporaryCredentials> | undefined;
  private consecutiveFailures = 0;
  /** The last failure and its retry point, which it stands until. */
  private failure: { error: Error; retryAt: number } | undefined;

  constructor(
    private readonly fetchNew: CredentialFetcher,
    private readonly policy: CredentialCachePolicy,
    /** Names the fetch in a deadline error, e.g. "the pod's identity". */
    private readonly what: string,
  ) {}

  /** The shared credentials: held ones until their refresh point, else one fetch for all callers. */
  readonly get: CredentialFetcher = () => {
    const held = this.held;
    const now = this.policy.now();
    if (isServable(held, now)) return Promise.resolve(held as TemporaryCredentials);
    if (this.inFlight === undefined && this.failure !== undefined && now < this.failure.retryAt) {
      // Credentials still valid stay usable (a target's last chance to re-sign its token) until then.
      if (held !== undefined && now < held.expiresAt) {
        return Promise.resolve({ ...held, refreshAt: this.failure.retryAt });
      }
      return Promise.reject(this.failure.error);
    }
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  };

  private async fetch(): Promise<TemporaryCredentials> {
    const { now, marginMs, random, deadlineTimers } = this.policy;
    let fresh: TemporaryCredentials;
    try {
      fresh = await withDeadline(
        (async () => this.fetchNew())(),
        this.policy.fetchTimeoutMs ?? FETCH_TIMEOUT_MS,
        deadlineTimers,
        `fetching ${this.what}`,
      );
    } catch (error) {
      this.consecutiveFailures++;
      // A role's fetch fails with the base identity's error when that failed: its point stands.
      if (typeof error === 'object' && error !== null) {
        if (!retryPoints.has(error)) {
          const at = now();
          // Still-valid held credentials keep their last chance (expiry - margin), as a target's value.
          const valid = this.held !== undefined && this.held.expiresAt > at ? this.held.expiresAt : undefined;
          const backoff = backoffFor(classifyError(error), valid !== undefined);
          retryPoints.set(error, nextRetryAt(at, this.consecutiveFailures, random, valid, marginMs, backoff));
        }
        if (error instanceof Error) this.failure = { error, retryAt: retryPoints.get(error) as number };
      }
      throw error;
    }
    this.consecutiveFailures = 0;
    this.failure = undefined;
    const at = now();
    const held = { ...fresh, refreshAt: nextRefreshAt(at, fresh.expiresAt, marginMs, random) };
    this.held = held;
    return held;
  }
}
