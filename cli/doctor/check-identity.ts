/**
 * Check a: the identity source the AWS SDK chain would pick, and why. For IRSA the projected token
 * is read and its audience, subject, issuer and expiry are shown (never the token itself).
 */
import { formatDuration } from '../status/durations.ts';
import { fail, pass, warn, type CheckOutcome } from './check-result.ts';
import type { DoctorDeps, DoctorFindings } from './doctor-deps.ts';
import { pickIdentitySource } from './identity-source.ts';
import { decodeWebIdentityClaims, serviceAccountOf } from './jwt-claims.ts';

const STS_AUDIENCE = 'sts.amazonaws.com';

const NO_IDENTITY_FIX =
  "give the pod an AWS identity: annotate its ServiceAccount with eks.amazonaws.com/role-arn (IRSA) or create an EKS Pod Identity association for it, then re-create the pod; the sidecar's env must carry the identity env the EKS webhook adds (token-broker copies it from the app container)";

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

async function checkIrsa(
  deps: DoctorDeps,
  source: { why: string; roleArn: string; tokenFile: string },
): Promise<CheckOutcome> {
  const head = [`role: ${source.roleArn}`, `token file: ${source.tokenFile}`];
  let token: string;
  try {
    token = await deps.fs.readFile(source.tokenFile);
  } catch (error) {
    return fail(
      `IRSA is configured but its token file cannot be read (${codeOf(error)})`,
      'the projected ServiceAccount token volume (aws-iam-token) must be mounted in the sidecar container at AWS_WEB_IDENTITY_TOKEN_FILE and readable by its UID; re-create the pod so the EKS webhook and token-broker inject it',
      head,
    );
  }
  const claims = decodeWebIdentityClaims(token);
  if (claims === undefined) {
    return fail(
      'IRSA token file does not hold a JWT',
      'AWS_WEB_IDENTITY_TOKEN_FILE must point at the projected ServiceAccount token kubelet writes (audience sts.amazonaws.com)',
      head,
    );
  }
  const sa = serviceAccountOf(claims.subject);
  const now = deps.now();
  const details = [
    ...head,
    `aud: ${claims.audience.join(', ') || '(none)'}`,
    `sub: ${claims.subject ?? '(none)'}${sa ? ` (namespace ${sa.namespace}, service account ${sa.name})` : ''}`,
    `iss: ${claims.issuer ?? '(none)'}`,
    `exp: ${
      claims.expiresAt === undefined
        ? '(none)'
        : `${new Date(claims.expiresAt).toISOString()} (${claims.expiresAt > now ? `in ${formatDuration(claims.expiresAt - now)}` : `expired ${formatDuration(now - claims.expiresAt)} ago`})`
    }`,
  ];
  const summary = `IRSA web identity: ${source.why}`;
  if (claims.expiresAt !== undefined && claims.expiresAt <= now) {
    return fail(
      'IRSA token has expired: STS refuses it (ExpiredTokenException)',
      'kubelet rotates the projected token before it expires: check the volume is the projected aws-iam-token mount (not a copy), kubelet is healthy on this node, and the node clock is synchronized',
      details,
    );
  }
  if (!claims.audience.includes(STS_AUDIENCE)) {
    return warn(
      summary,
      `the token's audience is not ${STS_AUDIENCE}: the IAM OIDC provider must list this audience, or the projected token must request ${STS_AUDIENCE}`,
      details,
    );
  }
  if (sa === undefined) {
    return warn(
      summary,
      'the token subject is not system:serviceaccount:<namespace>:<name>: the role trust policy matches on that subject',
      details,
    );
  }
  return pass(summary, details);
}

export async function checkIdentity(deps: DoctorDeps, found: DoctorFindings): Promise<CheckOutcome> {
  const source = pickIdentitySource(deps.env);
  found.identitySource = source.kind;
  switch (source.kind) {
    case 'irsa':
      return checkIrsa(deps, source);
    case 'pod-identity': {
      const details = [`endpoint: ${source.endpoint}`, `token file: ${source.tokenFile ?? '(none)'}`];
      if (source.tokenFile === undefined) {
        return fail(
          `EKS Pod Identity endpoint set without AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`,
          'the EKS Pod Identity webhook sets both; re-create the pod so token-broker copies both into the sidecar',
          details,
        );
      }
      try {
        await deps.fs.readFile(source.tokenFile);
      } catch (error) {
        return fail(
          `EKS Pod Identity token file cannot be read (${codeOf(error)})`,
          'the eks-pod-identity-token volume must be mounted in the sidecar at AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; re-create the pod',
          details,
        );
      }
      return pass(`EKS Pod Identity: ${source.why}`, details);
    }
    case 'static-keys':
      return warn(
        `static access keys from the env: ${source.why}`,
        `long-term keys in a pod are a leak risk and never rotate; use IRSA or EKS Pod Identity and remove AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY${source.alsoSet.length > 0 ? ` (they hide the ${source.alsoSet.join(' and ')} set up next to them)` : ''}`,
      );
    case 'none':
      return fail(
        `no pod identity: ${source.why}; the SDK would fall back to the node's instance role (IMDS), if it can reach it`,
        NO_IDENTITY_FIX,
      );
  }
}
