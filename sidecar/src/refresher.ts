/**
 * The refresh loop of one target, driven by an injected clock and timer.
 *
 * Two things have a lifetime: the target's AWS credentials (one STS call each, about an hour) and
 * the value handed to the app (for RDS a token signed from those credentials, 15 minutes at most;
 * for Mongo the credentials themselves). Each has its own refresh point from refresh-policy.ts; one
 * timer wakes the loop at the earlier one. An RDS token is re-signed from the cached credentials, so
 * with no failures STS sees exactly one call per credential lifetime; a re-sign that would not extend
 * the token's life (it already ends with its credentials) is left to the credentials refresh.
 *
 * On failure the last-known-good value stays served (and its files stay) until it expires; retries
 * back off with full jitter but never past the last chance (expiry - margin). When STS fails but the
 * cached credentials are still valid, an RDS token is still re-signed from them, so an outage shorter
 * than the credentials' remaining lifetime leaves no gap. A cycle that ends without a valid value to
 * serve is a failure, whatever its steps said. Every step has a deadline (refresh-policy.ts), so a
 * step that never settles fails the cycle as `timeout` instead of stalling the target.
 *
 * Single flight: at most one cycle per target runs at a time; readers never wait, they get the
 * current value.
 */
import type { Target } from '../../contract/sidecar-config.ts';
import { ClockSkewError, type ClockOffset } from './clock-skew.ts';
import { sharedRetryAt } from './credential-cache.ts';
import { withDeadline } from './deadline.ts';
import { classifyError, type ErrorClass } from './error-class.ts';
import type { CredentialFetcher, TemporaryCredentials } from './identity.ts';
import type { TargetValue } from './publisher.ts';
import {
  backoffFor,
  BUILD_TIMEOUT_MS,
  CYCLE_TIMEOUT_MS,
  FETCH_TIMEOUT_MS,
  isFresh,
  MIN_RESIGN_GAIN_MS,
  nextRefreshAt,
  nextRetryAt,
  PUBLISH_TIMEOUT_MS,
} from './refresh-policy.ts';
import type { Timers } from './timers.ts';

export { systemTimers, type Timers } from './timers.ts';

/** setTimeout's largest delay; longer waits wake early and go back to sleep. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SuccessInfo {
  durationMs: number;
  expiresAt: number;
  credentialsFetched: boolean;
  nextRefreshAt: number;
}

export interface FailureInfo {
  errorClass: ErrorClass;
  error: unknown;
  durationMs: number;
  consecutiveFailures: number;
  retryAt: number;
  /** Expiry of the last-known-good value still served, if any. */
  servingUntil: number | undefined;
}

export interface RefreshEvents {
  attempt(target: Target): void;
  success(target: Target, info: SuccessInfo): void;
  failure(target: Target, info: FailureInfo): void;
}

export interface TargetStatus {
  name: string;
  kind: Target['kind'];
  /** Epoch ms of the served value's expiry. */
  expiresAt: number | undefined;
  fresh: boolean;
  lastSuccessAt: number | undefined;
  lastFailureAt: number | undefined;
  lastErrorClass: ErrorClass | undefined;
  consecutiveFailures: number;
  nextRefreshAt: number | undefined;
}

export interface TargetRefresherDeps {
  target: Target;
  fetchCredentials: CredentialFetcher;
  /** Builds the app's value from credentials (signs the RDS token; wraps Mongo credentials). */
  build(credentials: TemporaryCredentials, now: number): Promise<TargetValue>;
  /** Writes the value's files; the value is served only once this resolves. */
  publish(value: TargetValue): Promise<void>;
  timers: Timers;
  random: () => number;
  marginMs: number;
  events: RefreshEvents;
  /** The measured offset to STS's clock: a refused signature beyond the threshold is `clock-skew`. */
  clock?: ClockOffset;
  /**
   * Timers of the steps' deadlines (default: `timers`). They guard real I/O, so a sidecar whose
   * schedule runs on a test's fake clock keeps them on real time.
   */
  deadlineTimers?: Pick<Timers, 'setTimeout' | 'clearTimeout'>;
}

