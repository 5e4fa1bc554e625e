/**
 * One word per target, from the sidecar's /v1/status entry: the same rule the sidecar's metrics and
 * the dashboards use (sidecar/src/target-state.ts), so `status` and Grafana never disagree.
 *
 * | state   | meaning                                                                     |
 * | ------- | --------------------------------------------------------------------------- |
 * | fresh   | a value valid beyond the refresh margin is served, the last refresh worked  |
 * | failing | refreshing after failures (or inside the margin): a valid value still served |
 * | expired | nothing valid to serve: the value ran out, or none came after a failure     |
 * | pending | no value yet and no failure yet (the first refresh is under way)            |
 */
import type { TargetStatusDocument } from '../../sidecar/src/api-server.ts';
import { targetState as sidecarTargetState, type TargetState } from '../../sidecar/src/target-state.ts';

export { TARGET_STATES, type TargetState } from '../../sidecar/src/target-state.ts';

/** Epoch ms of an ISO time from the status document; undefined for null or an unreadable value. */
export function timeOf(iso: string | null): number | undefined {
  if (iso === null) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

export function targetState(target: TargetStatusDocument, now: number): TargetState {
  return sidecarTargetState(
    {
      expiresAt: timeOf(target.expiration),
      fresh: target.fresh,
      consecutiveFailures: target.consecutiveFailures,
    },
    now,
  );
}
