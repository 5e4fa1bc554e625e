import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorClass } from '../../sidecar/src/error-class.ts';
import { makeMongoCredentials } from '../../sidecar/src/mongo-credentials.ts';
import type { TargetValue } from '../../sidecar/src/publisher.ts';
import { RDS_TOKEN_LIFETIME_MS } from '../../sidecar/src/rds-token.ts';
import { MIN_RESIGN_GAIN_MS } from '../../sidecar/src/refresh-policy.ts';
import { seededRandom, settle } from '../fakes/fake-clock.ts';
import { FAKE_ERRORS } from '../fakes/fake-credentials.ts';
import { harness, HOUR, MARGIN, MIN, mongo, rds, type Harness } from './support/refresher-harness.ts';

/** Advances in steps, asserting at each step that an unexpired (and, if asked, fresh) value is served. */
async function assertNoGap(h: Harness, totalMs: number, stepMs = 10_000, fresh = false): Promise<void> {
  for (let t = 0; t < totalMs; t += stepMs) {
    await h.clock.advance(stepMs);
    const v = h.refresher.current();
    const at = `+${(h.clock.now() - h.source.calls[0]!) / MIN} min`;
    assert.ok(v !== undefined, `no value served at ${at}`);
    assert.ok(v.expiresAt > h.clock.now());
    if (fresh) assert.ok(h.refresher.isFresh(), `not fresh at ${at}`);
  }
}

/** Every re-sign from the same credentials extended the token's life by at least MIN_RESIGN_GAIN_MS. */
function assertResignsGain(h: Harness): void {
  for (let i = 1; i < h.published.length; i++) {
    const [prev, cur] = [h.published[i - 1]!.value, h.published[i]!.value];
    if (prev.kind !== 'rds' || cur.kind !== 'rds') continue;
    const sameCredentials = h.source.issued.some(
      (c) => prev.token.includes(c.accessKeyId) && cur.token.includes(c.accessKeyId),
    );
    if (sameCredentials) {
      assert.ok(
        cur.expiresAt - prev.expiresAt >= MIN_RESIGN_GAIN_MS,
        `re-sign ${i} gained ${(cur.expiresAt - prev.expiresAt) / 1000} s`,
      );
    }
  }
}

