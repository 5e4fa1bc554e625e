/**
 * The credentials of each target: the shared base identity for a target without a role, and for a
 * target with one, the credentials of that role, fetched once per lifetime however many targets name
 * the same role and external ID (one AssumeRole for all of them).
 */
import type { Target } from '../../contract/sidecar-config.ts';
import { CredentialCache, type CredentialCachePolicy } from './credential-cache.ts';
import { createCredentialFetcher, type CredentialFetcher, type FetcherWiring } from './identity.ts';

/** Targets share assumed credentials when they name the same role with the same external ID. */
export function assumedRoleKey(target: Pick<Target, 'roleArn' | 'externalId'>): string | undefined {
  return target.roleArn === undefined
    ? undefined
    : JSON.stringify([target.roleArn, target.externalId ?? null]);
}

export class AssumedRoleCache {
  private readonly roles = new Map<string, CredentialCache>();

  /**
   * `base`: the shared base identity (base-identity.ts). `wiring.base` signs the AssumeRole calls
   * through the STS clients of `wiring.stsFor`, which should use the same shared identity.
   */
  constructor(
    private readonly base: CredentialFetcher,
    private readonly wiring: FetcherWiring,
    private readonly policy: CredentialCachePolicy,
  ) {}

  /**
   * The fetcher of `target`. The first target naming a role decides the STS region of its calls
   * (all of them use the pod's region when AWS_REGION is set, as it is in a pod).
   */
  fetcherFor(target: Target): CredentialFetcher {
    const key = assumedRoleKey(target);
    if (key === undefined) return this.base;
    let cache = this.roles.get(key);
    if (cache === undefined) {
      cache = new CredentialCache(
        createCredentialFetcher(target, this.wiring),
        this.policy,
        `credentials of role ${target.roleArn}`,
      );
      this.roles.set(key, cache);
    }
    return cache.get;
  }
}
