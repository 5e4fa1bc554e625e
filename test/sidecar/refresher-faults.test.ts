/**
 * The refresh loop under faults: a skewed clock, outages that outlast the credentials, a full disk,
 * throttling, and steps that never settle. Everything runs on the fake clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAKE_ERRORS } from '../fakes/fake-credentials.ts';
import { harness, HOUR, MIN, mongo, rds } from './support/refresher-harness.ts';

const SEC = 1_000;
/** The worst draw of full jitter: every backoff waits (almost) its whole ceiling. */
const worstJitter = () => 0.999;

/** The longest wait between two cycles that started at or after `from`. */
function longestGapSince(times: number[], from: number): number {
  const later = times.filter((t) => t >= from);
  return Math.max(0, ...later.slice(1).map((t, i) => t - later[i]!));
}

describe('TargetRefresher: credentials that are already expired on arrival (clock ahead)', () => {
  for (const target of [rds, mongo]) {
    it(`${target.kind}: a clock-skew failure with backoff, never a success and never a 1 s loop`, async () => {
      // Credentials whose end, read on this node's clock, is an hour ago: a clock ahead of STS.
      const h = harness(target, worstJitter, -HOUR);
      h.refresher.start();
      await h.clock.advance(2 * MIN);
      assert.equal(h.successes.length, 0, 'no cycle without a usable value is reported as a success');
      assert.ok(h.failures.length > 0, 'reported as failures');
      assert.ok(
        h.failures.every((f) => f.errorClass === 'clock-skew'),
        h.failures.map((f) => f.errorClass).join(','),
      );
      // 1 s doubling with full jitter, capped at 10 s: at most ~16 calls in 2 minutes (not 120).
      assert.ok(h.source.calls.length <= 20, `${h.source.calls.length} credential fetches in 2 min`);
      assert.equal(h.refresher.current(), undefined);
      assert.equal(h.refresher.isFresh(), false);
      assert.equal(h.refresher.status().lastErrorClass, 'clock-skew');
      h.refresher.stop();
    });
  }
});

describe('TargetRefresher: recovery after the cause goes away', () => {
  it('recovers within 10 s once an STS outage that outlasted the credentials ends', async () => {
    for (const target of [rds, mongo]) {
      const h = harness(target, worstJitter);
      h.refresher.start();
      await h.clock.advance(MIN);
      h.source.failAlways(FAKE_ERRORS.network);
      await h.clock.advance(2 * HOUR);
      assert.equal(h.refresher.current(), undefined, `${target.kind}: the credentials ran out`);
      const expiredAt = h.clock.now() - HOUR;
      const gap = longestGapSince(h.attemptTimes, expiredAt);
      assert.ok(gap <= 10 * SEC, `${target.kind}: retries ${gap / SEC} s apart with nothing held`);
      h.source.failAlways(undefined);
      await h.clock.advance(10 * SEC);
      assert.ok(h.refresher.current(), `${target.kind}: serving again within 10 s`);
      assert.equal(h.refresher.isFresh(), true);
      h.refresher.stop();
    }
  });

  it('recovers within 10 s once a full volume is freed, reusing the credentials already fetched', async () => {
    const h = harness(mongo, worstJitter);
    h.publishFails.next = Number.MAX_SAFE_INTEGER;
    h.refresher.start();
    await h.clock.advance(30 * MIN);
    assert.equal(h.refresher.current(), undefined);
    assert.ok(h.failures.length > 10);
    const gap = longestGapSince(h.attemptTimes, h.clock.now() - 25 * MIN);
    assert.ok(gap <= 10 * SEC, `write retries ${gap / SEC} s apart with nothing held`);
    h.publishFails.next = 0;
    await h.clock.advance(10 * SEC);
    assert.ok(h.refresher.current(), 'serving again within 10 s');
    assert.equal(h.source.calls.length, 1, 'the write retries never called STS again');
    h.refresher.stop();
  });

  it('when STS throttles with nothing held, retries spread from 8 s and back off up to 20 s', async () => {
    const h = harness(mongo, worstJitter);
    h.source.failAlways(FAKE_ERRORS.throttling);
    h.refresher.start();
    await h.clock.advance(10 * MIN);
    const calls = h.source.calls;
    const gaps = calls.slice(1).map((c, i) => c - calls[i]!);
    assert.ok(gaps[0]! > 7 * SEC, `first retry ${gaps[0]! / SEC} s after the throttled call`);
    assert.ok(Math.max(...gaps) > 19 * SEC, `largest gap ${Math.max(...gaps) / SEC} s`);
    assert.ok(Math.max(...gaps) <= 20 * SEC, `largest gap ${Math.max(...gaps) / SEC} s`);
    assert.ok(calls.length <= 32, `${calls.length} calls in 10 min while throttled`);
    h.refresher.stop();
  });
});

describe('TargetRefresher: a step that never settles', () => {
  it('a credential fetch that hangs fails the cycle as timeout at its deadline, and is retried', async () => {
    const h = harness(mongo, () => 0.5);
    h.source.hold();
    h.refresher.start();
    await h.clock.advance(60 * SEC);
    assert.ok(h.failures.length >= 1, 'the hung fetch was reported');
    assert.equal(h.failures[0]!.errorClass, 'timeout');
    assert.ok(h.failures[0]!.durationMs <= 30 * SEC, `cycle took ${h.failures[0]!.durationMs} ms`);
    assert.ok(h.source.calls.length >= 2, 'retried after the timeout');
    h.source.release();
    await h.clock.advance(60 * SEC);
    assert.ok(h.refresher.current(), 'served once the source answers');
    h.refresher.stop();
  });

  it('a file write that hangs fails the cycle as timeout; the retry reuses the credentials', async () => {
    const h = harness(rds, () => 0.5);
    h.publishHangs.on = true;
    h.refresher.start();
    await h.clock.advance(40 * SEC);
    assert.ok(h.failures.length >= 1, 'the hung write was reported');
    assert.equal(h.failures[0]!.errorClass, 'timeout');
    assert.ok(h.failures[0]!.durationMs <= 30 * SEC);
    h.publishHangs.on = false;
    await h.clock.advance(60 * SEC);
    assert.ok(h.refresher.current());
    assert.equal(h.source.calls.length, 1, 'no new STS call for a write retry');
    h.refresher.stop();
  });

  it('signing that hangs fails the cycle as timeout', async () => {
    const h = harness(rds, () => 0.5);
    h.buildHangs.on = true;
    h.refresher.start();
    await h.clock.advance(40 * SEC);
    assert.equal(h.failures[0]?.errorClass, 'timeout');
    h.buildHangs.on = false;
    await h.clock.advance(60 * SEC);
    assert.ok(h.refresher.current());
    h.refresher.stop();
  });

  it('the whole cycle has a deadline: a slow fetch followed by a hung write ends within 30 s', async () => {
    const h = harness(mongo, () => 0.5);
    h.source.hold();
    h.publishHangs.on = true;
    h.refresher.start();
    await h.clock.advance(22 * SEC);
    h.source.release(); // the fetch answers after 22 s, within its own deadline
    await h.clock.advance(10 * SEC);
    assert.ok(h.failures.length >= 1, 'the cycle ended');
    assert.equal(h.failures[0]!.errorClass, 'timeout');
    assert.ok(h.failures[0]!.durationMs <= 30 * SEC, `cycle took ${h.failures[0]!.durationMs / SEC} s`);
    h.refresher.stop();
  });
});
