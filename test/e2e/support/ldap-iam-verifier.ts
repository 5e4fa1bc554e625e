import ldap from 'ldapjs';
import { LOOPBACK } from './net.ts';
import { verifyRdsAuthToken } from '../../emulators/rds-token.ts';
import type { RdsTokenFailureReason } from '../../emulators/rds-token.ts';
import { parseAmzDate, parseQuery } from '../../emulators/sigv4.ts';
import type { CredentialLookup } from '../../emulators/sigv4.ts';

/**
 * An LDAP server that stands in for RDS's IAM check. PostgreSQL's `ldap` method (simple bind with
 * ldapprefix "cn=" and ldapsuffix ",dc=rds,dc=local") hands it the password the client sent; the bind
 * succeeds only when that password is a valid RDS IAM auth token for that user and this endpoint,
 * checked the way RDS does. Every bind is recorded with the check that decided it.
 */

export const BIND_SUFFIX = 'dc=rds,dc=local';
/** RDS refuses presigned tokens valid for longer than 15 minutes. */
const MAX_TOKEN_SECONDS = 900;
/** Tolerated clock difference for a token dated in the future. */
const MAX_SKEW_MS = 5 * 60_000;

/** The checks, in the order they run; a test may disable one to prove a refusal is down to it alone. */
export const RDS_TOKEN_CHECKS = [
  'format',
  'action',
  'db-user',
  'endpoint',
  'signature',
  'expiry',
  'credential-expiry',
] as const;
export type RdsTokenCheck = (typeof RDS_TOKEN_CHECKS)[number];

export type RdsTokenRejection =
  | 'not-a-token'
  | 'wrong-action'
  | 'wrong-db-user'
  | 'wrong-endpoint'
  | 'expired'
  | 'not-yet-valid'
  | 'bad-expires'
  | 'credential-expired'
  | 'not-under-suffix'
  /** The verdict of the signature check (unknown-access-key, token-mismatch, signature-mismatch, ...). */
  | RdsTokenFailureReason;

export interface BindDecision {
  readonly user: string;
  readonly ok: boolean;
  readonly reason: 'accepted' | RdsTokenRejection;
  /** The check that refused, when refused. */
  readonly check?: RdsTokenCheck;
  /** Length of the password PostgreSQL forwarded: proves long tokens travel intact. */
  readonly passwordLength: number;
  readonly accessKeyId?: string;
}

export interface LdapIamVerifierOptions {
  /** The `host:port` tokens must be signed for: the address the app connects to. */
  readonly endpoint: { readonly host: string; readonly port: number };
  readonly region: string;
  /** The STS emulator's view of the credentials it issued (secret, session token, expiration). */
  readonly lookup: CredentialLookup;
  /** The verifier's clock, epoch ms; Date.now when omitted. */
  readonly now?: () => number;
  readonly disabledChecks?: Iterable<RdsTokenCheck>;
}

export interface LdapIamVerifier {
  readonly host: string;
  readonly port: number;
  readonly decisions: readonly BindDecision[];
  /** Live: add a check to switch it off for the next binds (to prove a refusal is down to it alone). */
  readonly disabledChecks: Set<RdsTokenCheck>;
  close(): Promise<void>;
}

type Verdict =
  | { ok: true; accessKeyId: string }
  | { ok: false; check: RdsTokenCheck; reason: RdsTokenRejection; accessKeyId?: string };

