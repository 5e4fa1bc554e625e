/**
 * Which source the AWS SDK for JavaScript's default chain (fromNodeProviderChain) takes credentials
 * from, and why, read from the env alone. The chain's order: static keys in the env, (profiles in
 * ~/.aws, absent in the image), the web identity token file (IRSA), the container endpoint (EKS Pod
 * Identity), then the node's instance metadata.
 */
import type { Env } from './doctor-deps.ts';

export type IdentitySource =
  | { kind: 'static-keys'; why: string; alsoSet: string[] }
  | { kind: 'irsa'; why: string; roleArn: string; tokenFile: string }
  | { kind: 'pod-identity'; why: string; endpoint: string; tokenFile: string | undefined }
  | { kind: 'none'; why: string };

const set = (env: Env, name: string) => (env[name] ?? '') !== '';

export function pickIdentitySource(env: Env): IdentitySource {
  const irsa = set(env, 'AWS_ROLE_ARN') && set(env, 'AWS_WEB_IDENTITY_TOKEN_FILE');
  const podIdentity = set(env, 'AWS_CONTAINER_CREDENTIALS_FULL_URI');
  if (set(env, 'AWS_ACCESS_KEY_ID') && set(env, 'AWS_SECRET_ACCESS_KEY')) {
    const alsoSet = [...(irsa ? ['IRSA'] : []), ...(podIdentity ? ['EKS Pod Identity'] : [])];
    return {
      kind: 'static-keys',
      why: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set, and the SDK chain tries env keys first',
      alsoSet,
    };
  }
  if (irsa) {
    return {
      kind: 'irsa',
      why: 'AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are set (the EKS pod identity webhook sets them for a ServiceAccount annotated eks.amazonaws.com/role-arn) and no static keys are set',
      roleArn: env.AWS_ROLE_ARN ?? '',
      tokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE ?? '',
    };
  }
  if (podIdentity) {
    return {
      kind: 'pod-identity',
      why: 'AWS_CONTAINER_CREDENTIALS_FULL_URI is set (EKS Pod Identity) and neither static keys nor IRSA are set',
      endpoint: env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? '',
      tokenFile: env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
    };
  }
  const partial = set(env, 'AWS_ROLE_ARN') || set(env, 'AWS_WEB_IDENTITY_TOKEN_FILE');
  return {
    kind: 'none',
    why: partial
      ? 'only one of AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE is set, so the SDK skips IRSA'
      : 'none of AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (IRSA), AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity) or AWS_ACCESS_KEY_ID is set',
  };
}
