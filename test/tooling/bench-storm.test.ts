/** The start storm's figures (bench/storm-stats.ts): ideal time and calls, throttling, the worst pod. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stormFigures, type StormCall } from '../../bench/storm-stats.ts';

const ok = (pod: number, action = 'AssumeRoleWithWebIdentity'): StormCall => ({ pod, action, outcome: 'ok' });
const throttled = (pod: number): StormCall => ({ pod, action: 'AssumeRole', outcome: 'Throttling' });

describe('stormFigures', () => {
  const cases = [
    {
      what: 'no retry: calls equal the needed, time against (needed - burst) / rate',
      readyMs: [500, 1_500, 3_000],
      calls: [ok(0), ok(0, 'AssumeRole'), ok(1), ok(1, 'AssumeRole'), ok(2), ok(2, 'AssumeRole')],
      expect: {
        pods: 3,
        podsReady: 3,
        allReadySeconds: 3,
        idealSeconds: 2,
        timeVsIdeal: 1.5,
        stsCalls: 6,
        neededCalls: 6,
        callsVsNeeded: 1,
        callsFloorAtOnce: 7,
        throttled: 0,
        otherFailures: 0,
      },
      worst: { pod: 2, readySeconds: 3, stsCalls: 2, throttled: 0 },
      podsByCallCount: { '2': 3 },
    },
    {
      what: 'a retry storm: throttled and failed calls count, and the pod that made the most is found',
      readyMs: [1_000, 4_000, 2_000],
      calls: [
        ok(0),
        ok(0, 'AssumeRole'),
        throttled(1),
        throttled(1),
        throttled(1),
        { pod: 1, action: 'AssumeRole', outcome: 'InternalFailure' },
        ok(1),
        ok(1, 'AssumeRole'),
        ok(2),
        ok(2, 'AssumeRole'),
        { pod: undefined, action: 'AssumeRole', outcome: 'Throttling' },
      ],
      expect: {
        pods: 3,
        podsReady: 3,
        allReadySeconds: 4,
        idealSeconds: 2,
        timeVsIdeal: 2,
        stsCalls: 11,
        neededCalls: 6,
        callsVsNeeded: 1.83,
        callsFloorAtOnce: 7,
        throttled: 4,
        otherFailures: 1,
      },
      worst: { pod: 1, readySeconds: 4, stsCalls: 6, throttled: 3 },
      podsByCallCount: { '2': 2, '6': 1 },
    },
    {
      what: 'a pod never ready is the worst, and no all-ready time is claimed',
      readyMs: [9_000, undefined, 1_000],
      calls: [ok(0), throttled(1)],
      expect: {
        pods: 3,
        podsReady: 2,
        allReadySeconds: Number.NaN,
        idealSeconds: 2,
        timeVsIdeal: Number.NaN,
        stsCalls: 2,
        neededCalls: 6,
        callsVsNeeded: 0.333,
        callsFloorAtOnce: 7,
        throttled: 1,
        otherFailures: 0,
      },
      worst: { pod: 1, readySeconds: Number.NaN, stsCalls: 1, throttled: 1 },
      podsByCallCount: { '0': 1, '1': 2 },
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const f = stormFigures({
        readyMs: c.readyMs,
        calls: c.calls,
        neededCallsPerPod: 2,
        callsPerSecond: 2,
        burst: 2,
      });
      const picked = Object.fromEntries(Object.keys(c.expect).map((k) => [k, f[k as keyof typeof f]]));
      assert.deepEqual(picked, c.expect);
      assert.deepEqual(f.worstPod, c.worst);
      assert.deepEqual(f.podsByCallCount, c.podsByCallCount);
    });
  }

  it('per-pod ready times are summarised in seconds over the ready pods only', () => {
    const f = stormFigures({
      readyMs: [100, 200, undefined, 400],
      calls: [],
      neededCallsPerPod: 2,
      callsPerSecond: 100,
      burst: 100,
    });
    assert.equal(f.perPodReadySeconds.n, 3);
    assert.equal(f.perPodReadySeconds.median, 0.2);
    assert.equal(f.perPodReadySeconds.max, 0.4);
    assert.equal(f.idealSeconds, 0, 'the burst covers every needed call');
    assert.equal(f.callsFloorAtOnce, 8, 'no pod is throttled when the burst covers them all');
  });

  it('counts calls per action and outcome', () => {
    const f = stormFigures({
      readyMs: [1],
      calls: [ok(0), throttled(0), throttled(0)],
      neededCallsPerPod: 2,
      callsPerSecond: 1,
      burst: 1,
    });
    assert.deepEqual(f.callsByActionOutcome, {
      'AssumeRoleWithWebIdentity ok': 1,
      'AssumeRole Throttling': 2,
    });
  });
});
