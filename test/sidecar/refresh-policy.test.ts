import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  backoffDelayMs,
  backoffFor,
  type BackoffSettings,
  BUILD_TIMEOUT_MS,
  CYCLE_TIMEOUT_MS,
  DEFAULT_BACKOFF,
  FETCH_TIMEOUT_MS,
  isFresh,
  NO_VALUE_BACKOFF,
  PUBLISH_TIMEOUT_MS,
  MIN_REFRESH_DELAY_MS,
  MIN_RETRY_DELAY_MS,
  nextRefreshAt,
  nextRetryAt,
} from '../../sidecar/src/refresh-policy.ts';

const HOUR = 3600_000;
const MIN = 60_000;
const fixed = (x: number) => () => x;

describe('nextRefreshAt', () => {
  const cases: { name: string; lifetime: number; margin: number; random: number; expected: number }[] = [
    {
      name: '1 h, random 0: half the lifetime',
      lifetime: HOUR,
      margin: 2 * MIN,
      random: 0,
      expected: 30 * MIN,
    },
    {
      name: '1 h, random 0.5: 0.65 of the lifetime',
      lifetime: HOUR,
      margin: 2 * MIN,
      random: 0.5,
      expected: 39 * MIN,
    },
    {
      name: '1 h, random ~1: four fifths',
      lifetime: HOUR,
      margin: 2 * MIN,
      random: 0.9999999,
      expected: 48 * MIN,
    },
    {
      name: '15 min token, margin 2 min',
      lifetime: 15 * MIN,
      margin: 2 * MIN,
      random: 0,
      expected: 7.5 * MIN,
    },
    {
      name: '15 min token, margin 10 min: clamped to expiry - margin',
      lifetime: 15 * MIN,
      margin: 10 * MIN,
      random: 0,
      expected: 5 * MIN,
    },
    {
      name: '1 h, margin 20 min, random ~1: clamped to 40 min',
      lifetime: HOUR,
      margin: 20 * MIN,
      random: 0.9999999,
      expected: 40 * MIN,
    },
    {
      name: 'lifetime within the margin: half the lifetime',
      lifetime: 4 * MIN,
      margin: 5 * MIN,
      random: 0.3,
      expected: 2 * MIN,
    },
    {
      name: 'lifetime within the margin and tiny: floor',
      lifetime: 1000,
      margin: 2 * MIN,
      random: 0.3,
      expected: MIN_REFRESH_DELAY_MS,
    },
    {
      name: 'already expired: floor, no hot loop',
      lifetime: -5000,
      margin: 0,
      random: 0.3,
      expected: MIN_REFRESH_DELAY_MS,
    },
    { name: 'margin 0', lifetime: HOUR, margin: 0, random: 0, expected: 30 * MIN },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const now = 1_000_000;
      const at = nextRefreshAt(now, now + c.lifetime, c.margin, fixed(c.random));
      assert.ok(Math.abs(at - now - c.expected) < 1, `expected +${c.expected} ms, got +${at - now} ms`);
    });
  }

  it('always lies in [1/2, 4/5] of the lifetime and at or before expiry - margin (when that is ahead)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 10_000, max: 12 * HOUR }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (now, lifetime, margin, r) => {
          const at = nextRefreshAt(now, now + lifetime, margin, fixed(r));
          assert.ok(at > now, 'strictly in the future');
          if (lifetime > margin) {
            assert.ok(at <= now + lifetime - margin + 1e-6, 'not after expiry - margin');
            assert.ok(at <= now + 0.8 * lifetime + 1e-6, 'not after 4/5');
            const lower = Math.min(now + 0.5 * lifetime, now + lifetime - margin);
            assert.ok(
              at >= Math.min(lower, now + MIN_REFRESH_DELAY_MS) - 1e-6,
              'not before 1/2 unless the margin forces it',
            );
          }
        },
      ),
    );
  });

  it('spreads pods: different random draws give different points', () => {
    const a = nextRefreshAt(0, HOUR, 0, fixed(0.1));
    const b = nextRefreshAt(0, HOUR, 0, fixed(0.7));
    assert.notEqual(a, b);
  });
});

