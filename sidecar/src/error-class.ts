/**
 * Pure classification of refresh errors into a small, fixed set of reasons: the `reason` label of
 * token_broker_refresh_failures_total and the `errorClass` of logs and /v1/status. Each class carries
 * the fix that usually works, so the log line says what to do, not only what happened. The set is
 * fixed (failure counters start at zero for each reason) and listed in the README.
 */
import { isSkewed } from './clock-skew.ts';

export const ERROR_CLASSES = [
  'throttling',
  'access-denied',
  'invalid-web-identity-token',
  'expired-web-identity-token',
  'network',
  'timeout',
  'clock-skew',
  'sts-unavailable',
  'volume-full',
  'volume-read-only',
  'other',
] as const;

export type ErrorClass = (typeof ERROR_CLASSES)[number];

export const ERROR_HINTS: Readonly<Record<ErrorClass, string>> = Object.freeze({
  throttling:
    'STS is throttling this account: the sidecar backs off by itself; if it persists, look for other callers of STS in the account or ask AWS for a higher quota',
  'access-denied':
    "the pod's identity may not perform this call: check the role's trust policy (the IRSA/Pod Identity role must be allowed to sts:AssumeRole the target role, with the ExternalId if one is set) and the permissions (rds-db:connect on the db user's ARN)",
  'invalid-web-identity-token':
    "STS rejected the service account token: check the cluster's OIDC provider is registered in IAM, the role's trust policy names this namespace/service account and audience sts.amazonaws.com, and AWS_WEB_IDENTITY_TOKEN_FILE points at the projected token",
  'expired-web-identity-token':
    'a token or session presented to STS has expired: check that kubelet rotates the projected service account token (the volume is mounted, not copied) and that the node clock is synchronized',
  network:
    'STS or the credentials endpoint is unreachable: check DNS, egress NetworkPolicies, a VPC endpoint for sts.<region>.amazonaws.com, and AWS_STS_REGIONAL_ENDPOINTS=regional',
  timeout:
    'a step of the refresh (the call to STS or the credentials endpoint, signing, or a file write) did not finish in time: check egress latency, proxies, the VPC endpoint for STS and the EKS Pod Identity agent; the sidecar retries with backoff',
  'clock-skew':
    "the node's clock differs from AWS time (see token_broker_clock_skew_seconds): fix time synchronization on the node (chronyd or systemd-timesyncd against the Amazon Time Sync Service, 169.254.169.123)",
  'sts-unavailable':
    'STS (or the EKS Pod Identity agent) answered with a server error or an unreadable answer: usually transient, the sidecar retries with backoff; if it persists, check the AWS Health Dashboard for STS in the region and any proxy between the pod and STS',
  'volume-full':
    'the token-broker volume is full (ENOSPC): it is a 4 MiB in-memory emptyDir only the sidecar writes; list /var/run/token-broker for files that do not belong there (the sidecar removes its own leftover temp files when it starts)',
  'volume-read-only':
    "the token-broker volume is not writable for the sidecar (EROFS/EACCES): the sidecar's mount must not be readOnly and the directory must belong to or be writable by its runAsUser",
  other:
    'an unexpected error: read the error name and message in this log line; if it persists, report it with that line',
});

const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
]);

const ACCESS_DENIED_CODES = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedAccess',
  'InvalidClientTokenId',
  'NotAuthorized',
  'RegionDisabledException',
]);

const INVALID_WEB_IDENTITY_CODES = new Set([
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
  'IDPRejectedClaim',
  'IDPRejectedClaimException',
  'MalformedPolicyDocument',
  // The projected token file is missing or unreadable (identity.ts): the same fix, the IRSA setup.
  'WebIdentityTokenFileError',
]);

const EXPIRED_TOKEN_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired']);

const CLOCK_SKEW_CODES = new Set([
  'RequestExpired',
  'RequestInTheFuture',
  'RequestTimeTooSkewed',
  // ours (clock-skew.ts): credentials or a token already expired on arrival
  'ClockSkew',
]);

/** STS's server side failed, or its answer could not be read (a proxy's page instead of STS XML). */
const STS_UNAVAILABLE_CODES = new Set([
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceFailure',
  // ours (identity.ts): a 200 answer without credentials
  'StsEmptyAnswer',
]);

