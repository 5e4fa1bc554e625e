/**
 * Prometheus metrics of the sidecar, on their own Registry (nothing global).
 *
 * | metric | type | labels | meaning |
 * | --- | --- | --- | --- |
 * | token_broker_refresh_attempts_total | counter | target, kind | refresh cycles started |
 * | token_broker_refresh_failures_total | counter | target, kind, reason | failed cycles; reason = error class (error-class.ts) |
 * | token_broker_refresh_duration_seconds | histogram | target, kind | time of a refresh cycle (STS call, signing, file writes) |
 * | token_broker_credential_expiry_timestamp_seconds | gauge | target, kind | expiry (unix s) of the value served now |
 * | token_broker_last_success_timestamp_seconds | gauge | target, kind | time (unix s) of the last successful refresh |
 * | token_broker_target_state | gauge | target, kind, state | 1 for the target's state now (fresh, failing, expired, pending; target-state.ts), 0 for the others |
 * | token_broker_consecutive_failures | gauge | target, kind | refresh cycles failed in a row; 0 after a success |
 * | token_broker_last_failure_timestamp_seconds | gauge | target, kind, reason | time (unix s) of the latest failed refresh; reason = its error class; absent until a first failure |
 * | token_broker_sts_request_duration_seconds | histogram | action, outcome | one STS request (AssumeRole, AssumeRoleWithWebIdentity, ...) as the SDK client sent it; outcome success or error |
 * | token_broker_ready | gauge | - | 1 when every target holds a value fresh beyond the margin (as /readyz) |
 * | token_broker_clock_skew_seconds | gauge | - | this node's clock minus STS's, from STS's last `Date` header (NaN until measured) |
 * | token_broker_http_requests_total | counter | route, code | API, health and metrics requests; route is a template |
 * | process_*, nodejs_* (no prefix) | | | prom-client defaults (CPU, RSS, heap, event loop lag) |
 *
 * Alerts an SRE can write from these:
 * - refresh failing: `increase(token_broker_refresh_failures_total[10m]) > 0` and
 *   `time() - token_broker_last_success_timestamp_seconds > 1800`
 * - credentials expire within N minutes: `token_broker_credential_expiry_timestamp_seconds - time() < N * 60`
 * - not ready: `token_broker_ready == 0`
 * - clock skew: `abs(token_broker_clock_skew_seconds) > 60`
 *
 * Labels are low-cardinality by construction: target names come from the pod's annotations (a
 * handful), kinds and reasons are fixed sets, routes are templates. No secret is ever a label value.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Target } from '../../contract/sidecar-config.ts';
import { ERROR_CLASSES, type ErrorClass } from './error-class.ts';
import type { StsAction, StsOutcome } from './sts-timing.ts';
import { TARGET_STATES, type TargetState } from './target-state.ts';

export const METRIC_PREFIX = 'token_broker_';
/** Coarse event-loop sampling keeps the idle sidecar's CPU near zero. */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 100;

export const ROUTE_LABELS = [
  '/v1/token/:name',
  '/v1/credentials/:name',
  '/v1/status',
  '/quitquitquit',
  '/healthz',
  '/readyz',
  '/metrics',
  'other',
] as const;
export type RouteLabel = (typeof ROUTE_LABELS)[number];

export interface SidecarMetrics {
  readonly registry: Registry;
  initTargets(targets: readonly Target[]): void;
  refreshAttempt(target: Target): void;
  refreshSuccess(target: Target, durationMs: number): void;
  refreshFailure(target: Target, reason: ErrorClass, durationMs: number): void;
  httpRequest(route: RouteLabel, code: number): void;
  stsRequest(action: StsAction, outcome: StsOutcome, durationMs: number): void;
}

export interface TargetSnapshot {
  target: Target;
  /** Epoch ms. */
  expiresAt: number | undefined;
  lastSuccessAt: number | undefined;
  state: TargetState;
  consecutiveFailures: number;
  lastFailureAt: number | undefined;
  lastErrorClass: ErrorClass | undefined;
}

