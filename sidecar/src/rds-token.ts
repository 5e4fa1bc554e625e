/**
 * RDS IAM auth tokens: a SigV4-presigned `connect` URL for the db user, valid 15 minutes and never
 * beyond the expiry of the credentials that signed it (RDS rejects a token whose session has expired).
 */
import { Signer } from '@aws-sdk/rds-signer';
import type { RdsTarget } from '../../contract/sidecar-config.ts';
import type { TemporaryCredentials } from './identity.ts';

/** The presigned URL's X-Amz-Expires, fixed by the RDS signer. */
export const RDS_TOKEN_LIFETIME_MS = 15 * 60_000;

export interface RdsSignParams {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: TemporaryCredentials;
}

export type RdsSigner = (params: RdsSignParams) => Promise<string>;

export interface RdsValue {
  readonly kind: 'rds';
  readonly token: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/**
 * The SDK signer with static credentials: a provider function would let the signer force its own
 * refresh behind the scheduler's back.
 */
export const sdkRdsSigner: RdsSigner = async (p) => {
  const signer = new Signer({
    hostname: p.hostname,
    port: p.port,
    username: p.username,
    region: p.region,
    credentials: {
      accessKeyId: p.credentials.accessKeyId,
      secretAccessKey: p.credentials.secretAccessKey,
      ...(p.credentials.sessionToken !== undefined ? { sessionToken: p.credentials.sessionToken } : {}),
    },
  });
  return signer.getAuthToken();
};

export function rdsTokenExpiry(now: number, credentialsExpireAt: number): number {
  return Math.min(now + RDS_TOKEN_LIFETIME_MS, credentialsExpireAt);
}

export async function makeRdsToken(
  target: RdsTarget,
  credentials: TemporaryCredentials,
  now: number,
  signer: RdsSigner,
): Promise<RdsValue> {
  const token = await signer({
    hostname: target.host,
    port: target.port,
    username: target.user,
    region: target.region,
    credentials,
  });
  return { kind: 'rds', token, expiresAt: rdsTokenExpiry(now, credentials.expiresAt) };
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * When a token read back from `<name>.token` stops being valid, from its own X-Amz-Date and
 * X-Amz-Expires; undefined unless it is a complete presigned `connect` URL for exactly this target
 * (host, port, db user, region). The expiry of the credentials that signed it is not in the token:
 * this is an upper bound, which the sidecar's tokens reach unless their credentials expire sooner.
 */
export function rdsTokenValidUntil(target: RdsTarget, token: string): number | undefined {
  const prefix = `${target.host}:${target.port}/?`;
  if (!token.startsWith(prefix) || /\s/.test(token)) return undefined;
  const query = new URLSearchParams(token.slice(prefix.length));
  const scope = (query.get('X-Amz-Credential') ?? '').split('/');
  if (
    query.get('Action') !== 'connect' ||
    query.get('DBUser') !== target.user ||
    scope.length !== 5 ||
    scope[2] !== target.region ||
    scope[3] !== 'rds-db' ||
    !query.get('X-Amz-Signature')
  ) {
    return undefined;
  }
  const date = query.get('X-Amz-Date') ?? '';
  const expires = query.get('X-Amz-Expires') ?? '';
  if (!AMZ_DATE.test(date) || !/^\d{1,5}$/.test(expires)) return undefined;
  const signedAt = Date.parse(date.replace(AMZ_DATE, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(signedAt)) return undefined;
  // Never trust more than RDS accepts, whatever the URL claims.
  return signedAt + Math.min(Number(expires) * 1000, RDS_TOKEN_LIFETIME_MS);
}
