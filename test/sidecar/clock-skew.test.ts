import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLOCK_SKEW_THRESHOLD_MS,
  describeOffset,
  measureOffset,
  StsClock,
} from '../../sidecar/src/clock-skew.ts';
import { FAKE_EPOCH } from '../fakes/fake-clock.ts';

const MIN = 60_000;
const httpDate = (ms: number) => new Date(ms).toUTCString();

describe('measureOffset', () => {
  const table: [string, unknown, number, number | undefined][] = [
    ['STS ahead by 10 min', httpDate(FAKE_EPOCH + 10 * MIN), FAKE_EPOCH, 10 * MIN],
    ['STS behind by 2 h', httpDate(FAKE_EPOCH - 120 * MIN), FAKE_EPOCH, -120 * MIN],
    ['whole seconds: 0.4 s into our second reads as -0.4 s', httpDate(FAKE_EPOCH), FAKE_EPOCH + 400, -400],
    ['absent', undefined, FAKE_EPOCH, undefined],
    ['not a date', 'yesterday-ish', FAKE_EPOCH, undefined],
    ['absurdly long', 'x'.repeat(1000), FAKE_EPOCH, undefined],
  ];
  for (const [name, header, at, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.equal(measureOffset(header, at), expected));
  }
});

describe('StsClock', () => {
  it('reads STS times on our clock, never later than they are', () => {
    let now = FAKE_EPOCH;
    const clock = new StsClock(() => now);
    assert.equal(clock.toLocal(FAKE_EPOCH + 60 * MIN), FAKE_EPOCH + 60 * MIN, 'unmeasured: as stated');
    // Our clock is 10 min behind STS: an hour on STS's clock ends 10 min sooner on ours.
    clock.observe(httpDate(FAKE_EPOCH + 10 * MIN));
    assert.equal(clock.offsetMs(), 10 * MIN);
    assert.equal(clock.toLocal(FAKE_EPOCH + 70 * MIN), FAKE_EPOCH + 60 * MIN - 1_000);
    // Later answers replace the measurement.
    now += 5_000;
    clock.observe(httpDate(now - 2 * 60 * MIN));
    assert.equal(clock.offsetMs(), -120 * MIN);
  });

  it('tells once when the offset crosses the threshold, and once when it is back', () => {
    let now = FAKE_EPOCH;
    const crossings: [boolean, number][] = [];
    const clock = new StsClock(
      () => now,
      (skewed, offset) => crossings.push([skewed, offset]),
    );
    const at = (offset: number) => {
      now += 1_000;
      clock.observe(httpDate(now + offset));
    };
    at(1_000);
    at(CLOCK_SKEW_THRESHOLD_MS + 60_000);
    at(CLOCK_SKEW_THRESHOLD_MS + 120_000);
    at(-2 * 60 * MIN);
    at(0);
    assert.deepEqual(crossings, [
      [true, CLOCK_SKEW_THRESHOLD_MS + 60_000],
      [false, 0],
    ]);
  });

  it('ignores an answer a cache gave (Age header) and an unreadable Date', () => {
    const clock = new StsClock(() => FAKE_EPOCH);
    clock.observe(httpDate(FAKE_EPOCH + 60 * MIN), '30');
    clock.observe('garbage');
    assert.equal(clock.offsetMs(), undefined);
  });
});

describe('describeOffset', () => {
  it('says which way and by how much', () => {
    assert.equal(describeOffset(-7_200_000), '120 min ahead of STS');
    assert.equal(describeOffset(10 * MIN + 3_000), '10 min 3 s behind STS');
    assert.equal(describeOffset(-4_000), '4 s ahead of STS');
  });
});
