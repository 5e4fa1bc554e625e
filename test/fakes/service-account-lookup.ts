/**
 * Fakes for the webhook's ServiceAccount lookup: a fetcher (what client-node would do) that answers
 * from a table, throws, or never answers, and a lookup that breaks its own "never rejects" contract.
 */
import type {
  ServiceAccountFetcher,
  ServiceAccountInfo,
  ServiceAccountLookup,
} from '../../webhook/src/server/service-account-lookup.ts';

export interface FakeFetcher {
  fetch: ServiceAccountFetcher;
  /** `namespace/name` of every call, in order. */
  calls: string[];
}

/** Answers from `accounts` (keyed `namespace/name`); unknown accounts are "not found" (null). */
export function tableFetcher(accounts: Record<string, Record<string, string>>): FakeFetcher {
  const calls: string[] = [];
  return {
    calls,
    fetch: (namespace, name) => {
      calls.push(`${namespace}/${name}`);
      const annotations = accounts[`${namespace}/${name}`];
      return Promise.resolve(annotations ? { name, annotations } : null);
    },
  };
}

/** Fails every call like an API server answering 403 (missing RBAC). */
export function failingFetcher(): FakeFetcher {
  const calls: string[] = [];
  return {
    calls,
    fetch: (namespace, name) => {
      calls.push(`${namespace}/${name}`);
      return Promise.reject(Object.assign(new Error('serviceaccounts "x" is forbidden'), { code: 403 }));
    },
  };
}

/** Never answers, like an unreachable API server. */
export function hangingFetcher(): FakeFetcher {
  const calls: string[] = [];
  return {
    calls,
    fetch: (namespace, name) => {
      calls.push(`${namespace}/${name}`);
      return new Promise<ServiceAccountInfo | null>(() => {});
    },
  };
}

/** A lookup that rejects (which a correct lookup never does): the server must still admit. */
export function throwingLookup(): ServiceAccountLookup & { calls: number } {
  const fake = {
    calls: 0,
    get(): Promise<ServiceAccountInfo | undefined> {
      fake.calls += 1;
      return Promise.reject(new Error('lookup exploded'));
    },
  };
  return fake;
}

/** A fixed answer for every ServiceAccount. */
export function staticLookup(
  annotations: Record<string, string>,
): ServiceAccountLookup & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    get(namespace, name) {
      calls.push(`${namespace}/${name}`);
      return Promise.resolve({ name, annotations: { ...annotations } });
    },
  };
}
