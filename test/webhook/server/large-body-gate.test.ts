import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { BODY_LIMIT_BYTES, buildApp, createWebhookLogger } from '../../../webhook/src/server/app.ts';
import type { AdmissionReviewResponse } from '../../../webhook/src/server/admission.ts';
import {
  createGate,
  LARGE_BODY_BYTES,
  LARGE_BODY_CONCURRENCY,
  needsGate,
} from '../../../webhook/src/server/large-body-gate.ts';
import { createWebhookMetrics } from '../../../webhook/src/server/metrics.ts';
import type {
  ServiceAccountInfo,
  ServiceAccountLookup,
} from '../../../webhook/src/server/service-account-lookup.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { logSink } from './support/log-sink.ts';
import { optedInPod, review } from './support/pods.ts';

void describe('the large-body gate', () => {
  void it('hands out its slots, queues the rest in order, and a release is idempotent', async () => {
    const gate = createGate(2);
    const first = await gate.acquire();
    const second = await gate.acquire();
    const order: string[] = [];
    const third = gate.acquire().then((release) => (order.push('third'), release));
    const fourth = gate.acquire().then((release) => (order.push('fourth'), release));
    assert.deepEqual(gate.state(), { active: 2, waiting: 2 });
    first();
    first();
    const releaseThird = await third;
    assert.deepEqual(order, ['third']);
    assert.deepEqual(gate.state(), { active: 2, waiting: 1 });
    second();
    (await fourth)();
    releaseThird();
    assert.deepEqual(order, ['third', 'fourth']);
    assert.deepEqual(gate.state(), { active: 0, waiting: 0 });
  });

  const cases: [string, Record<string, string>, boolean][] = [
    ['a small body', { 'content-length': '2048' }, false],
    ['exactly the threshold', { 'content-length': String(LARGE_BODY_BYTES) }, false],
    ['above the threshold', { 'content-length': String(LARGE_BODY_BYTES + 1) }, true],
    ['above the body limit (refused unread)', { 'content-length': String(BODY_LIMIT_BYTES + 1) }, false],
    ['chunked, size unknown', { 'transfer-encoding': 'chunked' }, true],
    ['no body', {}, false],
    ['a length that is not a number', { 'content-length': 'x' }, true],
  ];
  for (const [name, headers, expected] of cases) {
    void it(`${name}: ${expected ? 'waits for a slot' : 'passes'}`, () => {
      assert.equal(needsGate(headers, BODY_LIMIT_BYTES), expected);
    });
  }
});

/** A lookup that holds every call until `release()`, counting the calls in progress. */
function heldLookup() {
  let inProgress = 0;
  let peak = 0;
  const waiters: (() => void)[] = [];
  const arrivals: (() => void)[] = [];
  const lookup: ServiceAccountLookup = {
    get: () => {
      inProgress += 1;
      peak = Math.max(peak, inProgress);
      arrivals.splice(0).forEach((notify) => notify());
      return new Promise<ServiceAccountInfo | undefined>((resolve) =>
        waiters.push(() => {
          inProgress -= 1;
          resolve(undefined);
        }),
      );
    },
  };
  return {
    lookup,
    inProgress: () => inProgress,
    peak: () => peak,
    /** Resolves once `n` calls are in progress. */
    until: async (n: number) => {
      while (inProgress < n) await new Promise<void>((resolve) => arrivals.push(resolve));
    },
    releaseAll: () => waiters.splice(0).forEach((release) => release()),
  };
}

void describe('large AdmissionReviews are handled a few at a time (bounded memory)', () => {
  const apps: FastifyInstance[] = [];
  after(() => Promise.all(apps.map((a) => a.close())));

  void it(`at most ${LARGE_BODY_CONCURRENCY} large bodies in flight; small ones do not wait`, async () => {
    const held = heldLookup();
    const gate = createGate(LARGE_BODY_CONCURRENCY);
    const app = buildApp(
      { defaults: BUILTIN_DEFAULTS },
      {
        logger: createWebhookLogger('error', logSink()),
        metrics: createWebhookMetrics({ defaultMetrics: false }),
        serviceAccountLookup: held.lookup,
        largeBodyGate: gate,
      },
    );
    apps.push(app);
    const post = (padding: number) =>
      app.inject({
        method: 'POST',
        url: '/mutate',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(review(optedInPod(), { options: { pad: 'x'.repeat(padding) } })),
      });
    const large = Array.from({ length: 4 }, () => post(LARGE_BODY_BYTES));
    // Every large review reaches the gate; the first ones reach the (held) ServiceAccount lookup.
    for (let turn = 0; turn < 10_000; turn++) {
      const { active, waiting } = gate.state();
      if (active + waiting === 4 && held.inProgress() === active) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(gate.state(), { active: LARGE_BODY_CONCURRENCY, waiting: 4 - LARGE_BODY_CONCURRENCY });
    assert.equal(held.inProgress(), LARGE_BODY_CONCURRENCY);
    const small = post(0);
    await held.until(LARGE_BODY_CONCURRENCY + 1);
    assert.equal(
      gate.state().waiting,
      4 - LARGE_BODY_CONCURRENCY,
      'the small review passed the waiting ones',
    );
    // Let the held lookups go, round after round, until every review is answered.
    let answered = false;
    const all = Promise.all([...large, small]).then((responses) => {
      answered = true;
      return responses;
    });
    while (!answered) {
      held.releaseAll();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(held.peak(), LARGE_BODY_CONCURRENCY + 1);
    for (const res of await all) {
      assert.equal(res.statusCode, 200);
      assert.equal(res.json<AdmissionReviewResponse>().response.allowed, true);
    }
  });
});