const VOLUME_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** EACCES/EPERM count only on our own writes: reading the web identity token can fail with them too. */
const VOLUME_READ_ONLY_CODES = new Set(['EROFS']);
const PERMISSION_CODES = new Set(['EACCES', 'EPERM']);

const SIGNATURE_CODES = new Set(['SignatureDoesNotMatch', 'InvalidSignatureException', 'AuthFailure']);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'NetworkingError',
  // STS could not reach the cluster's OIDC issuer to fetch its keys.
  'IDPCommunicationError',
  'IDPCommunicationErrorException',
]);

const TIMEOUT_CODES = new Set([
  'TimeoutError',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'RequestTimeout',
  'RequestTimeoutException',
  // ours (deadline.ts): a step of the cycle did not settle in time
  'StepTimeout',
]);

interface ErrorFacts {
  codes: string[];
  status: number | undefined;
  text: string;
}

/** Walks the error and its `cause` chain collecting names, codes, HTTP status and messages. */
function facts(error: unknown): ErrorFacts {
  const codes: string[] = [];
  let status: number | undefined;
  const texts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current === 'object') {
      const e = current as Record<string, unknown>;
      for (const key of ['name', 'code', 'Code', 'errno']) {
        const v = e[key];
        if (typeof v === 'string') codes.push(v);
      }
      const metadata = e.$metadata as Record<string, unknown> | undefined;
      const s = metadata?.httpStatusCode ?? e.statusCode ?? e.status;
      if (status === undefined && typeof s === 'number') status = s;
      if (typeof e.message === 'string') texts.push(e.message);
      current = e.cause;
    } else {
      if (typeof current === 'string') texts.push(current);
      current = undefined;
    }
  }
  return { codes, status, text: texts.join(' | ') };
}

export interface ClassifyContext {
  /** STS's clock minus ours (clock-skew.ts), when measured. */
  clockOffsetMs?: number | undefined;
}

export function classifyError(error: unknown, context: ClassifyContext = {}): ErrorClass {
  const errorClass = classifyByError(error);
  // A request signed on a clock this far off is refused whatever STS calls it.
  if (
    isSkewed(context.clockOffsetMs) &&
    (errorClass === 'access-denied' || errorClass === 'expired-web-identity-token')
  ) {
    return 'clock-skew';
  }
  return errorClass;
}

function classifyByError(error: unknown): ErrorClass {
  const { codes, status, text } = facts(error);
  const has = (set: Set<string>) => codes.some((c) => set.has(c));
  if (
    has(CLOCK_SKEW_CODES) ||
    /\b(clock skew|time ?too ?skewed|signature expired|signature not yet current|in the future)\b/i.test(text)
  ) {
    return 'clock-skew';
  }
  if (has(SIGNATURE_CODES) && /\b(expired|skew|time)\b/i.test(text)) return 'clock-skew';
  if (has(THROTTLING_CODES) || status === 429 || /\b(rate exceeded|throttl)/i.test(text)) return 'throttling';
  if (has(INVALID_WEB_IDENTITY_CODES)) return 'invalid-web-identity-token';
  if (has(EXPIRED_TOKEN_CODES)) return 'expired-web-identity-token';
  if (has(ACCESS_DENIED_CODES) || has(SIGNATURE_CODES) || status === 403) return 'access-denied';
  if (has(VOLUME_FULL_CODES)) return 'volume-full';
  if (has(VOLUME_READ_ONLY_CODES) || (codes.includes('FileWriteError') && has(PERMISSION_CODES))) {
    return 'volume-read-only';
  }
  if (
    has(STS_UNAVAILABLE_CODES) ||
    (status !== undefined && status >= 500 && status <= 599) ||
    /\bresponded with status: 5\d\d\b/.test(text) ||
    // The SDK could not read the answer (truncated, or a proxy's page instead of STS XML).
    /\b(Deserialization error|XML parse error)\b/i.test(text)
  ) {
    return 'sts-unavailable';
  }
  // Before timeout: the SDK renames ECONNRESET/EPIPE errors "TimeoutError" (it retries both alike).
  if (has(NETWORK_CODES) || /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|socket hang up)\b/.test(text)) {
    return 'network';
  }
  if (has(TIMEOUT_CODES) || /\btimed? ?out\b/i.test(text)) return 'timeout';
  return 'other';
}

