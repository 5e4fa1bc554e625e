/**
 * Pure classification of refresh errors into a small, fixed set of reasons: the `reason` label of
 * token_broker_refresh_failures_total and the `errorClass` of logs and /v1/status. Each class carries
 * the fix that usually works, so the log line says what to do, not only what happened.
 */

export const ERROR_CLASSES = [
  'throttling',
  'access-denied',
  'invalid-web-identity-token',
  'expired-web-identity-token',
  'network',
  'timeout',
  'clock-skew',
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
    'the call to STS or the credentials endpoint timed out: check egress latency, proxies and the VPC endpoint for STS; the sidecar retries with backoff',
  'clock-skew':
    "the node's clock differs from AWS time: fix time synchronization on the node (chrony / Amazon Time Sync Service)",
  other:
    'an unexpected error: read the message; if it names a file in the token-broker directory, check the volume is mounted writable for the sidecar',
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
]);

const EXPIRED_TOKEN_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired']);

const CLOCK_SKEW_CODES = new Set(['RequestExpired', 'RequestInTheFuture', 'RequestTimeTooSkewed']);

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

export function classifyError(error: unknown): ErrorClass {
  const { codes, status, text } = facts(error);
  const has = (set: Set<string>) => codes.some((c) => set.has(c));
  if (
    has(CLOCK_SKEW_CODES) ||
    /\b(clock skew|time ?too ?skewed|signature expired|in the future)\b/i.test(text)
  ) {
    return 'clock-skew';
  }
  if (has(SIGNATURE_CODES) && /\b(expired|skew|time)\b/i.test(text)) return 'clock-skew';
  if (has(THROTTLING_CODES) || status === 429 || /\b(rate exceeded|throttl)/i.test(text)) return 'throttling';
  if (has(INVALID_WEB_IDENTITY_CODES)) return 'invalid-web-identity-token';
  if (has(EXPIRED_TOKEN_CODES)) return 'expired-web-identity-token';
  if (has(ACCESS_DENIED_CODES) || has(SIGNATURE_CODES) || status === 403) return 'access-denied';
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