/** Judges one RDS IAM auth token presented for `user`. Pure: the clock and the credential lookup come in. */
export function judgeRdsToken(
  token: string,
  user: string,
  options: LdapIamVerifierOptions,
  nowMs: number,
): Verdict {
  const disabled = new Set(options.disabledChecks ?? []);
  const refuse = (
    check: RdsTokenCheck,
    reason: RdsTokenRejection,
    accessKeyId?: string,
  ): Verdict | undefined =>
    disabled.has(check) ? undefined : { ok: false, check, reason, ...(accessKeyId ? { accessKeyId } : {}) };

  // format: `<host>:<port>/?<query>` - a presigned URL without its scheme.
  const match = /^([^/:?\s]+):(\d{1,5})\/\?(\S+)$/.exec(token);
  if (match === null) return { ok: false, check: 'format', reason: 'not-a-token' };
  const [, tokenHost = '', tokenPort = '', query = ''] = match;
  const params = parseQuery(query);
  const param = (name: string): string | undefined => params.find(([key]) => key === name)?.[1];
  const accessKeyId = param('X-Amz-Credential')?.split('/')[0];

  const steps: Array<() => Verdict | undefined> = [
    () => (param('Action') === 'connect' ? undefined : refuse('action', 'wrong-action', accessKeyId)),
    () => (param('DBUser') === user ? undefined : refuse('db-user', 'wrong-db-user', accessKeyId)),
    () =>
      tokenHost === options.endpoint.host && Number(tokenPort) === options.endpoint.port
        ? undefined
        : refuse('endpoint', 'wrong-endpoint', accessKeyId),
    () => {
      // Cryptographic validity only: judged against the token's own claims (checked above) as of the
      // instant it was signed; the clock checks below are separate so each can be switched off alone.
      const result = verifyRdsAuthToken({
        token,
        host: tokenHost,
        port: Number(tokenPort),
        user: param('DBUser') ?? '',
        region: options.region,
        lookup: options.lookup,
        now: parseAmzDate(param('X-Amz-Date') ?? '') ?? 0,
      });
      return result.ok ? undefined : refuse('signature', result.reason, accessKeyId);
    },
    () => {
      const signedAt = parseAmzDate(param('X-Amz-Date') ?? '')?.getTime();
      const expires = Number(param('X-Amz-Expires'));
      if (signedAt === undefined) return refuse('expiry', 'not-a-token', accessKeyId);
      if (!Number.isInteger(expires) || expires < 1 || expires > MAX_TOKEN_SECONDS) {
        return refuse('expiry', 'bad-expires', accessKeyId);
      }
      if (nowMs > signedAt + expires * 1000) return refuse('expiry', 'expired', accessKeyId);
      if (signedAt - nowMs > MAX_SKEW_MS) return refuse('expiry', 'not-yet-valid', accessKeyId);
      return undefined;
    },
    () => {
      const expiration = accessKeyId === undefined ? undefined : options.lookup(accessKeyId)?.expiration;
      if (expiration === undefined) return undefined;
      const expiresAt = typeof expiration === 'number' ? expiration : expiration.getTime();
      return nowMs >= expiresAt ? refuse('credential-expiry', 'credential-expired', accessKeyId) : undefined;
    },
  ];
  for (const step of steps) {
    const verdict = step();
    if (verdict !== undefined) return verdict;
  }
  return { ok: true, accessKeyId: accessKeyId ?? '' };
}

/** What this server reads of ldapjs's bind request and response (its typings do not declare them). */
interface LdapBindRequest {
  readonly dn: { toString(): string };
  readonly credentials: unknown;
}
interface LdapBindResponse {
  end(): void;
}

/** `cn=<user>,dc=rds,dc=local` (any spacing/case in the suffix) -> user. */
function userFromDn(dn: string): string | undefined {
  return /^cn=([^,]+),\s*dc=rds,\s*dc=local$/i.exec(dn.trim())?.[1];
}

export async function startLdapIamVerifier(options: LdapIamVerifierOptions): Promise<LdapIamVerifier> {
  const now = options.now ?? Date.now;
  const decisions: BindDecision[] = [];
  const disabledChecks = new Set(options.disabledChecks ?? []);
  const live: LdapIamVerifierOptions = { ...options, disabledChecks };
  const server = ldap.createServer();

  server.bind(BIND_SUFFIX, (req: LdapBindRequest, res: LdapBindResponse, next: (error?: unknown) => void) => {
    const password = typeof req.credentials === 'string' ? req.credentials : '';
    const user = userFromDn(req.dn.toString());
    if (user === undefined) {
      decisions.push({
        user: req.dn.toString(),
        ok: false,
        reason: 'not-under-suffix',
        passwordLength: password.length,
      });
      next(new ldap.InvalidCredentialsError());
      return;
    }
    const verdict = judgeRdsToken(password, user, live, now());
    if (verdict.ok) {
      decisions.push({
        user,
        ok: true,
        reason: 'accepted',
        passwordLength: password.length,
        accessKeyId: verdict.accessKeyId,
      });
      res.end();
      next();
      return;
    }
    const decision: BindDecision = {
      user,
      ok: false,
      reason: verdict.reason,
      check: verdict.check,
      passwordLength: password.length,
      ...(verdict.accessKeyId ? { accessKeyId: verdict.accessKeyId } : {}),
    };
    decisions.push(decision);
    next(new ldap.InvalidCredentialsError());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  return {
    host: LOOPBACK,
    port: Number(new URL(server.url).port),
    decisions,
    disabledChecks,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
      });
    },
  };
}
