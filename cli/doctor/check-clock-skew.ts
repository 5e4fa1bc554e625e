/**
 * Check g: this node's clock against STS's `Date` header, as measured on the STS answers of the
 * checks before (success or error).
 */
import { CLOCK_SKEW_THRESHOLD_MS, describeOffset } from '../../sidecar/src/clock-skew.ts';
import { hintFor } from '../../sidecar/src/error-class.ts';
import { fail, pass, skip, warn, type CheckOutcome } from './check-result.ts';
import type { DoctorDeps } from './doctor-deps.ts';
import { clockSkewStatus, CLOCK_SKEW_WARN_MS } from './skew-verdict.ts';

export function checkClockSkew(deps: DoctorDeps): Promise<CheckOutcome> {
  const offset = deps.aws.stsOffsetMs();
  if (offset === undefined) {
    return Promise.resolve(skip("no answer from STS, so no Date header to compare this node's clock with"));
  }
  const summary = `this node's clock is ${describeOffset(offset)} (from STS's Date header)`;
  switch (clockSkewStatus(offset)) {
    case 'PASS':
      return Promise.resolve(pass(summary, [`within ${CLOCK_SKEW_WARN_MS / 1000} s`]));
    case 'WARN':
      return Promise.resolve(
        warn(summary, `more than ${CLOCK_SKEW_WARN_MS / 1000} s off: ${hintFor('clock-skew')}`),
      );
    default:
      return Promise.resolve(
        fail(
          `${summary}: beyond ${CLOCK_SKEW_THRESHOLD_MS / 60_000} min, AWS refuses what this node signs: RDS tokens are rejected and STS calls fail`,
          hintFor('clock-skew'),
        ),
      );
  }
}
