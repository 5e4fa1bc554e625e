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
