/**
 * The crowd of real sidecars (bench/crowd.ts) in the figures and the report: throttled against the same
 * crowd without throttling, calls against the needed, and the goal judged against the best a throttled
 * crowd can do, max(boot, rate bound).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CrowdBench, CrowdRun } from '../../bench/crowd.ts';
import { renderCrowd } from '../../bench/crowd-report.ts';
import { comparisons, figures } from '../../bench/figures.ts';
import type { Report } from '../../bench/markdown.ts';

const run = (throttled: boolean, allReadySeconds: number, stsCalls: number): CrowdRun => ({
  throttled,
  allReadySeconds,
  perPodReadySeconds: {
    n: 30,
    median: allReadySeconds / 2,
    p95: allReadySeconds,
    p99: allReadySeconds,
    min: 1,
    max: allReadySeconds,
  },
  stsCalls,
  stsCallsByAnswer: throttled
    ? { 'AssumeRoleWithWebIdentity ok': 30, 'AssumeRole ok': 30, 'AssumeRole Throttling': stsCalls - 60 }
    : { 'AssumeRoleWithWebIdentity ok': 30, 'AssumeRole ok': 30 },
});

function crowd(throttledSeconds: number, throttledCalls: number): CrowdBench {
  return {
    runtime: 'image command',
    command: 'node --lite-mode dist/sidecar.cjs',
    pods: 30,
    targets: 3,
    callsPerSecond: 10,
    burst: 10,
    neededCalls: 60,
    runs: [run(false, 8, 60), run(true, throttledSeconds, throttledCalls)],
    throttled: { allReadySeconds: throttledSeconds, stsCalls: throttledCalls },
    unthrottled: { allReadySeconds: 8, stsCalls: 60 },
    rateBoundSeconds: 5,
    idealSeconds: 8,
  };
}

const judged = (c: CrowdBench) =>
  Object.fromEntries(
    comparisons({ errors: [], crowd: c } as unknown as Report).map((x) => [x.key, x.goal?.met]),
  );

describe('bench crowd', () => {
  it('reports the throttled crowd against the unthrottled one and the needed calls, under stable keys', () => {
    const f = figures(comparisons({ errors: [], crowd: crowd(10, 66) } as unknown as Report));
    assert.equal(f['crowd.allReady.seconds'], 10);
    assert.equal(f['baseline.crowd.unthrottled.allReady.seconds'], 8);
    assert.equal(f['ratio.crowd.allReady.seconds'], 1.25);
    assert.equal(f['crowd.stsCalls'], 66);
    assert.equal(f['needed.crowd.stsCalls'], 60);
    assert.equal(f['ratio.crowd.stsCalls'], 1.1);
  });

  it('meets its goals only near max(boot, rate bound) and within 1.2x of the needed calls', () => {
    assert.deepEqual(judged(crowd(10, 72)), { 'crowd.allReady.seconds': true, 'crowd.stsCalls': true });
    assert.deepEqual(judged(crowd(10.5, 73)), { 'crowd.allReady.seconds': false, 'crowd.stsCalls': false });
  });

  it('prints one row per run with its answers, and the ideal', () => {
    const text = renderCrowd(crowd(10, 66)).join('\n');
    assert.match(
      text,
      /\| throttled above 10 calls\/s \| 10 s \| 5 \/ 10 s \| 66 \| .*AssumeRole Throttling 6 \|/,
    );
    assert.match(text, /\| no throttling \| 8 s \|/);
    assert.match(text, /\(needed - burst\) \/ rate = 5 s\) = 8 s/);
  });
});
