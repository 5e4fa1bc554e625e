import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createCachedServiceAccountLookup,
  createKubernetesServiceAccountFetcher,
  isInCluster,
  podServiceAccountName,
} from '../../../webhook/src/server/service-account-lookup.ts';
import { failingFetcher, hangingFetcher, tableFetcher } from '../../fakes/service-account-lookup.ts';

const IRSA: Record<string, string> = {
  'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/invoicing',
};

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

void describe('cached ServiceAccount lookup', () => {
  void it('returns annotations and caches them for the TTL', async () => {
    const fetcher = tableFetcher({ 'billing/invoicing': IRSA });
    const time = clock();
    const results: string[] = [];
    const lookup = createCachedServiceAccountLookup(fetcher.fetch, {
      ttlMs: 60_000,
      now: time.now,
      onResult: (r) => results.push(r),
    });
    assert.deepEqual(await lookup.get('billing', 'invoicing'), { name: 'invoicing', annotations: IRSA });
    time.advance(59_999);
    await lookup.get('billing', 'invoicing');
    assert.deepEqual(fetcher.calls, ['billing/invoicing']);
    time.advance(1);
    await lookup.get('billing', 'invoicing');
    assert.deepEqual(fetcher.calls, ['billing/invoicing', 'billing/invoicing']);
    assert.deepEqual(results, ['miss', 'hit', 'miss']);
  });

  void it('a missing ServiceAccount is undefined (and cached)', async () => {
    const fetcher = tableFetcher({});
    const lookup = createCachedServiceAccountLookup(fetcher.fetch, { now: clock().now });
    assert.equal(await lookup.get('billing', 'nobody'), undefined);
    assert.equal(await lookup.get('billing', 'nobody'), undefined);
    assert.equal(fetcher.calls.length, 1);
  });

  void it('an API error resolves undefined, is logged without throwing, and is retried after the error TTL', async () => {
    const fetcher = failingFetcher();
    const time = clock();
    const warnings: string[] = [];
    const lookup = createCachedServiceAccountLookup(fetcher.fetch, {
      errorTtlMs: 10_000,
      now: time.now,
      logger: { debug: () => {}, warn: (fields) => warnings.push(JSON.stringify(fields)) },
    });
    assert.equal(await lookup.get('billing', 'invoicing'), undefined);
    assert.equal(await lookup.get('billing', 'invoicing'), undefined);
    assert.equal(fetcher.calls.length, 1);
    assert.match(warnings[0] ?? '', /HTTP 403: serviceaccounts \\"x\\" is forbidden/);
    time.advance(10_000);
    await lookup.get('billing', 'invoicing');
    assert.equal(fetcher.calls.length, 2);
  });

  void it('a fetcher that throws synchronously still resolves undefined', async () => {
    const lookup = createCachedServiceAccountLookup(() => {
      throw new Error('sync');
    });
    assert.equal(await lookup.get('a', 'b'), undefined);
  });

  void it('a hanging API call resolves undefined after the timeout, and concurrent callers share one call', async () => {
    const fetcher = hangingFetcher();
    const results: string[] = [];
    const lookup = createCachedServiceAccountLookup(fetcher.fetch, {
      timeoutMs: 10,
      onResult: (r) => results.push(r),
    });
    const [a, b] = await Promise.all([
      lookup.get('billing', 'invoicing'),
      lookup.get('billing', 'invoicing'),
    ]);
    assert.equal(a, undefined);
    assert.equal(b, undefined);
    assert.equal(fetcher.calls.length, 1);
    assert.deepEqual(results, ['timeout']);
  });

  void it('bounds the cache size', async () => {
    const fetcher = tableFetcher({});
    const lookup = createCachedServiceAccountLookup(fetcher.fetch, { maxEntries: 2, now: clock().now });
    await lookup.get('n', 'a');
    await lookup.get('n', 'b');
    await lookup.get('n', 'c');
    await lookup.get('n', 'a');
    assert.deepEqual(fetcher.calls, ['n/a', 'n/b', 'n/c', 'n/a']);
  });

  void it('returns copies, so a caller cannot change the cache', async () => {
    const lookup = createCachedServiceAccountLookup(tableFetcher({ 'n/a': IRSA }).fetch, {
      now: clock().now,
    });
    const first = await lookup.get('n', 'a');
    assert.ok(first);
    first.annotations['eks.amazonaws.com/role-arn'] = 'changed';
    const second = await lookup.get('n', 'a');
    assert.deepEqual(second?.annotations, IRSA);
    assert.ok(second);
    second.annotations.extra = 'x';
    assert.deepEqual((await lookup.get('n', 'a'))?.annotations, IRSA);
  });
});

void describe('in-cluster detection', () => {
  void it('needs KUBERNETES_SERVICE_HOST and the token file', () => {
    assert.equal(
      isInCluster({}, () => true),
      false,
    );
    assert.equal(
      isInCluster({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, () => false),
      false,
    );
    assert.equal(
      isInCluster({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, () => true),
      true,
    );
  });

  void it('outside a cluster there is no fetcher (and client-node is not needed)', async () => {
    assert.equal(await createKubernetesServiceAccountFetcher({}), undefined);
  });

  void it('the pod ServiceAccount name defaults to "default"', () => {
    assert.equal(podServiceAccountName({ spec: { serviceAccountName: 'x' } }), 'x');
    assert.equal(podServiceAccountName({ spec: { serviceAccount: 'old' } }), 'old');
    assert.equal(podServiceAccountName({ spec: {} }), 'default');
  });
});
