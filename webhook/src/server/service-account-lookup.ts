/**
 * Reads the annotations of a pod's ServiceAccount so admission can warn when it has no IRSA role
 * (`eks.amazonaws.com/role-arn`). It only ever adds a warning, so it must never block or fail an
 * admission: every failure (no cluster, RBAC, timeout, API error) yields `undefined`, results are cached
 * with a TTL, and failures are cached briefly so an unreachable API server does not slow every pod.
 * `@kubernetes/client-node` is imported lazily: the offline CLI never loads it.
 */
import { existsSync } from 'node:fs';
import type { ServiceAccountLookupResult } from './metrics.ts';
import type { ServiceAccountInfo } from '../injection/spec.ts';

export type { ServiceAccountInfo };

export interface ServiceAccountLookup {
  /** The ServiceAccount's annotations, or undefined when unknown for any reason. Never rejects. */
  get(namespace: string, name: string): Promise<ServiceAccountInfo | undefined>;
}

/** Fetches one ServiceAccount: null when it does not exist; throws on any other failure. */
export type ServiceAccountFetcher = (namespace: string, name: string) => Promise<ServiceAccountInfo | null>;

export interface LookupLogger {
  debug(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface CachedLookupOptions {
  /** How long a found (or absent) ServiceAccount is remembered. */
  ttlMs?: number;
  /** How long a failure is remembered before the API is asked again. */
  errorTtlMs?: number;
  /** Give up on one API call after this long; admission goes on without the lookup. */
  timeoutMs?: number;
  maxEntries?: number;
  now?: () => number;
  logger?: LookupLogger;
  onResult?: (result: ServiceAccountLookupResult) => void;
}

interface Entry {
  value: ServiceAccountInfo | undefined;
  expires: number;
}

class LookupTimeout extends Error {}

export function createCachedServiceAccountLookup(
  fetch: ServiceAccountFetcher,
  options: CachedLookupOptions = {},
): ServiceAccountLookup {
  const ttlMs = options.ttlMs ?? 60_000;
  const errorTtlMs = options.errorTtlMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const maxEntries = options.maxEntries ?? 2_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<ServiceAccountInfo | undefined>>();

  const remember = (key: string, value: ServiceAccountInfo | undefined, ttl: number): void => {
    cache.delete(key);
    if (cache.size >= maxEntries) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, { value, expires: now() + ttl });
  };

  const fetchWithTimeout = async (namespace: string, name: string): Promise<ServiceAccountInfo | null> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // Not unref'd: an admission is waiting on it, and it is always cleared.
      timer = setTimeout(() => reject(new LookupTimeout()), timeoutMs);
    });
    try {
      // Promise.resolve().then() turns a fetcher that throws synchronously into a rejection.
      return await Promise.race([Promise.resolve().then(() => fetch(namespace, name)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const load = async (
    key: string,
    namespace: string,
    name: string,
  ): Promise<ServiceAccountInfo | undefined> => {
    try {
      const found = await fetchWithTimeout(namespace, name);
      const value = found ? { name: found.name, annotations: { ...found.annotations } } : undefined;
      remember(key, value, ttlMs);
      options.onResult?.('miss');
      return value;
    } catch (error) {
      const timedOut = error instanceof LookupTimeout;
      options.onResult?.(timedOut ? 'timeout' : 'error');
      options.logger?.warn(
        {
          namespace,
          serviceAccount: name,
          err: { message: timedOut ? `no answer within ${timeoutMs} ms` : errorMessage(error) },
        },
        'ServiceAccount lookup failed; admitting without its annotations',
      );
      remember(key, undefined, errorTtlMs);
      return undefined;
    }
  };

  return {
    get(namespace, name) {
      const key = `${namespace}/${name}`;
      const entry = cache.get(key);
      if (entry && entry.expires > now()) {
        options.onResult?.('hit');
        return Promise.resolve(copy(entry.value));
      }
      const pending = inFlight.get(key);
      if (pending) return pending;
      const promise = load(key, namespace, name)
        .then(copy)
        .finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      return promise;
    },
  };
}

/** Callers get their own copy: the cached entry must not change under later admissions. */
function copy(info: ServiceAccountInfo | undefined): ServiceAccountInfo | undefined {
  return info && { name: info.name, annotations: { ...info.annotations } };
}

function errorMessage(error: unknown): string {
  // client-node's ApiException carries the HTTP code; its body may be long, so keep the first line.
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0] ?? '';
  return typeof code === 'number' ? `HTTP ${code}: ${firstLine.slice(0, 200)}` : firstLine.slice(0, 200);
}

/** Where a pod's service account token and CA are mounted; present only inside a cluster. */
const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** True when running in a pod with API access (the same test client-node's loadFromCluster relies on). */
export function isInCluster(
  env: NodeJS.ProcessEnv,
  fileExists: (path: string) => boolean = existsSync,
): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST) && fileExists(IN_CLUSTER_TOKEN);
}

/**
 * A fetcher backed by the in-cluster API (needs RBAC `get` on `serviceaccounts`), or undefined when not
 * in a cluster. Loads `@kubernetes/client-node` only when called.
 */
export async function createKubernetesServiceAccountFetcher(
  env: NodeJS.ProcessEnv,
): Promise<ServiceAccountFetcher | undefined> {
  if (!isInCluster(env)) return undefined;
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  config.loadFromCluster();
  const api = config.makeApiClient(k8s.CoreV1Api);
  return async (namespace, name) => {
    try {
      const account = await api.readNamespacedServiceAccount({ namespace, name });
      return { name, annotations: { ...(account.metadata?.annotations ?? {}) } };
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return null;
      throw error;
    }
  };
}

/** The ServiceAccount a pod runs as; the API server's ServiceAccount admission defaults it to `default`. */
export function podServiceAccountName(pod: {
  spec?: { serviceAccountName?: unknown; serviceAccount?: unknown };
}): string {
  const spec = pod.spec ?? {};
  if (typeof spec.serviceAccountName === 'string' && spec.serviceAccountName) return spec.serviceAccountName;
  if (typeof spec.serviceAccount === 'string' && spec.serviceAccount) return spec.serviceAccount;
  return 'default';
}
