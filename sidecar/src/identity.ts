/**
 * Where credentials come from. The base identity is the AWS SDK default chain (env, IRSA web identity
 * token file, EKS Pod Identity container endpoint, ...); where that chain would pick IRSA, the sidecar
 * makes the AssumeRoleWithWebIdentity call through its own STS client instead of the chain's extra
 * one. A target with a role assumes it on top of the base identity with one AssumeRole call per
 * credential lifetime.
 *
 * The SDK caches credentials on its own (it refreshes only 5 minutes before expiry). The refresher
 * owns the schedule, so every fetch here bypasses that cache: a chain of its own per base fetch, and a
 * plain AssumeRoleCommand (not fromTemporaryCredentials, whose provider would be memoized again by
 * whatever client uses it). SDK retries are off (maxAttempts 1): the refresher's backoff is the one
 * retry loop, and every failed call is counted and classified.
 *
 * Every STS answer's `Date` goes to an StsClock (clock-skew.ts): expiries are turned into local
 * times through it, and AssumeRole is signed with its offset, so a skewed node clock neither trusts
 * credentials too long nor has its signatures refused.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { Target } from '../../contract/sidecar-config.ts';
import { ClockSkewError, type StsClock } from './clock-skew.ts';
import { withDeadline } from './deadline.ts';
import { systemTimers, type Timers } from './timers.ts';

export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Absent only for long-term keys from the environment. */
  readonly sessionToken: string | undefined;
  /** Epoch ms. */
  readonly expiresAt: number;
  /**
   * Epoch ms: when a shared source (credential-cache.ts) fetches anew. Its users refresh then, not
   * on a schedule of their own, so STS sees one call per lifetime however many targets share them.
   */
  readonly refreshAt?: number;
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

/** The STS answer's credentials, as the SDK parses them. */
interface StsCredentialsOutput {
  Credentials?: {
    AccessKeyId?: string;
    SecretAccessKey?: string;
    SessionToken?: string;
    Expiration?: Date;
  };
}

/** The part of STSClient that fetches the pod's IRSA identity (no signature: needs no credentials). */
export interface WebIdentityStsLike {
  send(command: AssumeRoleWithWebIdentityCommand): Promise<StsCredentialsOutput>;
}

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
  /** The timeout of the container credentials (EKS Pod Identity) and IMDS providers. */
  credentialsEndpointTimeoutMs?: number;
  /** More plugins for the default chain's STS client (e.g. request timing, sts-timing.ts). */
  stsPlugins?: readonly StsPlugin[];
  /**
   * The sidecar's own STS client, to fetch an IRSA identity through it: the default chain would
   * otherwise build an STS client of its own (its module and middleware, kept for the process's
   * life) for that one call. Used only when IRSA is what the chain would pick (webIdentityFrom).
   * A getter: the client signs its AssumeRole calls with the identity this provider fetches.
   */
  webIdentitySts?: () => WebIdentityStsLike;
}

/** What the SDK reads from the environment to pick a credential source. */
type CredentialEnv = Partial<
  Record<
    | 'AWS_ACCESS_KEY_ID'
    | 'AWS_SECRET_ACCESS_KEY'
    | 'AWS_PROFILE'
    | 'AWS_WEB_IDENTITY_TOKEN_FILE'
    | 'AWS_ROLE_ARN'
    | 'AWS_ROLE_SESSION_NAME',
    string
  >
>;

export interface WebIdentitySettings {
  tokenFile: string;
  roleArn: string;
  /** Undefined: a new name per call, as the SDK does. */
  sessionName: string | undefined;
}

/**
 * The IRSA settings when the SDK default chain would use web identity: the token file and role are
 * set (options first, then the environment), and no source the chain tries before it is: static
 * keys in the environment, or a named profile of the shared config files. Otherwise undefined, and
 * the chain decides (static keys, profiles, EKS Pod Identity's container endpoint, IMDS).
 */
export function webIdentityFrom(
  options: Pick<BaseProviderOptions, 'webIdentityTokenFile' | 'roleArn' | 'roleSessionName'>,
  env: CredentialEnv,
): WebIdentitySettings | undefined {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) return undefined;
  if (env.AWS_PROFILE) return undefined;
  const tokenFile = options.webIdentityTokenFile ?? env.AWS_WEB_IDENTITY_TOKEN_FILE;
  const roleArn = options.roleArn ?? env.AWS_ROLE_ARN;
  if (!tokenFile || !roleArn) return undefined;
  return {
    tokenFile,
    roleArn,
    sessionName: options.roleSessionName ?? (env.AWS_ROLE_SESSION_NAME || undefined),
  };
}

