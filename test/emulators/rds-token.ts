// Independent check of an RDS IAM authentication token, done the way RDS does it: the token is a
// SigV4 presigned `GET https://<host>:<port>/?Action=connect&DBUser=<user>` for service `rds-db`.
import { parseQuery, presignPath, verifySignedRequest } from './sigv4.ts';
import type { CredentialLookup, SigningCredentials, SigV4FailureReason } from './sigv4.ts';

/** RDS only honours tokens for 15 minutes. */
export const RDS_TOKEN_MAX_EXPIRES_SECONDS = 900;

export type RdsTokenFailureReason =
  | SigV4FailureReason
  | 'malformed-token' // not `host:port/?query`
  | 'wrong-host'
  | 'wrong-port'
  | 'wrong-action' // Action is not `connect`
  | 'wrong-user' // DBUser differs
  | 'wrong-service' // credential scope service is not rds-db
  | 'wrong-region';

export interface RdsTokenCheck {
  token: string;
  host: string;
  port: number;
  user: string;
  region: string;
  lookup: CredentialLookup;
  /** Verifier clock: epoch ms or Date. */
  now: number | Date;
}

export type RdsTokenVerification =
  | { ok: true; accessKeyId: string; signedAt: Date; expiresAt: Date }
  | { ok: false; reason: RdsTokenFailureReason; message: string };

const TOKEN_SHAPE = /^([^/:?\s]+):(\d{1,5})(\/[^?\s]*)\?(\S+)$/;

export function verifyRdsAuthToken(check: RdsTokenCheck): RdsTokenVerification {
  const m = TOKEN_SHAPE.exec(check.token);
  if (!m)
    return {
      ok: false,
      reason: 'malformed-token',
      message: 'token is not <host>:<port>/?Action=connect&DBUser=…&X-Amz-…',
    };
  const [, host, port, path, query] = m as unknown as [string, string, string, string, string];
  if (host.toLowerCase() !== check.host.toLowerCase()) {
    return { ok: false, reason: 'wrong-host', message: `token is for host ${host}, expected ${check.host}` };
  }
  if (Number(port) !== check.port) {
    return { ok: false, reason: 'wrong-port', message: `token is for port ${port}, expected ${check.port}` };
  }
  const params = new Map<string, string>();
  for (const [name, value] of parseQuery(query)) params.set(name, value);
  if (params.get('Action') !== 'connect') {
    return {
      ok: false,
      reason: 'wrong-action',
      message: `Action is "${params.get('Action') ?? ''}", expected "connect"`,
    };
  }
  if (params.get('DBUser') !== check.user) {
    return {
      ok: false,
      reason: 'wrong-user',
      message: `DBUser is "${params.get('DBUser') ?? ''}", expected "${check.user}"`,
    };
  }
  const scope = /^[^/]+\/\d{8}\/([^/]+)\/([^/]+)\//.exec(params.get('X-Amz-Credential') ?? '');
  if (scope && scope[2] !== 'rds-db') {
    return {
      ok: false,
      reason: 'wrong-service',
      message: `credential scope service is "${scope[2]}", expected "rds-db"`,
    };
  }
  if (scope && scope[1] !== check.region) {
    return {
      ok: false,
      reason: 'wrong-region',
      message: `credential scope region is "${scope[1]}", expected "${check.region}"`,
    };
  }
  const expires = Number(params.get('X-Amz-Expires'));
  if (Number.isInteger(expires) && expires > RDS_TOKEN_MAX_EXPIRES_SECONDS) {
    return {
      ok: false,
      reason: 'bad-expires',
      message: `X-Amz-Expires ${expires} exceeds RDS's ${RDS_TOKEN_MAX_EXPIRES_SECONDS}s`,
    };
  }
  // RDS recomputes the signature over the endpoint it serves: host header = `<host>:<port>`.
  const v = verifySignedRequest(
    { method: 'GET', path: `${path}?${query}`, headers: { host: `${check.host}:${check.port}` } },
    { lookup: check.lookup, now: check.now, expectedService: 'rds-db', expectedRegion: check.region },
  );
  if (!v.ok) return { ok: false, reason: v.reason, message: v.message };
  if (v.mode !== 'query' || !v.expiresAt) {
    return { ok: false, reason: 'malformed-token', message: 'token must be query-signed (X-Amz-Signature)' };
  }
  return { ok: true, accessKeyId: v.accessKeyId, signedAt: v.signedAt, expiresAt: v.expiresAt };
}

export interface RdsTokenInput {
  host: string;
  port: number;
  user: string;
  region: string;
  credentials: SigningCredentials;
  /** Signing time. */
  date: Date;
  /** Default 900. */
  expiresInSeconds?: number;
}

/** Builds an RDS IAM token with our own signer (for fakes and for cross-checking the SDK's Signer). */
export function buildRdsAuthToken(input: RdsTokenInput): string {
  const path = presignPath(
    {
      host: `${input.host}:${input.port}`,
      path: '/',
      params: [
        ['Action', 'connect'],
        ['DBUser', input.user],
      ],
    },
    input.credentials,
    {
      region: input.region,
      service: 'rds-db',
      date: input.date,
      expiresInSeconds: input.expiresInSeconds ?? RDS_TOKEN_MAX_EXPIRES_SECONDS,
    },
  );
  return `${input.host}:${input.port}${path}`;
}
