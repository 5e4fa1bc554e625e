/**
 * The ARN a MongoDB database user (authMechanism MONGODB-AWS) must be registered for. The driver
 * presents an assumed-role session, `arn:aws:sts::<acct>:assumed-role/<role>/<session>`; MongoDB
 * Atlas and Percona Server match the role behind it, `arn:aws:iam::<acct>:role/<role>`. A user
 * registered for the session ARN (or for a different role) fails with `bad auth`.
 */
import type { MongoTarget } from '../../contract/sidecar-config.ts';

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/;

export interface DatabasePrincipal {
  /** The ARN to register the database user for. */
  registerArn: string;
  /** The ARN the driver presents to the database, when it differs from registerArn. */
  presentedArn: string | undefined;
}

/** The role ARN behind an assumed-role ARN (without the role's path, which that ARN drops). */
export function roleArnOfSession(callerArn: string): string | undefined {
  const m = ASSUMED_ROLE.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}

/**
 * For a target with a role: that role (its ARN as configured, path included), which the sidecar
 * assumes with `sessionName`. Otherwise the pod's
 * own identity as GetCallerIdentity reports it: a session's role, preferring AWS_ROLE_ARN when it
 * names the same role (it keeps the role's path); an IAM user's ARN as it is.
 */
export function mongoDatabasePrincipal(
  target: MongoTarget,
  callerArn: string,
  envRoleArn: string | undefined,
  sessionName: string,
): DatabasePrincipal {
  if (target.roleArn !== undefined) {
    const name = target.roleArn.split('/').at(-1) ?? '';
    const account = target.roleArn.split(':')[4] ?? '';
    const partition = target.roleArn.split(':')[1] ?? 'aws';
    return {
      registerArn: target.roleArn,
      presentedArn: `arn:${partition}:sts::${account}:assumed-role/${name}/${sessionName}`,
    };
  }
  const role = roleArnOfSession(callerArn);
  if (role === undefined) return { registerArn: callerArn, presentedArn: undefined };
  const sameRole = envRoleArn !== undefined && envRoleArn.split('/').at(-1) === role.split('/').at(-1);
  return { registerArn: sameRole ? envRoleArn : role, presentedArn: callerArn };
}