/** The token file could not be read: names the file, the variable and the likely fix. */
export class WebIdentityTokenFileError extends Error {
  readonly code: string;
  constructor(file: string, cause: unknown) {
    const code = (cause as { code?: string } | undefined)?.code ?? 'unknown';
    super(
      `could not read the web identity token file ${file} (AWS_WEB_IDENTITY_TOKEN_FILE): ${code}; check that the service account token is projected into the pod (IRSA)`,
    );
    this.name = 'WebIdentityTokenFileError';
    this.code = code;
  }
}

/**
 * One AssumeRoleWithWebIdentity through `sts`, with the token read from its file on each call
 * (the kubelet rotates it). What the SDK's web identity provider does, without a client of its own.
 */
export function webIdentityProvider(
  sts: () => WebIdentityStsLike,
  settings: WebIdentitySettings,
  now: () => number = Date.now,
): BaseProvider {
  return async () => {
    let token: string;
    try {
      token = (await readFile(settings.tokenFile, 'utf8')).trim();
    } catch (error) {
      throw new WebIdentityTokenFileError(settings.tokenFile, error);
    }
    const out = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: settings.roleArn,
        RoleSessionName: settings.sessionName ?? `aws-sdk-js-session-${now()}`,
        WebIdentityToken: token,
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new StsEmptyAnswerError(settings.roleArn);
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken !== undefined ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration !== undefined ? { expiration: c.Expiration } : {}),
    };
  };
}

/** The SDK's default is 1 s with 3 retries; the EKS Pod Identity agent may need longer when busy. */
export const CREDENTIALS_ENDPOINT_TIMEOUT_MS = 5_000;

type StsPlugin = Parameters<STSClient['middlewareStack']['use']>[0];

/**
 * Records the `Date` of every STS answer, success or error, as it arrives: innermost in the stack,
 * before the SDK parses (or fails to parse) the body.
 */
