/**
 * Pure refresh decisions: when to refresh a value, how long to back off after a failure, and whether
 * a value is fresh. Times are epoch milliseconds; `random` returns a number in [0, 1).
 *
 * Decisions (see also the tests in test/sidecar/refresh-policy.test.ts):
 * - A value obtained at `now` that expires at `expiresAt` is refreshed at a uniformly jittered point
 *   in [1/2, 4/5] of its remaining lifetime, so many pods started together spread their STS calls.
 * - That point is clamped to at most `expiresAt - margin`: the app never holds a value that is closer
 *   to expiry than the margin while a refresh is still to come.
 * - A value whose whole lifetime is within the margin can never be fresh; it is refreshed at half its
 *   lifetime but no sooner than MIN_REFRESH_DELAY_MS, so a misconfigured short lifetime cannot turn
 *   into a hot loop against STS.
 * - After the n-th consecutive failure the retry waits a "full jitter" delay, uniform in
 *   [0, min(cap, base * 2^(n-1))), floored at MIN_RETRY_DELAY_MS; and never waits past
 *   `expiresAt - margin` of the value still being served, so the last chance to refresh before the
 *   value turns stale is always taken. Base and cap depend on the failure and on what is at stake
 *   (backoffFor): throttling starts from a longer base, so a throttled fleet spreads its retries.
 * - Every step of a cycle has a deadline, and so has the cycle: a step that never settles ends the
 *   cycle as a `timeout` failure instead of stalling the target.
 */
import type { ErrorClass } from './error-class.ts';

export const REFRESH_WINDOW_START = 0.5;
export const REFRESH_WINDOW_END = 0.8;
export const MIN_REFRESH_DELAY_MS = 1_000;
export const MIN_RETRY_DELAY_MS = 100;
/**
 * An RDS token is re-signed from the same cached credentials only if the new one outlives the old one
 * by at least this; less is not worth a cycle (the credentials refresh renews the token instead).
 */
export const MIN_RESIGN_GAIN_MS = 60_000;
export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_CAP_MS = 60_000;

export interface BackoffSettings {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = Object.freeze({
  baseMs: DEFAULT_BACKOFF_BASE_MS,
  capMs: DEFAULT_BACKOFF_CAP_MS,
});

export const NO_VALUE_BACKOFF_CAP_MS = 10_000;

export const NO_VALUE_BACKOFF: BackoffSettings = Object.freeze({
  baseMs: DEFAULT_BACKOFF_BASE_MS,
  capMs: NO_VALUE_BACKOFF_CAP_MS,
});

/**
 * Throttling: STS asked the fleet to slow down, and one pod cannot tell how many others are waiting
 * with it. Its first retry is spread over 8 s (not 1 s): a start storm of N pods throttled at R calls/s
 * wastes about one throttled call per pod for each doubling the retry window needs to reach the
 * 2N/R seconds their calls take at the rate (a 1 s base needs four doublings for 1000 pods at
 * 100/s, 8 s one), measured with bench/storm.ts. The cap is 20 s while nothing valid is held, so a
 * pod unlucky twice is not left waiting a minute while STS has room again.
 */
export const THROTTLING_BACKOFF_BASE_MS = 8_000;
export const THROTTLING_NO_VALUE_BACKOFF_CAP_MS = 20_000;

export const THROTTLING_NO_VALUE_BACKOFF: BackoffSettings = Object.freeze({
  baseMs: THROTTLING_BACKOFF_BASE_MS,
  capMs: THROTTLING_NO_VALUE_BACKOFF_CAP_MS,
});

export const THROTTLING_BACKOFF: BackoffSettings = Object.freeze({
  baseMs: THROTTLING_BACKOFF_BASE_MS,
  capMs: DEFAULT_BACKOFF_CAP_MS,
});

/**
 * The backoff of a failure. While a valid value is still served, nothing is urgent: 60 s cap (and
 * the last chance before expiry - margin is always taken). While nothing valid is held the app is
 * down, so the cap drops to 10 s: a retry comes at most 10 s (5 s on average) after the cause
 * (STS outage, full volume) goes away. The price is load while credentials have run out: with full
 * jitter a pod-credential makes one attempt per 5 s on average, so N pods send about N/5 STS calls
 * per second per credential (1 000 pods: ~200/s), spread evenly by the jitter. A failed file write
 * costs no STS call (the cached credentials are reused). Throttling starts at an 8 s base (above)
 * and backs off to 20 s with nothing held (N/10 per second once backed off, ~100/s for 1 000 pods),
 * 60 s while a valid value is served.
 */
export function backoffFor(errorClass: ErrorClass, holdingValidValue: boolean): BackoffSettings {
  if (errorClass === 'throttling') {
    return holdingValidValue ? THROTTLING_BACKOFF : THROTTLING_NO_VALUE_BACKOFF;
  }
  return holdingValidValue ? DEFAULT_BACKOFF : NO_VALUE_BACKOFF;
}

/**
 * Deadlines of a cycle's steps (epoch-independent ms). The credentials fetch may chain two STS
 * calls of STS_REQUEST_TIMEOUT_MS each (web identity, then AssumeRole); signing is local; a write
 * to the in-memory volume takes milliseconds. The cycle as a whole gets CYCLE_TIMEOUT_MS: a later
 * step gets what is left of it when that is less than its own deadline.
 */
export const FETCH_TIMEOUT_MS = 25_000;
export const BUILD_TIMEOUT_MS = 5_000;
export const PUBLISH_TIMEOUT_MS = 10_000;
export const CYCLE_TIMEOUT_MS = 30_000;

/** The time at which a value obtained at `now` and expiring at `expiresAt` should be refreshed. */
export function nextRefreshAt(
  now: number,
  expiresAt: number,
  marginMs: number,
  random: () => number,
): number {
  const lifetime = expiresAt - now;
  const latest = expiresAt - marginMs;
  if (latest <= now) {
    return now + Math.max(MIN_REFRESH_DELAY_MS, lifetime / 2);
  }
  const fraction = REFRESH_WINDOW_START + (REFRESH_WINDOW_END - REFRESH_WINDOW_START) * clampUnit(random());
  const jittered = now + lifetime * fraction;
  return Math.max(now + Math.min(MIN_REFRESH_DELAY_MS, latest - now), Math.min(jittered, latest));
}

/** Full-jitter backoff for the `failures`-th consecutive failure (1 = first failure). */
export function backoffDelayMs(
  failures: number,
  random: () => number,
  settings: BackoffSettings = DEFAULT_BACKOFF,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** exponent);
  return Math.max(MIN_RETRY_DELAY_MS, Math.floor(clampUnit(random()) * ceiling));
}

/**
 * When to retry after the `failures`-th consecutive failure. `servingExpiresAt` is the expiry of the
 * last-known-good value still served (undefined when there is none).
 */
export function nextRetryAt(
  now: number,
  failures: number,
  random: () => number,
  servingExpiresAt: number | undefined,
  marginMs: number,
  settings: BackoffSettings = DEFAULT_BACKOFF,
): number {
  const at = now + backoffDelayMs(failures, random, settings);
  if (servingExpiresAt === undefined) return at;
  const lastChance = servingExpiresAt - marginMs;
  return lastChance > now ? Math.min(at, lastChance) : at;
}

/** Fresh: more than the margin is left before expiry. */
export function isFresh(now: number, expiresAt: number, marginMs: number): boolean {
  return expiresAt - now > marginMs;
}

function clampUnit(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 1 - Number.EPSILON : x;
}