export function hintFor(errorClass: ErrorClass): string {
  return ERROR_HINTS[errorClass];
}

/**
 * Why a client's connection through the PostgreSQL proxy (pg-proxy/) did not get a session: the
 * `reason` label of token_broker_proxy_login_failures_total and the `errorClass` of the proxy's logs
 * and of the ErrorResponse the client reads. A fixed set apart from ERROR_CLASSES: these are about
 * one connection, not about the refresh of a target.
 */
export const PROXY_ERROR_CLASSES = [
  'wrong-user',
  'client-protocol',
  'upstream-unreachable',
  'upstream-no-tls',
  'upstream-tls',
  'upstream-timeout',
  'upstream-auth',
  'upstream-auth-method',
  'upstream-error',
  'upstream-protocol',
  'no-token',
] as const;

export type ProxyErrorClass = (typeof PROXY_ERROR_CLASSES)[number];

export const PROXY_ERROR_HINTS: Readonly<Record<ProxyErrorClass, string>> = Object.freeze({
  'wrong-user':
    "connect as the target's user (the user of TOKEN_BROKER_<NAME>_PROXY_URL): the proxy logs in to the database as that user only",
  'client-protocol':
    'connect with a PostgreSQL client using protocol 3 and sslmode=disable (or prefer): the proxy listens on 127.0.0.1 inside the pod and speaks TLS only to the database',
  'upstream-unreachable':
    "the database's host or port cannot be reached from the pod: check the endpoint in the token-broker.io/rds-<name> annotation, DNS, the DB's security group (inbound from the node or pod security group) and egress NetworkPolicies",
  'upstream-no-tls':
    'the database refused TLS: the proxy logs in only over verified TLS; enable SSL on the database (RDS has it on by default)',
  'upstream-tls':
    "the database's certificate did not verify against the CA bundle or does not name the target's host: mount the current RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) through the token-broker.io/rds-ca-configmap annotation, and use the instance or cluster endpoint (not a CNAME or IP) in the target annotation",
  'upstream-timeout':
    'the database did not complete the connection or the login in time: check the security group, the instance status, and max_connections',
  'upstream-auth':
    "the database refused the IAM login: grant the rds_iam role to the user (GRANT rds_iam TO <user>), allow rds-db:connect on arn:aws:rds-db:<region>:<account>:dbuser:<resource-id>/<user> to the pod's role, and enable IAM database authentication on the instance",
  'upstream-auth-method':
    'the database asked for a password method other than the clear-text one IAM authentication uses: grant the rds_iam role to the user so RDS authenticates it with IAM',
  'upstream-error':
    "the database refused the session after the login (read the message: e.g. the database does not exist or too many connections): fix the database name in the client's connection string or the server's limits",
  'upstream-protocol':
    "the far end does not speak the PostgreSQL protocol as expected: check that the target annotation's host and port are the database's",
  'no-token':
    'the sidecar holds no valid RDS token for the target and could not sign one: see the refresh errors in the sidecar log (errorClass and hint) and /v1/status',
});

/** SQLSTATE of the ErrorResponse the client reads, per class (the server's own code for upstream-auth). */
export const PROXY_SQLSTATES: Readonly<Record<ProxyErrorClass, string>> = Object.freeze({
  'wrong-user': '28000',
  'client-protocol': '08P01',
  'upstream-unreachable': '08001',
  'upstream-no-tls': '08001',
  'upstream-tls': '08001',
  'upstream-timeout': '08001',
  'upstream-auth': '28000',
  'upstream-auth-method': '28000',
  'upstream-error': '08004',
  'upstream-protocol': '08P01',
  'no-token': '08001',
});

const TLS_VERIFY_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|HOSTNAME_MISMATCH)/;

/** An error of the upstream leg (socket, DNS, TLS) -> its proxy error class. */
export function classifyUpstreamError(error: unknown): ProxyErrorClass {
  const { codes, text } = facts(error);
  if (codes.some((c) => TLS_VERIFY_CODE.test(c)) || /certificate|altnames/i.test(text)) return 'upstream-tls';
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return 'upstream-timeout';
  if (codes.some((c) => NETWORK_CODES.has(c))) return 'upstream-unreachable';
  return 'upstream-protocol';
}