export interface MetricsOptions {
  /** Read at scrape time: point-in-time gauges are set in collect(). */
  isReady: () => boolean;
  targets: () => readonly TargetSnapshot[];
  /** This node's clock minus STS's, in seconds; undefined until an STS answer was seen. */
  clockSkewSeconds?: () => number | undefined;
  /** Process and Node.js default metrics (off in unit tests that compare exact output). */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions): SidecarMetrics {
  const registry = new Registry();
  const targetLabels = ['target', 'kind'] as const;
  const attempts = new Counter({
    name: `${METRIC_PREFIX}refresh_attempts_total`,
    help: 'Refresh cycles started, per target.',
    labelNames: targetLabels,
    registers: [registry],
  });
  const failures = new Counter({
    name: `${METRIC_PREFIX}refresh_failures_total`,
    help: 'Failed refresh cycles, per target and error class.',
    labelNames: [...targetLabels, 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}refresh_duration_seconds`,
    help: 'Duration of refresh cycles (STS call, signing, file writes).',
    labelNames: targetLabels,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const labels = (t: Target) => ({ target: t.name, kind: t.kind });
  new Gauge({
    name: `${METRIC_PREFIX}credential_expiry_timestamp_seconds`,
    help: 'Unix time at which the value served for the target expires.',
    labelNames: targetLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of options.targets()) {
        if (s.expiresAt !== undefined) this.set(labels(s.target), Math.floor(s.expiresAt / 1000));
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}last_success_timestamp_seconds`,
    help: 'Unix time of the last successful refresh of the target.',
    labelNames: targetLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of options.targets()) {
        if (s.lastSuccessAt !== undefined) this.set(labels(s.target), Math.floor(s.lastSuccessAt / 1000));
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}target_state`,
    help: "1 for the target's current state (fresh, failing, expired, pending), 0 for the other states.",
    labelNames: [...targetLabels, 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of options.targets()) {
        // Every state present (0 or 1), so `sum by (state)` counts targets in each, zeros included.
        for (const state of TARGET_STATES)
          this.set({ ...labels(s.target), state }, s.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}consecutive_failures`,
    help: 'Refresh cycles of the target failed in a row; 0 once one succeeds.',
    labelNames: targetLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of options.targets()) this.set(labels(s.target), s.consecutiveFailures);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}last_failure_timestamp_seconds`,
    help: 'Unix time of the latest failed refresh of the target; reason is the error class of that failure.',
    labelNames: [...targetLabels, 'reason'] as const,
    registers: [registry],
    collect() {
      // One series per target that ever failed: the reason label follows the latest failure.
      this.reset();
      for (const s of options.targets()) {
        if (s.lastFailureAt === undefined || s.lastErrorClass === undefined) continue;
        this.set({ ...labels(s.target), reason: s.lastErrorClass }, Math.floor(s.lastFailureAt / 1000));
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}ready`,
    help: '1 when every target holds credentials fresh beyond the refresh margin, else 0.',
    registers: [registry],
    collect() {
      this.set(options.isReady() ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}clock_skew_seconds`,
    help: "This node's clock minus STS's (from the Date header of STS's last answer); positive: ahead.",
    registers: [registry],
    collect() {
      // NaN until an STS answer was seen: 0 would claim a synchronized clock.
      const skew = options.clockSkewSeconds?.();
      this.set(skew === undefined ? NaN : Math.round(skew));
    },
  });
  const requests = new Counter({
    name: `${METRIC_PREFIX}http_requests_total`,
    help: 'HTTP requests served by the sidecar, per route template and status code.',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  });
  const stsDuration = new Histogram({
    name: `${METRIC_PREFIX}sts_request_duration_seconds`,
    help: 'Duration of one STS request, per action and outcome (success, error), as the SDK client sent it.',
    labelNames: ['action', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [registry],
  });
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({
      register: registry,
      // Standard names (process_*, nodejs_*), so stock Node.js dashboards work unchanged.
      eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS,
    });
  }
  return {
    registry,
    // Zero series from the start, so rate() and increase() see the first attempt and failure.
    initTargets: (targets) => {
      for (const t of targets) {
        attempts.inc(labels(t), 0);
        for (const reason of ERROR_CLASSES) failures.inc({ ...labels(t), reason }, 0);
      }
    },
    refreshAttempt: (t) => attempts.inc(labels(t)),
    refreshSuccess: (t, durationMs) => duration.observe(labels(t), durationMs / 1000),
    refreshFailure: (t, reason, durationMs) => {
      failures.inc({ ...labels(t), reason });
      duration.observe(labels(t), durationMs / 1000);
    },
    httpRequest: (route, code) => requests.inc({ route, code: String(code) }),
    stsRequest: (action, outcome, durationMs) => stsDuration.observe({ action, outcome }, durationMs / 1000),
  };
}