export function stsDatePlugin(clock: StsClock): StsPlugin {
  return {
    applyToStack: (stack) => {
      stack.add(
        (next) => async (args) => {
          const result = await next(args);
          const headers = (result.response as { headers?: Record<string, string | undefined> }).headers;
          clock.observe(headers?.date, headers?.age);
          return result;
        },
        { step: 'deserialize', priority: 'low', name: 'tokenBrokerStsDate' },
      );
    },
  };
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

/** The base chain's own deadline: a web identity call (STS_REQUEST_TIMEOUT_MS) or the container endpoint. */
export const BASE_IDENTITY_TIMEOUT_MS = 15_000;

/**
 * The pod's own identity: IRSA through `webIdentitySts` when given and the chain would pick it
 * (webIdentityFrom), else the SDK default chain. Each call runs a fetch of its own, under a deadline: a call that never settles (a credentials endpoint that accepts the connection and never
 * answers) then holds no lock the next call would wait on. The sidecar shares one cached copy
 * between its targets and its STS clients (base-identity.ts). The expiry comes back on this node's
 * clock (through `clock`), so any cache judges it right too.
 */
export function createBaseProvider(
  options: BaseProviderOptions,
  clock?: StsClock,
  timers: Pick<Timers, 'setTimeout' | 'clearTimeout'> = systemTimers,
  env: CredentialEnv = process.env,
): BaseProvider {
  const webIdentity = options.webIdentitySts !== undefined ? webIdentityFrom(options, env) : undefined;
  // The sidecar's client records the answer's Date in `clock` itself (createStsClient).
  const fetch =
    webIdentity !== undefined && options.webIdentitySts !== undefined
      ? webIdentityProvider(options.webIdentitySts, webIdentity)
      : defaultChain(options, clock);
  return async () => {
    const creds = await withDeadline(
      fetch({ forceRefresh: true }),
      BASE_IDENTITY_TIMEOUT_MS,
      timers,
      webIdentity !== undefined
        ? "fetching the pod's identity (IRSA web identity)"
        : "fetching the pod's identity (AWS SDK default chain)",
    );
    if (clock === undefined || creds.expiration === undefined) return creds;
    return { ...creds, expiration: new Date(clock.toLocal(creds.expiration.getTime())) };
  };
}

/** The SDK default chain, run anew on each call (its own cache bypassed). */
function defaultChain(options: BaseProviderOptions, clock: StsClock | undefined): BaseProvider {
  const init = {
    clientConfig: stsClientConfig(options.region, options.stsEndpoint, options.requestTimeoutMs),
    clientPlugins: [...(clock !== undefined ? [stsDatePlugin(clock)] : []), ...(options.stsPlugins ?? [])],
    // EKS Pod Identity / ECS container endpoint and IMDS (the SDK's default: 1 s, 3 retries).
    timeout: options.credentialsEndpointTimeoutMs ?? CREDENTIALS_ENDPOINT_TIMEOUT_MS,
    maxRetries: 1,
    ...(options.webIdentityTokenFile !== undefined
      ? { webIdentityTokenFile: options.webIdentityTokenFile }
      : {}),
    ...(options.roleArn !== undefined ? { roleArn: options.roleArn } : {}),
    ...(options.roleSessionName !== undefined ? { roleSessionName: options.roleSessionName } : {}),
  };
  return (opts) => fromNodeProviderChain(init)(opts);
}

export function createStsClient(
  base: BaseProvider,
  region: string,
  endpoint?: string,
  requestTimeoutMs?: number,
  clock?: StsClock,
  plugins: readonly StsPlugin[] = [],
): STSClient {
  const client = new STSClient({ ...stsClientConfig(region, endpoint, requestTimeoutMs), credentials: base });
  for (const plugin of plugins) client.middlewareStack.use(plugin);
  if (clock !== undefined) {
    client.middlewareStack.use(stsDatePlugin(clock));
    // Sign on STS's clock as last measured (the SDK would learn it only from a refused call).
    client.middlewareStack.add(
      (next) => (args) => {
        const offset = clock.offsetMs();
        if (offset !== undefined) client.config.systemClockOffset = offset;
        return next(args);
      },
      // After the serialize step resolved the credentials (a web identity call may just have
      // measured the offset), before the finalizeRequest step signs.
      { step: 'build', name: 'tokenBrokerSigningClock' },
    );
  }
  return client;
}

/**
 * An expiry STS (or the credentials endpoint) states on AWS's clock, on ours; credentials that are
 * already over on ours are refused, not cached: they could not be served.
 */
function localExpiry(
  stated: Date | undefined,
  now: number,
  clock: StsClock | undefined,
  source: string,
  fallbackMs: number,
): number {
  if (stated === undefined) return now + fallbackMs;
  const expiresAt = clock === undefined ? stated.getTime() : clock.toLocal(stated.getTime());
  if (expiresAt <= now) {
    throw new ClockSkewError(
      `credentials from ${source} end at ${stated.toISOString()}, already past on this node's clock (${new Date(now).toISOString()}): the clock is probably ahead of AWS`,
    );
  }
  return expiresAt;
}

/**
 * The base identity itself, fetched anew each call (no SDK cache in the way). Its expiry is on this
 * node's clock already (createBaseProvider).
 */
export function baseIdentityFetcher(base: BaseProvider, now: () => number): CredentialFetcher {
  return async () => {
    const creds = await base({ forceRefresh: true });
    return {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      expiresAt: localExpiry(
        creds.expiration,
        now(),
        undefined,
        "the pod's identity",
        NO_EXPIRY_REFRESH_PERIOD_MS,
      ),
    };
  };
}

/** STS answered 200 without credentials: classed with STS's server failures. */
export class StsEmptyAnswerError extends Error {
  readonly code = 'StsEmptyAnswer';
  constructor(roleArn: string) {
    super(`STS AssumeRole for ${roleArn} returned no credentials`);
    this.name = 'StsEmptyAnswerError';
  }
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
  clock?: StsClock,
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
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new StsEmptyAnswerError(params.roleArn);
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiresAt: localExpiry(c.Expiration, now(), clock, 'STS', ASSUME_ROLE_DURATION_SECONDS * 1000),
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
  /** The clock the STS clients record answers' `Date` in: AssumeRole expiries are read through it. */
  clock?: StsClock;
}

/** One fetcher per target: AssumeRole when the target names a role, else the base identity. */
export function createCredentialFetcher(target: Target, wiring: FetcherWiring): CredentialFetcher {
  if (target.roleArn === undefined) return baseIdentityFetcher(wiring.base, wiring.now);
  return assumeRoleFetcher(
    wiring.stsFor(wiring.stsRegion(target)),
    { roleArn: target.roleArn, externalId: target.externalId, sessionName: wiring.sessionName },
    wiring.now,
    wiring.clock,
  );
}
