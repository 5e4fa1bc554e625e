/**
 * A target's state in one word, for metrics and dashboards:
 * - fresh: a value valid beyond the refresh margin is served and the last refresh succeeded;
 * - failing: a valid value is still served, but the last refresh failed (or it is inside the margin);
 * - expired: nothing valid to serve after a failure, or the value ran out;
 * - pending: no value yet and no refresh has failed (the first one is under way).
 */
export const TARGET_STATES = ['fresh', 'failing', 'expired', 'pending'] as const;
export type TargetState = (typeof TARGET_STATES)[number];

export interface TargetStateInput {
  /** Epoch ms of the served value's expiry. */
  expiresAt: number | undefined;
  /** Valid beyond the refresh margin (the refresher's isFresh()). */
  fresh: boolean;
  consecutiveFailures: number;
}

export function targetState(s: TargetStateInput, now: number): TargetState {
  const valid = s.expiresAt !== undefined && s.expiresAt > now;
  if (valid) return s.fresh && s.consecutiveFailures === 0 ? 'fresh' : 'failing';
  return s.expiresAt === undefined && s.consecutiveFailures === 0 ? 'pending' : 'expired';
}
