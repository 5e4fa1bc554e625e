/**
 * Where credentials come from. The base identity is the AWS SDK default chain (env, IRSA web identity
 * token file, EKS Pod Identity container endpoint, ...). A target with a role assumes it on top of the
 * base identity with one AssumeRole call per credential lifetime.
 *
 * The SDK caches credentials on its own (it refreshes only 5 minutes before expiry). The refresher
 * owns the schedule, so every fetch here bypasses that cache: `forceRefresh` on the base chain, and a
 * plain AssumeRoleCommand (not fromTemporaryCredentials, whose provider would be memoized again by
 * whatever client uses it). SDK retries are off (maxAttempts 1): the refresher's backoff is the one
 * retry loop, and every failed call is counted and classified.
 */
import { createHash } from 'node:crypto';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { Target } from '../../contract/sidecar-config.ts';

export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Absent only for long-term keys from the environment. */
  readonly sessionToken: string | undefined;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** One call for new credentials: exactly one STS (or credentials endpoint) request, no cache. */
export type CredentialFetcher = () => Promise<TemporaryCredentials>;

/** The shape the AWS SDK providers return. */
export interface SdkCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type BaseProvider = (options?: { forceRefresh?: boolean }) => Promise<SdkCredentials>;

/** The part of STSClient the sidecar uses, so tests can pass a fake. */
export interface StsLike {
  send(command: AssumeRoleCommand): Promise<{
    Credentials?: {
      AccessKeyId?: string;
      SecretAccessKey?: string;
      SessionToken?: string;
      Expiration?: Date;
    };
  }>;
}

/** AssumeRole in a role chain is capped at one hour by STS. */
export const ASSUME_ROLE_DURATION_SECONDS = 3600;
/** Long-term keys have no expiry; they are re-read on this period. */
export const NO_EXPIRY_REFRESH_PERIOD_MS = 3600_000;
export const STS_REQUEST_TIMEOUT_MS = 10_000;
export const STS_CONNECT_TIMEOUT_MS = 3_000;

const SESSION_NAME_MAX = 64;
const SESSION_NAME_INVALID = /[^\w+=,.@-]/g;

/**
 * `tb-<namespace>-<pod>` restricted to STS's RoleSessionName alphabet [\w+=,.@-] and 64 characters,
 * so CloudTrail shows which pod acted. When too long it keeps the start and appends 8 hex chars of a
 * hash of the full name, so two long pod names stay distinct.
 */
export function roleSessionName(namespace: string, podName: string): string {
  const full = `tb-${namespace}-${podName}`.replace(SESSION_NAME_INVALID, '-');
  if (full.length <= SESSION_NAME_MAX) return full;
  const hash = createHash('sha256').update(`${namespace}/${podName}`).digest('hex').slice(0, 8);
  return `${full.slice(0, SESSION_NAME_MAX - hash.length - 1)}-${hash}`;
}

export interface BaseProviderOptions {
  /** Region for the STS client of web identity; AWS_REGION from the pod. */
  region: string;
  /** Explicit STS endpoint (tests). In a pod the SDK reads AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL. */
  stsEndpoint?: string;
  /** Explicit web identity settings (tests); otherwise AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN. */
  webIdentityTokenFile?: string;
  roleArn?: string;
  roleSessionName?: string;
  /** Per-request timeout of STS calls (default STS_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

function stsClientConfig(
  region: string,
  endpoint: string | undefined,
  requestTimeoutMs = STS_REQUEST_TIMEOUT_MS,
) {
  return {
    region,
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      // Without it the SDK only logs a warning and keeps waiting: a hung STS call would stall the loop.
      throwOnRequestTimeout: true,
      connectionTimeout: Math.min(STS_CONNECT_TIMEOUT_MS, requestTimeoutMs),
    },
    ...(endpoint !== undefined ? { endpoint } : {}),
  };
}

/** The pod's own identity: the SDK default chain. */
export function createBaseProvider(options: BaseProviderOptions): BaseProvider {
  return fromNodeProviderChain({
    clientConfig: stsClientConfig(options.region, options.stsEndpoint, options.requestTimeoutMs),
    ...(options.webIdentityTokenFile !== undefined
      ? { webIdentityTokenFile: options.webIdentityTokenFile }
      : {}),
    ...(options.roleArn !== undefined ? { roleArn: options.roleArn } : {}),
    ...(options.roleSessionName !== undefined ? { roleSessionName: options.roleSessionName } : {}),
  });
}

export function createStsClient(
  base: BaseProvider,
  region: string,
  endpoint?: string,
  requestTimeoutMs?: number,
): STSClient {
  return new STSClient({ ...stsClientConfig(region, endpoint, requestTimeoutMs), credentials: base });
}

function toTemporary(creds: SdkCredentials, now: number): TemporaryCredentials {
  return {
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken,
    expiresAt: creds.expiration?.getTime() ?? now + NO_EXPIRY_REFRESH_PERIOD_MS,
  };
}

/** The base identity itself, fetched anew each call (no SDK cache in the way). */
export function baseIdentityFetcher(base: BaseProvider, now: () => number): CredentialFetcher {
  return async () => toTemporary(await base({ forceRefresh: true }), now());
}

export interface AssumeRoleParams {
  roleArn: string;
  externalId: string | undefined;
  sessionName: string;
}

/** One AssumeRole call per invocation. */
export function assumeRoleFetcher(
  sts: StsLike,
  params: AssumeRoleParams,
  now: () => number,
): CredentialFetcher {
  return async () => {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.sessionName,
        DurationSeconds: ASSUME_ROLE_DURATION_SECONDS,
        ...(params.externalId !== undefined ? { ExternalId: params.externalId } : {}),
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      throw new Error(`STS AssumeRole for ${params.roleArn} returned no credentials`);
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiresAt: c.Expiration?.getTime() ?? now() + ASSUME_ROLE_DURATION_SECONDS * 1000,
    };
  };
}

export interface FetcherWiring {
  base: BaseProvider;
  /** STS client for AssumeRole in a region (one per region, shared by targets). */
  stsFor: (region: string) => StsLike;
  stsRegion: (target: Target) => string;
  sessionName: string;
  now: () => number;
}

/** One fetcher per target: AssumeRole when the target names a role, else the base identity. */
export function createCredentialFetcher(target: Target, wiring: FetcherWiring): CredentialFetcher {
  if (target.roleArn === undefined) return baseIdentityFetcher(wiring.base, wiring.now);
  return assumeRoleFetcher(
    wiring.stsFor(wiring.stsRegion(target)),
    { roleArn: target.roleArn, externalId: target.externalId, sessionName: wiring.sessionName },
    wiring.now,
  );
}
