/**
 * Check b: STS reachable, and GetCallerIdentity with the pod's own identity. For each Mongo target it
 * also says which ARN the database user must be registered for (database-principal.ts).
 */
import { fail, pass, type CheckOutcome } from './check-result.ts';
import { awsFailure } from './aws-failure.ts';
import { mongoDatabasePrincipal } from './database-principal.ts';
import type { DoctorDeps, DoctorFindings } from './doctor-deps.ts';
import { sessionNameOf } from './session-name.ts';

export async function checkSts(deps: DoctorDeps, found: DoctorFindings): Promise<CheckOutcome> {
  const where = `STS endpoint: ${deps.aws.stsEndpoint}`;
  try {
    found.baseCredentials = await deps.aws.baseIdentity();
  } catch (error) {
    const f = awsFailure(error, deps.aws.stsOffsetMs());
    return fail(`could not get the pod's identity (${f.errorClass})`, f.fix, [where, `error: ${f.message}`]);
  }
  try {
    found.caller = await deps.aws.callerIdentity(found.baseCredentials);
  } catch (error) {
    const f = awsFailure(error, deps.aws.stsOffsetMs());
    return fail(`GetCallerIdentity failed (${f.errorClass})`, f.fix, [where, `error: ${f.message}`]);
  }
  const caller = found.caller;
  const sessionName = sessionNameOf(deps.env);
  const mongo = deps.config.targets.flatMap((t) => {
    if (t.kind !== 'mongo') return [];
    const p = mongoDatabasePrincipal(t, caller.arn, deps.env.AWS_ROLE_ARN, sessionName);
    const presented =
      p.presentedArn === undefined
        ? ''
        : `; MongoDB Atlas and Percona match this role ARN, not the assumed-role ARN the driver presents (${p.presentedArn})`;
    return [`mongo target "${t.name}": register the database user for ${p.registerArn}${presented}`];
  });
  return pass(`GetCallerIdentity: ${caller.arn}`, [where, `account: ${caller.account}`, ...mongo]);
}
