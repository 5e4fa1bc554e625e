/**
 * Check d: one RDS IAM token signed for the target with the credentials the sidecar would use. Only
 * its length and expiry are shown: the token is a password.
 */
import type { RdsTarget } from '../../contract/sidecar-config.ts';
import { hintFor } from '../../sidecar/src/error-class.ts';
import { makeRdsToken } from '../../sidecar/src/rds-token.ts';
import { formatDuration } from '../status/durations.ts';
import { fail, pass, skip, type CheckOutcome } from './check-result.ts';
import { awsFailure } from './aws-failure.ts';
import type { DoctorDeps, DoctorFindings } from './doctor-deps.ts';

export async function checkRdsSigning(
  deps: DoctorDeps,
  found: DoctorFindings,
  target: RdsTarget,
): Promise<CheckOutcome> {
  const credentials =
    target.roleArn === undefined ? found.baseCredentials : found.targetCredentials.get(target.name);
  if (credentials === undefined) return skip('no credentials to sign with');
  const what = `${target.user}@${target.host}:${target.port} (${target.region})`;
  const now = deps.now();
  try {
    const value = await makeRdsToken(target, credentials, now, deps.signRds, {
      offsetMs: () => deps.aws.stsOffsetMs(),
    });
    if (value.token.length === 0)
      return fail(`the signer returned an empty token for ${what}`, hintFor('other'));
    return pass(`signed a token for ${what}`, [
      `token: ${value.token.length} characters (not shown)`,
      `valid until ${new Date(value.expiresAt).toISOString()} (in ${formatDuration(value.expiresAt - now)})`,
      `the database user "${target.user}" needs rds-db:connect on arn:aws:rds-db:${target.region}:<account>:dbuser:<DbiResourceId>/${target.user}${target.engine === 'postgres' ? ` and GRANT rds_iam TO ${target.user}` : " and IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"}`,
    ]);
  } catch (error) {
    const f = awsFailure(error, deps.aws.stsOffsetMs());
    return fail(`signing a token for ${what} failed (${f.errorClass})`, f.fix, [`error: ${f.message}`]);
  }
}
