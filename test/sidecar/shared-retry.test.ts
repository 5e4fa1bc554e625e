/**
 * A shared credential's failure carries the cache's own retry point (credential-cache.ts), and the
 * targets sharing it retry together at that point: one STS call per retry round for all of them, not
 * one per target (a start storm against a throttling STS multiplied the web identity retries by the
 * targets using it: bench/storm.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CredentialCache,
  sharedRetryAt,
  type CredentialCachePolicy,
} from '../../sidecar/src/credential-cache.ts';
import { backoffDelayMs, backoffFor } from '../../sidecar/src/refresh-policy.ts';
import { TargetRefresher, type RefreshEvents } from '../../sidecar/src/refresher.ts';
import { FakeClock, seededRandom } from '../fakes/fake-clock.ts';
import { FAKE_ERRORS, FakeCredentialSource } from '../fakes/fake-credentials.ts';
import { rdsTarget } from '../fakes/sidecar-config.ts';
import type { TemporaryCredentials } from '../../sidecar/src/identity.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const MARGIN = 2 * MIN;

function policy(clock: FakeClock, random: () => number): CredentialCachePolicy {
  return { now: () => clock.now(), marginMs: MARGIN, random, deadlineTimers: clock };
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );

describe('a shared credential carries its retry point', () => {
  it('each consecutive failure sets a full-jitter backoff point on the error; a success starts over', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now());
    const cache = new CredentialCache(
      source.fetch,
      policy(clock, () => 0.5),
      'test credentials',
    );
    const throttling = backoffFor('throttling', false);
    source.failNext(FAKE_ERRORS.throttling, 2);
    const first = await failureOf(cache.get());
    assert.equal(sharedRetryAt(first), clock.now() + backoffDelayMs(1, () => 0.5, throttling));
    await clock.advance((sharedRetryAt(first) as number) - clock.now());
    const second = await failureOf(cache.get());
    assert.equal(sharedRetryAt(second), clock.now() + backoffDelayMs(2, () => 0.5, throttling));
    await clock.advance((sharedRetryAt(second) as number) - clock.now());
    await cache.get();
    await clock.advance(2 * 3600_000);
    source.failNext(FAKE_ERRORS.throttling);
    const afterSuccess = await failureOf(cache.get());
    assert.equal(sharedRetryAt(afterSuccess), clock.now() + backoffDelayMs(1, () => 0.5, throttling));
  });

  it('a cache whose fetch failed with another shared credential’s error keeps that one’s point', async () => {
    const clock = new FakeClock();
    const base = new FakeCredentialSource(() => clock.now());
    const baseCache = new CredentialCache(
      base.fetch,
      policy(clock, () => 0.9),
      'the pod identity',
    );
    // A role signed with the base identity: its fetch fails when the base's does, with that error.
    const roleCache = new CredentialCache(
      async () => baseCache.get(),
      policy(clock, () => 0.1),
      'a role',
    );
    base.failNext(FAKE_ERRORS.throttling);
    const error = await failureOf(roleCache.get());
    assert.equal(sharedRetryAt(error), clock.now() + 7_200, "the base identity's point (0.9 of 8 s)");
  });

  it('while the held credentials are valid, the point is never past their last chance (expiry - margin)', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now(), 10 * MIN);
    const cache = new CredentialCache(
      source.fetch,
      policy(clock, () => 0.5),
      'test credentials',
    );
    const held = await cache.get();
    const lastChance = held.expiresAt - MARGIN;
    await clock.advance(lastChance - 200 - clock.now());
    source.failNext(FAKE_ERRORS.throttling);
    const error = await failureOf(cache.get());
    assert.equal(sharedRetryAt(error), lastChance, 'not 500 ms later, after the last chance');
  });

  it('errors that are not objects carry nothing', () => {
    assert.equal(sharedRetryAt('boom'), undefined);
    assert.equal(sharedRetryAt(undefined), undefined);
  });
});

describe('targets sharing a throttled credential', () => {
  it('retry together at the credential’s backoff points: one call per round for three targets', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    // STS throttles everything for 10 s, as in a start storm; each call takes 50 ms.
    const calls: number[] = [];
    const fetchFromSts = async (): Promise<TemporaryCredentials> => {
      calls.push(clock.now() - start);
      await new Promise<void>((answered) => clock.setTimeout(answered, 50));
      if (clock.now() - start < 10_000) throw FAKE_ERRORS.throttling();
      return { accessKeyId: 'AKIA', secretAccessKey: 's', sessionToken: 't', expiresAt: clock.now() + HOUR };
    };
    const cache = new CredentialCache(
      fetchFromSts,
      policy(clock, () => 0.5),
      'the pod identity',
    );
    const events: RefreshEvents = {
      attempt: () => undefined,
      success: () => undefined,
      failure: () => undefined,
    };
    // Each refresher draws its own jitter: on their own they would come back at points of their own.
    const refreshers = [1, 2, 3].map(
      (seed) =>
        new TargetRefresher({
          target: rdsTarget({ name: `db-${seed}` }),
          fetchCredentials: cache.get,
          build: (c, now) =>
            Promise.resolve({
              kind: 'rds',
              token: 'token',
              expiresAt: Math.min(now + 15 * MIN, c.expiresAt),
            }),
          publish: () => Promise.resolve(),
          timers: clock,
          random: seededRandom(seed),
          marginMs: MARGIN,
          events,
        }),
    );
    for (const r of refreshers) r.start();
    while (!refreshers.every((r) => r.isFresh())) {
      const next = clock.nextTimerAt();
      assert.ok(next !== undefined && next - start < 60_000, 'every target fresh within a minute');
      await clock.advance(Math.max(0, next - clock.now()));
    }
    // Full jitter at 0.5 from the throttling backoff's 8 s base: 4, then 8 s after each throttled answer.
    assert.deepEqual(calls, [0, 4_050, 12_100]);
    for (const r of refreshers) r.stop();
  });
});