describe('TargetRefresher', () => {
  it('RDS: exactly one credential fetch per lifetime, tokens re-signed from cached credentials, no gap', async () => {
    const h = harness(rds);
    h.refresher.start();
    await assertNoGap(h, 10 * HOUR);
    const calls = h.source.calls;
    assert.ok(
      calls.length >= 10 && calls.length <= 21,
      `${calls.length} STS calls in 10 h of 1 h credentials`,
    );
    for (let i = 1; i < calls.length; i++) {
      const gap = calls[i]! - calls[i - 1]!;
      assert.ok(
        gap >= 0.5 * HOUR - 1 && gap <= 0.8 * HOUR + 1,
        `STS call ${i} came ${gap / MIN} min after the previous one`,
      );
    }
    assert.ok(
      h.signs.length > 3 * calls.length,
      `tokens re-signed between credential fetches (${h.signs.length} signs)`,
    );
    for (const p of h.published) {
      assert.ok(p.value.expiresAt - p.at <= RDS_TOKEN_LIFETIME_MS, 'token lifetime at most 15 min');
    }
    // Each credential was used for tokens only while valid.
    for (const c of h.source.issued) {
      const used = h.published.filter((p) => p.value.kind === 'rds' && p.value.token.includes(c.accessKeyId));
      for (const p of used)
        assert.ok(p.value.expiresAt <= c.expiresAt, 'token never outlives its credentials');
    }
    assertResignsGain(h);
    assert.equal(h.failures.length, 0);
    h.refresher.stop();
  });

  for (const [lifetime, why] of [
    [15 * MIN, 'the token expires with its credentials'],
    [15.5 * MIN, 're-signing would add 30 s at most'],
  ] as const) {
    it(`RDS, ${lifetime / MIN} min credentials (${why}): no wasted re-sign, one fetch per lifetime, always fresh`, async () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const h = harness(rds, seededRandom(seed), lifetime);
        h.refresher.start();
        await assertNoGap(h, 5 * HOUR, 5_000, true);
        const calls = h.source.calls;
        for (let i = 1; i < calls.length; i++) {
          const gap = calls[i]! - calls[i - 1]!;
          assert.ok(
            // brought forward to the token's refresh point at the earliest
            gap >= 0.5 * Math.min(lifetime, RDS_TOKEN_LIFETIME_MS) - 1 && gap <= 0.8 * lifetime + 1,
            `seed ${seed}: STS call ${i} came ${gap / MIN} min after the previous one`,
          );
        }
        assert.equal(h.signs.length, calls.length, `seed ${seed}: one token per credentials`);
        assert.ok(
          h.successes.every((x) => x.credentialsFetched),
          `seed ${seed}: every refresh cycle fetched credentials (none only re-signed)`,
        );
        assert.equal(h.attempts, calls.length, `seed ${seed}: one cycle per credentials`);
        h.refresher.stop();
      }
    });
  }

  it('RDS, 20 min credentials: a re-sign that extends the token is still made', async () => {
    const h = harness(rds, () => 0.5, 20 * MIN);
    h.refresher.start();
    await assertNoGap(h, 2 * HOUR, 5_000, true);
    assert.ok(h.signs.length > h.source.calls.length, 'some tokens were re-signed from cached credentials');
    assertResignsGain(h);
    h.refresher.stop();
  });

  it('Mongo: one fetch per lifetime, refreshed in [1/2, 4/5] of it', async () => {
    const h = harness(mongo, () => 0.5);
    h.refresher.start();
    await assertNoGap(h, 5 * HOUR);
    const calls = h.source.calls;
    // random 0.5 -> 0.65 of the hour = 39 min
    assert.deepEqual(
      calls.map((c) => (c - calls[0]!) / MIN),
      [0, 39, 78, 117, 156, 195, 234, 273],
    );
    assert.equal(h.published.length, calls.length, 'files rewritten once per new credentials');
    h.refresher.stop();
  });

  it('single flight: concurrent refreshes share one fetch; readers get the current value meanwhile', async () => {
    const h = harness(mongo, () => 0.5);
    await h.refresher.refreshNow();
    const first = h.refresher.current();
    assert.ok(first);
    h.source.hold();
    // The timer's refresh (at 39 min) is now in flight, held (short of the fetch's deadline).
    await h.clock.advance(39 * MIN + 10_000);
    assert.equal(h.source.calls.length, 2);
    const a = h.refresher.refreshNow();
    const b = h.refresher.refreshNow();
    const c = h.refresher.refreshNow();
    await settle();
    assert.equal(a, b);
    assert.equal(b, c);
    assert.equal(h.source.calls.length, 2, 'one fetch in flight, not three');
    assert.equal(h.refresher.current(), first, 'the current value is served while the refresh is in flight');
    h.source.release();
    await Promise.all([a, b, c]);
    assert.notEqual(h.refresher.current(), first);
    assert.equal(h.source.calls.length, 2);
    h.refresher.stop();
  });

  it('last-known-good through an STS outage shorter than the remaining lifetime: no expiry gap', async () => {
    for (const target of [rds, mongo]) {
      const h = harness(target, () => 0); // refresh at half-life: 30 min
      h.refresher.start();
      await h.clock.advance(29 * MIN);
      const before = h.source.issued.length;
      h.source.failAlways(FAKE_ERRORS.throttling);
      // Outage from 29 to 55 min; the first credentials expire at 60 min.
      await assertNoGap(h, 26 * MIN, 5_000);
      assert.equal(h.source.issued.length, before, 'nothing issued during the outage');
      assert.ok(h.failures.length >= 5, `${target.kind}: retried during the outage (${h.failures.length})`);
      for (const f of h.failures) {
        assert.equal(f.errorClass, 'throttling' satisfies ErrorClass);
        assert.ok(f.servingUntil !== undefined, 'a last-known-good value was being served');
        assert.ok(f.retryAt <= Math.max(f.servingUntil - MARGIN, h.clock.now()) + 60_000);
      }
      const delays = h.failures.map((f, i) => f.retryAt - (h.failures[i - 1]?.retryAt ?? f.retryAt));
      assert.ok(Math.max(...delays) <= 60_000 + 1, 'backoff capped at 60 s');
      h.source.failAlways(undefined);
      await assertNoGap(h, 2 * HOUR, 5_000);
      assert.ok(h.source.issued.length > before, 'recovered');
      assert.equal(h.refresher.status().consecutiveFailures, 0);
      h.refresher.stop();
    }
  });

  it('an outage longer than the lifetime: the value expires (never served stale), readiness drops, then recovers', async () => {
    const h = harness(mongo, () => 0);
    h.refresher.start();
    await h.clock.advance(MIN);
    assert.equal(h.refresher.isFresh(), true);
    h.source.failAlways(FAKE_ERRORS.accessDenied);
    await h.clock.advance(HOUR);
    assert.equal(h.refresher.current(), undefined, 'expired credentials are not served');
    assert.equal(h.refresher.isFresh(), false);
    const s = h.refresher.status();
    assert.equal(s.lastErrorClass, 'access-denied');
    assert.ok(s.consecutiveFailures > 5);
    h.source.failAlways(undefined);
    await h.clock.advance(2 * MIN);
    assert.ok(h.refresher.current());
    assert.equal(h.refresher.isFresh(), true);
    h.refresher.stop();
  });

  it('first fetch fails: retries with growing backoff, nothing served meanwhile', async () => {
    const h = harness(rds, () => 0.999);
    h.source.failNext(FAKE_ERRORS.network, 4);
    h.refresher.start();
    await h.clock.advance(100);
    assert.equal(h.refresher.current(), undefined);
    await h.clock.advance(30_000);
    assert.equal(h.failures.length, 4);
    assert.deepEqual(
      h.failures.map((f, i) =>
        Math.round((f.retryAt - (i === 0 ? h.source.calls[0]! : h.source.calls[i]!)) / 1000),
      ),
      [1, 2, 4, 8],
    );
    assert.deepEqual(
      h.failures.map((f) => f.errorClass),
      ['network', 'network', 'network', 'network'],
    );
    assert.ok(h.refresher.current());
    h.refresher.stop();
  });

  it('RDS: when STS fails but the cached credentials are valid, tokens are still re-signed from them', async () => {
    const h = harness(rds, () => 0);
    h.refresher.start();
    await h.clock.advance(29 * MIN);
    h.source.failAlways(FAKE_ERRORS.throttling);
    const signsBefore = h.signs.length;
    await h.clock.advance(25 * MIN);
    assert.ok(h.signs.length > signsBefore, 'token re-signed during the outage');
    assert.ok(h.signs.slice(signsBefore).every((s) => s.keyId === h.source.issued[0]!.accessKeyId));
    h.refresher.stop();
  });

  it('a failed file write is a failure; the value is not served until written, and it is retried', async () => {
    const h = harness(mongo, () => 0.5);
    h.publishFails.next = 1;
    h.refresher.start();
    await h.clock.advance(0);
    assert.equal(h.refresher.current(), undefined);
    assert.equal(h.failures[0]?.errorClass, 'volume-full');
    await h.clock.advance(2_000);
    assert.ok(h.refresher.current());
    assert.equal(h.source.calls.length, 1, 'the credentials fetched before the write failure are reused');
    h.refresher.stop();
  });

  it('stop(): no more timers, no more fetches; a cycle finishing after stop writes nothing', async () => {
    const h = harness(rds);
    h.refresher.start();
    await h.clock.advance(MIN);
    h.source.hold();
    void h.refresher.refreshNow();
    await settle();
    h.refresher.stop();
    h.source.release();
    await h.refresher.settled();
    const published = h.published.length;
    const calls = h.source.calls.length;
    await h.clock.advance(5 * HOUR);
    assert.equal(h.clock.pendingTimers(), 0);
    assert.equal(h.source.calls.length, calls);
    assert.equal(h.published.length, published);
  });

  it("restore(): a previous run's value is served until refreshed, also through an STS outage", async () => {
    for (const target of [rds, mongo]) {
      const h = harness(target, () => 0.5);
      const restored: TargetValue =
        target.kind === 'rds'
          ? { kind: 'rds', token: 'previous-token', expiresAt: h.clock.now() + 10 * MIN }
          : makeMongoCredentials({
              accessKeyId: 'ASIAPREVIOUS',
              secretAccessKey: 's',
              sessionToken: 't',
              expiresAt: h.clock.now() + 10 * MIN,
            });
      h.refresher.restore(restored);
      assert.equal(h.refresher.current(), restored);
      assert.equal(h.refresher.isFresh(), true);
      h.source.failAlways(FAKE_ERRORS.throttling);
      h.refresher.start();
      await h.clock.advance(7 * MIN);
      assert.equal(h.refresher.current(), restored, `${target.kind}: still served during the outage`);
      assert.ok(h.failures.every((f) => f.servingUntil === restored.expiresAt));
      assert.ok(h.failures.every((f) => f.retryAt <= restored.expiresAt - MARGIN));
      h.source.failAlways(undefined);
      await h.clock.advance(2 * MIN);
      assert.notEqual(h.refresher.current(), restored, `${target.kind}: replaced by the refresh`);
      assert.equal(h.published.length, 1);
      h.refresher.stop();
    }
  });

  it('restore(): an expired value, or one after a value of this run, is ignored', async () => {
    const h = harness(mongo, () => 0.5);
    const old = { kind: 'rds', token: 'x', expiresAt: h.clock.now() } as const;
    h.refresher.restore(old);
    assert.equal(h.refresher.current(), undefined);
    await h.refresher.refreshNow();
    const fresh = h.refresher.current();
    assert.ok(fresh);
    h.refresher.restore({ kind: 'rds', token: 'y', expiresAt: h.clock.now() + HOUR * 2 });
    assert.equal(h.refresher.current(), fresh);
    h.refresher.stop();
  });

  it('status never carries a secret', async () => {
    const h = harness(mongo);
    h.refresher.start();
    await h.clock.advance(MIN);
    const text = JSON.stringify(h.refresher.status());
    const c = h.source.issued[0]!;
    assert.ok(
      !text.includes(c.secretAccessKey) && !text.includes(c.sessionToken!) && !text.includes(c.accessKeyId),
    );
    h.refresher.stop();
  });
});
