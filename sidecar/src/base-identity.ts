/**
 * The pod's own identity (IRSA web identity through the sidecar's STS client; EKS Pod Identity, ...
 * through the SDK default chain),
 * fetched once per lifetime and shared: the targets without a role use it directly, and the STS
 * clients sign every AssumeRole with it. Without this each of them would fetch it on its own, one
 * web identity call per target and one more per STS client.
 */
import { CredentialCache, type CredentialCachePolicy } from './credential-cache.ts';
import {
  baseIdentityFetcher,
  type BaseProvider,
  type CredentialFetcher,
  type SdkCredentials,
} from './identity.ts';

export interface SharedBaseIdentity {
  /** For targets without a role. */
  readonly fetch: CredentialFetcher;
  /** For the STS clients: the same credentials, in the SDK's shape. */
  readonly provider: BaseProvider;
}

/**
 * `base` fetches anew on each call (identity.ts); the result fetches once per lifetime. The provider
 * is marked `memoized`, so an STS client uses it as it is instead of wrapping a cache of its own
 * around it (which would judge expiry on the wall clock, 5 minutes before the end).
 */
export function shareBaseIdentity(base: BaseProvider, policy: CredentialCachePolicy): SharedBaseIdentity {
  const cache = new CredentialCache(baseIdentityFetcher(base, policy.now), policy, "the pod's identity");
  const provider = async (): Promise<SdkCredentials> => {
    const c = await cache.get();
    return {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken !== undefined ? { sessionToken: c.sessionToken } : {}),
      expiration: new Date(c.expiresAt),
    };
  };
  return { fetch: cache.get, provider: Object.assign(provider, { memoized: true }) };
}