export class TargetRefresher {
  readonly target: Target;
  private credentials: TemporaryCredentials | undefined;
  private credentialsRefreshAt = 0;
  private value: TargetValue | undefined;
  private valueCredentials: TemporaryCredentials | undefined;
  /** Re-sign point of an RDS token from the same credentials; Infinity: follow the credentials. */
  private valueRefreshAt = Infinity;
  private lastSuccessAt: number | undefined;
  private lastFailureAt: number | undefined;
  private lastErrorClass: ErrorClass | undefined;
  private consecutiveFailures = 0;
  private nextAt: number | undefined;
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: TargetRefresherDeps) {
    this.target = deps.target;
  }

  /** Starts the loop: the first refresh runs at once. */
  start(): void {
    if (this.stopped) return;
    this.schedule(this.deps.timers.now());
  }

  /**
   * Adopts a value a previous run published (restore.ts) as the last-known-good, served until it
   * expires or a refresh replaces it. Only before the first value of this run.
   */
  restore(value: TargetValue): void {
    if (this.value !== undefined || value.expiresAt <= this.deps.timers.now()) return;
    this.value = value;
  }

  /** Runs a cycle now, or joins the one already running. Never rejects. */
  refreshNow(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.clearTimer();
    this.inFlight = this.cycle().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** The value to serve: the last one written, until it expires. */
  current(): TargetValue | undefined {
    const v = this.value;
    return v !== undefined && v.expiresAt > this.deps.timers.now() ? v : undefined;
  }

  isFresh(): boolean {
    const v = this.value;
    return v !== undefined && isFresh(this.deps.timers.now(), v.expiresAt, this.deps.marginMs);
  }

  status(): TargetStatus {
    return {
      name: this.target.name,
      kind: this.target.kind,
      expiresAt: this.value?.expiresAt,
      fresh: this.isFresh(),
      lastSuccessAt: this.lastSuccessAt,
      lastFailureAt: this.lastFailureAt,
      lastErrorClass: this.lastErrorClass,
      consecutiveFailures: this.consecutiveFailures,
      nextRefreshAt: this.nextAt,
    };
  }

  /**
   * Stops the timer. A cycle still waiting on STS is not awaited (shutdown stays prompt) and writes
   * nothing when it returns; a write already queued finishes (FilePublisher.idle()).
   */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
    this.nextAt = undefined;
  }

  /** Resolves when no cycle is running. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  private async cycle(): Promise<void> {
    const { timers, marginMs, random } = this.deps;
    const started = timers.now();
    this.emit(() => this.deps.events.attempt(this.target));
    let failure: unknown;
    let failed = false;
    let fetched = false;
    const name = this.target.name;
    // Each step gets its own deadline, or what is left of the cycle's when that is less.
    const step = <T>(work: () => Promise<T>, ownMs: number, what: string): Promise<T> =>
      withDeadline(
        (async () => work())(),
        Math.min(ownMs, started + CYCLE_TIMEOUT_MS - timers.now()),
        this.deps.deadlineTimers ?? timers,
        `${what} for target "${name}"`,
      );

    if (this.credentials === undefined || started >= this.credentialsRefreshAt) {
      try {
        const credentials = await step(
          () => this.deps.fetchCredentials(),
          FETCH_TIMEOUT_MS,
          'fetching credentials',
        );
        this.credentials = credentials;
        // Shared credentials (credential-cache.ts) come with the point their source fetches anew.
        this.credentialsRefreshAt =
          credentials.refreshAt ?? nextRefreshAt(timers.now(), credentials.expiresAt, marginMs, random);
        fetched = true;
      } catch (error) {
        failure = error;
        failed = true;
      }
    }
    if (this.stopped) return;

    const now = timers.now();
    const credentials = this.credentials;
    const valueDue = credentials !== this.valueCredentials || now >= this.valueRefreshAt;
    if (credentials !== undefined && credentials.expiresAt > now && valueDue) {
      try {
        const value = await step(() => this.deps.build(credentials, now), BUILD_TIMEOUT_MS, 'signing');
        if (this.stopped) return;
        await step(() => this.deps.publish(value), PUBLISH_TIMEOUT_MS, 'writing the files');
        this.value = value;
        this.valueCredentials = credentials;
        this.valueRefreshAt = this.resignAt(now, value, credentials);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
    if (this.stopped) return;

    const finished = timers.now();
    if (!failed && this.current() === undefined) {
      // Nothing to serve is never a success: it would be retried at once, and reported as fine.
      failed = true;
      failure =
        credentials !== undefined && credentials.expiresAt <= finished
          ? new ClockSkewError(
              `the credentials for target "${name}" end at ${new Date(credentials.expiresAt).toISOString()} by this node's clock, which reads ${new Date(finished).toISOString()}: they were expired on arrival, so this clock is probably ahead of AWS`,
            )
          : new Error(`the refresh of target "${name}" produced no value that is still valid`);
    }
    const durationMs = Math.max(0, finished - started);
    const valueNext = this.valueRefreshAt;
    if (failed) {
      this.consecutiveFailures++;
      this.lastFailureAt = finished;
      const errorClass = classifyError(failure, { clockOffsetMs: this.deps.clock?.offsetMs() });
      this.lastErrorClass = errorClass;
      const serving = this.current()?.expiresAt;
      let retryAt = nextRetryAt(
        finished,
        this.consecutiveFailures,
        random,
        serving,
        marginMs,
        backoffFor(errorClass, serving !== undefined),
      );
      // A shared credential's retry point (credential-cache.ts): its targets retry together, one call.
      const shared = sharedRetryAt(failure);
      if (shared !== undefined && shared > finished) {
        const lastChance = serving === undefined ? Infinity : serving - marginMs;
        retryAt = lastChance > finished ? Math.min(shared, lastChance) : shared;
      }
      if (valueNext > finished) retryAt = Math.min(retryAt, valueNext);
      this.schedule(retryAt);
      this.emit(() =>
        this.deps.events.failure(this.target, {
          errorClass,
          error: failure,
          durationMs,
          consecutiveFailures: this.consecutiveFailures,
          retryAt,
          servingUntil: serving,
        }),
      );
      return;
    }
    this.consecutiveFailures = 0;
    this.lastSuccessAt = finished;
    const next = Math.min(this.credentialsRefreshAt, valueNext);
    this.schedule(next);
    const expiresAt = this.value?.expiresAt ?? 0;
    this.emit(() =>
      this.deps.events.success(this.target, {
        durationMs,
        expiresAt,
        credentialsFetched: fetched,
        nextRefreshAt: next,
      }),
    );
  }

  /**
   * When to re-sign the RDS token just built from the same cached credentials: at its own refresh
   * point, if the new token would then outlive this one by MIN_RESIGN_GAIN_MS. Otherwise (the token
   * already ends with its credentials, or nearly) re-signing gains nothing: the credentials refresh
   * renews the token instead, brought forward to the token's refresh point if it came later, so the
   * token stays fresh and STS still sees one call per credentials. Mongo values are the credentials.
   * A token signed at `at` lives as long as this one did (clock skew included), up to its credentials.
   */
  private resignAt(now: number, value: TargetValue, credentials: TemporaryCredentials): number {
    if (this.target.kind !== 'rds') return Infinity;
    const { marginMs, random } = this.deps;
    const at = nextRefreshAt(now, value.expiresAt, marginMs, random);
    const next = Math.min(at + (value.expiresAt - now), credentials.expiresAt);
    if (next - value.expiresAt >= MIN_RESIGN_GAIN_MS) return at;
    this.credentialsRefreshAt = Math.min(this.credentialsRefreshAt, at);
    return Infinity;
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.nextAt = at;
    const delay = Math.min(Math.max(0, at - this.deps.timers.now()), MAX_TIMER_MS);
    this.timer = this.deps.timers.setTimeout(() => this.wake(), delay);
  }

  private wake(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.nextAt !== undefined && this.deps.timers.now() < this.nextAt) {
      this.schedule(this.nextAt);
      return;
    }
    void this.refreshNow();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.deps.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** A throwing listener must not break the loop. */
  private emit(fn: () => void): void {
    try {
      fn();
    } catch {
      // listeners (metrics, logs) are best effort
    }
  }
}
