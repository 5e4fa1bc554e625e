/** Check c: the target's role assumed with the pod's identity, as the sidecar does it. */
import type { Target } from '../../contract/sidecar-config.ts';
import { formatDuration } from '../status/durations.ts';
import { fail, pass, skip, type CheckOutcome } from './check-result.ts';
import { awsFailure } from './aws-failure.ts';
import type { DoctorDeps, DoctorFindings } from './doctor-deps.ts';

export async function checkAssumeRole(
  deps: DoctorDeps,
  found: DoctorFindings,
  target: Target,
): Promise<CheckOutcome> {
  if (target.roleArn === undefined) {
    return skip(`target "${target.name}" has no role: the pod's identity signs directly`);
  }
  if (found.baseCredentials === undefined) return skip('no identity to assume the role with');
  const details = [
    `role: ${target.roleArn}`,
    `ExternalId: ${target.externalId === undefined ? 'none' : 'set (not shown)'}`,
  ];
  try {
    const assumed = await deps.aws.assumeRole(target, found.baseCredentials);
    found.targetCredentials.set(target.name, assumed.credentials);
    const left = assumed.credentials.expiresAt - deps.now();
    return pass(`assumed as ${assumed.arn}`, [
      ...details,
      `credentials valid until ${new Date(assumed.credentials.expiresAt).toISOString()} (in ${formatDuration(left)})`,
    ]);
  } catch (error) {
    const f = awsFailure(error, deps.aws.stsOffsetMs());
    return fail(`AssumeRole of ${target.roleArn} failed (${f.errorClass})`, f.fix, [
      ...details,
      `error: ${f.message}`,
    ]);
  }
}
