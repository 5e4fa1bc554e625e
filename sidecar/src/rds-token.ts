/**
 * RDS IAM auth tokens: a SigV4-presigned `connect` URL for the db user, valid 15 minutes and never
 * beyond the expiry of the credentials that signed it (RDS rejects a token whose session has expired).
 *
 * @aws-sdk/rds-signer dates the token by this node's clock: it takes no clock and no offset. AWS
 * reads that date on its own clock, so with a measured offset (clock-skew.ts) a token from a clock
 * behind AWS is trusted only until AWS sees it expire, and one from a clock ahead of AWS by more than
 * the threshold is refused here (`clock-skew`) rather than served: AWS would refuse it too.
 */
import { Signer } from '@aws-sdk/rds-signer';
import type { RdsTarget } from '../../contract/sidecar-config.ts';
import {
  CLOCK_SKEW_THRESHOLD_MS,
  ClockSkewError,
  DATE_HEADER_RESOLUTION_MS,
  describeOffset,
  type ClockOffset,
} from './clock-skew.ts';
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

/**
 * Signs a token for the target. Its expiry: 15 minutes after the date it carries, read on AWS's
 * clock, and never after the credentials that signed it.
 */
export async function makeRdsToken(
  target: RdsTarget,
  credentials: TemporaryCredentials,
  now: number,
  signer: RdsSigner,
  clock?: ClockOffset,
): Promise<RdsValue> {
  const token = await signer({
    hostname: target.host,
    port: target.port,
    username: target.user,
    region: target.region,
    credentials,
  });
  const signedAt = rdsTokenDates(target, token)?.signedAt ?? now;
  const offset = clock?.offsetMs();
  if (offset !== undefined && signedAt - (now + offset) > CLOCK_SKEW_THRESHOLD_MS) {
    throw new ClockSkewError(
      `the RDS token for target "${target.name}" carries this node's time, which is ${describeOffset(offset)}: AWS would refuse it as signed in the future`,
    );
  }
  // A clock behind AWS signs tokens that AWS already sees as older.
  const agedBy = offset === undefined ? 0 : Math.max(0, offset + DATE_HEADER_RESOLUTION_MS);
  const expiresAt = Math.min(signedAt + RDS_TOKEN_LIFETIME_MS - agedBy, credentials.expiresAt);
  if (expiresAt <= now) {
    throw new ClockSkewError(
      `the RDS token for target "${target.name}" is expired on AWS's clock as soon as it is signed${offset === undefined ? '' : `: this node's clock is ${describeOffset(offset)}`}`,
    );
  }
  return { kind: 'rds', token, expiresAt };
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** X-Amz-Date (as epoch ms) and X-Amz-Expires of a complete presigned `connect` URL for exactly this target. */
function rdsTokenDates(
  target: RdsTarget,
  token: string,
): { signedAt: number; expiresInMs: number } | undefined {
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
  return { signedAt, expiresInMs: Number(expires) * 1000 };
}

/**
 * When a token read back from `<name>.token` stops being valid, from its own X-Amz-Date and
 * X-Amz-Expires; undefined unless it is a complete presigned `connect` URL for exactly this target
 * (host, port, db user, region). The expiry of the credentials that signed it is not in the token:
 * this is an upper bound (restore.ts bounds it further with the token's metadata file).
 */
export function rdsTokenValidUntil(target: RdsTarget, token: string): number | undefined {
  const dates = rdsTokenDates(target, token);
  // Never trust more than RDS accepts, whatever the URL claims.
  return dates && dates.signedAt + Math.min(dates.expiresInMs, RDS_TOKEN_LIFETIME_MS);
}