describe('backoffDelayMs (full jitter)', () => {
  const table: [failures: number, random: number, expected: number][] = [
    [1, 0.999999, 999],
    [2, 0.999999, 1999],
    [3, 0.999999, 3999],
    [4, 0.5, 4000],
    [6, 0.999999, 31_999],
    [7, 0.999999, 59_999], // 64 s capped at 60 s
    [50, 0.999999, 59_999], // no overflow
    [1, 0, MIN_RETRY_DELAY_MS], // floor
    [0, 0.5, 500], // treated like the first failure
  ];
  for (const [failures, random, expected] of table) {
    it(`failure ${failures}, random ${random} -> ${expected} ms`, () => {
      assert.equal(backoffDelayMs(failures, fixed(random)), expected);
    });
  }

  it('ceiling grows exponentially up to the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n, fixed(0.9999999)));
    assert.deepEqual(ceilings, [999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999]);
  });

  it('custom base and cap', () => {
    assert.equal(backoffDelayMs(3, fixed(0.5), { baseMs: 200, capMs: 500 }), 250);
  });
});

describe('nextRetryAt', () => {
  it('is now + backoff when nothing is served', () => {
    assert.equal(nextRetryAt(10_000, 3, fixed(0.5), undefined, 120_000), 12_000);
  });
  it('never waits past expiry - margin of the value still served', () => {
    const now = 0;
    const expiresAt = 125_000;
    assert.equal(nextRetryAt(now, 10, fixed(0.9), expiresAt, 120_000), 5_000);
  });
  it('past the last chance it falls back to plain backoff (no zero-delay loop)', () => {
    assert.equal(nextRetryAt(200_000, 2, fixed(0.5), 250_000, 120_000), 201_000);
  });
});

describe('backoffFor', () => {
  const table: [string, Parameters<typeof backoffFor>, BackoffSettings][] = [
    ['a valid value is still served: no hurry', ['network', true], { baseMs: 1_000, capMs: 60_000 }],
    ['nothing valid held: retry within 10 s', ['network', false], { baseMs: 1_000, capMs: 10_000 }],
    ['nothing held, full volume: within 10 s', ['volume-full', false], { baseMs: 1_000, capMs: 10_000 }],
    ['nothing held, STS 5xx: within 10 s', ['sts-unavailable', false], { baseMs: 1_000, capMs: 10_000 }],
    [
      'throttled with nothing held: retries spread from 8 s, within 20 s',
      ['throttling', false],
      { baseMs: 8_000, capMs: 20_000 },
    ],
    [
      'throttled while a valid value is served: from 8 s, no hurry',
      ['throttling', true],
      { baseMs: 8_000, capMs: 60_000 },
    ],
  ];
  for (const [name, args, expected] of table) {
    it(`${name} -> base ${expected.baseMs / 1000} s, cap ${expected.capMs / 1000} s`, () =>
      assert.deepEqual({ ...backoffFor(...args) }, expected));
  }
  it('the settings of other failures share the 1 s base', () => {
    assert.equal(NO_VALUE_BACKOFF.baseMs, DEFAULT_BACKOFF.baseMs);
  });
  it('a throttled pod-credential retries, on average, no sooner than one of another failure', () => {
    for (const holding of [true, false]) {
      const throttled = backoffFor('throttling', holding);
      const other = backoffFor('network', holding);
      for (let failures = 1; failures <= 8; failures++) {
        assert.ok(
          backoffDelayMs(failures, fixed(0.5), throttled) >= backoffDelayMs(failures, fixed(0.5), other),
          `failure ${failures}, holding ${holding}`,
        );
      }
    }
  });
});

describe('step deadlines', () => {
  it('fit inside the cycle, which fits inside one default backoff cap', () => {
    assert.ok(FETCH_TIMEOUT_MS < CYCLE_TIMEOUT_MS);
    assert.ok(BUILD_TIMEOUT_MS < CYCLE_TIMEOUT_MS && PUBLISH_TIMEOUT_MS < CYCLE_TIMEOUT_MS);
    assert.ok(CYCLE_TIMEOUT_MS <= DEFAULT_BACKOFF.capMs);
  });
});

describe('isFresh', () => {
  const table: [now: number, expiresAt: number, margin: number, fresh: boolean][] = [
    [0, 121_000, 120_000, true],
    [0, 120_000, 120_000, false],
    [0, 1, 0, true],
    [0, 0, 0, false],
    [10, 5, 0, false],
  ];
  for (const [now, expiresAt, margin, fresh] of table) {
    it(`now ${now}, expires ${expiresAt}, margin ${margin} -> ${fresh}`, () => {
      assert.equal(isFresh(now, expiresAt, margin), fresh);
    });
  }
});
