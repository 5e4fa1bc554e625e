/**
 * How far this node's clock may be from STS's. AWS refuses requests signed more than 5 minutes off
 * (clock-skew.ts CLOCK_SKEW_THRESHOLD_MS, the sidecar's `clock-skew` class); a minute already means
 * time synchronization is not working and will drift further.
 */
import { isSkewed } from '../../sidecar/src/clock-skew.ts';
import type { CheckStatus } from './check-result.ts';

export const CLOCK_SKEW_WARN_MS = 60_000;

export function clockSkewStatus(offsetMs: number): Exclude<CheckStatus, 'SKIP'> {
  if (isSkewed(offsetMs)) return 'FAIL';
  return Math.abs(offsetMs) > CLOCK_SKEW_WARN_MS ? 'WARN' : 'PASS';
}
