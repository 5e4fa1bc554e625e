/** The STS emulator's throttling: a token bucket on an injected clock, then the emulator answering with it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startStsEmulator } from './sts-emulator.ts';
import { TokenBucket } from './sts-rate-limit.ts';
import { makeWebIdentityToken } from './web-identity-token.ts';

function bucketAt(limit: { callsPerSecond: number; burst?: number }) {
  let t = 1_000_000;
  const bucket = new TokenBucket(limit, () => t);
  return {
    take: () => bucket.tryTake(),
    advance: (ms: number) => (t += ms),
  };
}

const takes = (take: () => boolean, n: number) => Array.from({ length: n }, take).filter(Boolean).length;

describe('TokenBucket', () => {
  const cases = [
    {
      what: 'a full bucket accepts its burst, then refuses',
      limit: { callsPerSecond: 10 },
      waitMs: 0,
      calls: 15,
      accepted: 10,
    },
    {
      what: 'an explicit burst replaces one second of calls',
      limit: { callsPerSecond: 10, burst: 3 },
      waitMs: 0,
      calls: 5,
      accepted: 3,
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const b = bucketAt(c.limit);
      b.advance(c.waitMs);
      assert.equal(takes(b.take, c.calls), c.accepted);
    });
  }

  it('refills at the rate once empty: 100 calls/s give one call per 10 ms, never two', () => {
    const b = bucketAt({ callsPerSecond: 100 });
    assert.equal(takes(b.take, 100), 100);
    assert.equal(b.take(), false, 'empty');
    b.advance(9);
    assert.equal(b.take(), false, 'not a whole token after 9 ms');
    b.advance(1);
    assert.equal(b.take(), true, 'one token after 10 ms');
    assert.equal(b.take(), false);
    b.advance(1_000);
    assert.equal(takes(b.take, 150), 100, 'a second refills the burst, no more');
  });

  it('sustained over 10 s: calls offered at 4x the rate are accepted at the rate (plus the burst)', () => {
    const b = bucketAt({ callsPerSecond: 20 });
    let accepted = 0;
    for (let i = 0; i < 800; i++) {
      if (b.take()) accepted++;
      b.advance(12.5);
    }
    assert.ok(accepted >= 200 && accepted <= 220, `accepted ${accepted}`);
  });

  it('refuses a rate or burst that cannot work, naming the field', () => {
    assert.throws(() => bucketAt({ callsPerSecond: 0 }), /rateLimit\.callsPerSecond/);
    assert.throws(() => bucketAt({ callsPerSecond: 5, burst: 0.5 }), /rateLimit\.burst/);
  });
});

describe('STS emulator with rateLimit', () => {
  it('answers 400 Throttling above the rate, as real STS does, and records it', async (tc) => {
    let t = Date.now();
    const sts = await startStsEmulator({ now: () => t, rateLimit: { callsPerSecond: 2 } });
    tc.after(() => sts.close());
    const client = new STSClient({
      region: 'eu-west-1',
      endpoint: sts.url,
      maxAttempts: 1,
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
    });
    tc.after(() => client.destroy());
    const call = () =>
      client.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: 'arn:aws:iam::111122223333:role/pod',
          RoleSessionName: 'rate-limit-test',
          WebIdentityToken: makeWebIdentityToken({ expiresAt: t + 3_600_000 }),
        }),
      );
    await call();
    await call();
    await assert.rejects(call(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'Throttling');
      assert.equal(e.$metadata?.httpStatusCode, 400);
      return true;
    });
    t += 500;
    await call();
    assert.deepEqual(
      sts.calls.map((c) => c.outcome),
      ['ok', 'ok', 'Throttling', 'ok'],
    );
  });
});
