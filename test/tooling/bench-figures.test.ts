/**
 * The bench's figures (bench/figures.ts): each headline figure beside its baseline under stable keys,
 * which bench/report.json consumers (docs, the README, a CI comparison) read by name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comparisons, figures, headlineSidecar, renderComparisons } from '../../bench/figures.ts';
import type { LoadResult } from '../../bench/load.ts';
import type { Report } from '../../bench/markdown.ts';
import { IMAGE_SIDECAR, type SidecarBench } from '../../bench/sidecar.ts';
import type { Summary } from '../../bench/stats.ts';

const summary = (median: number, p99 = median): Summary => ({
  n: 1,
  median,
  p95: p99,
  p99,
  min: median,
  max: p99,
});
const load = (reqPerSec: number, p99Ms: number): LoadResult => ({
  concurrency: 8,
  requests: 1,
  warmup: 0,
  rounds: 1,
  errors: 0,
  latencyMs: summary(1, p99Ms),
  throughputPerSecond: summary(reqPerSec),
});

function sidecar(runtime: string, rss: number): SidecarBench {
  return {
    runtime,
    targets: ['postgres', 'mysql', 'mongo (role)'],
    startups: 5,
    idleSeconds: 5,
    rssAfter5sIdleMiB: rss,
    rssAnonAfter5sIdleMiB: 16,
    spawnToFilesWrittenMs: summary(300),
    cpuSecondsToFilesWrittenPlus1s: summary(0.3),
    stsCallsAtStart: { perStart: [2, 3, 2], lastByAction: {}, needed: 2 },
    baselines: {
      bareNode: { command: 'node', idleMemoryMiB: { rss: 40, anon: 5 } },
      seedApp: {
        command: 'seed',
        spawnToTokenMs: summary(100),
        cpuSecondsToTokenPlus1s: summary(0.1),
        idleMemoryMiB: { rss: 60, anon: 16 },
      },
    },
  } as SidecarBench;
}

const report = {
  webhook: {
    https: {
      runtime: 'node dist',
      concurrent8: load(1500, 30),
      memoryAfterLoadMiB: { rss: 100, anon: 50 },
      baselineFastify: {
        concurrent8: load(6000, 20),
        memoryAfterLoadMiB: { rss: 70, anon: 25 },
      },
    },
  },
  sidecar: [sidecar('tsx', 90), sidecar('node dist', 80)],
} as unknown as Report;

describe('bench figures', () => {
  it('the compiled sidecar is the headline when there is one', () => {
    assert.equal(headlineSidecar(report)?.runtime, 'node dist');
  });

  it('what the webhook injects (the bundle under its V8 flags) is the headline when it was measured', () => {
    const withImage = { ...report, sidecar: [...(report.sidecar ?? []), sidecar(IMAGE_SIDECAR, 60)] };
    assert.equal(headlineSidecar(withImage)?.runtime, IMAGE_SIDECAR);
  });

  it('each figure, its baseline and their ratio under stable keys', () => {
    const f = figures(comparisons(report));
    assert.equal(f['webhook.mutate.reqPerSec'], 1500);
    assert.equal(f['baseline.fastify.reqPerSec'], 6000);
    assert.equal(f['ratio.webhook.mutate.reqPerSec'], 0.25);
    assert.equal(f['ratio.webhook.mutate.p99Ms'], 1.5);
    assert.equal(f['sidecar.idle.rssMiB'], 80);
    assert.equal(f['baseline.node.idle.rssMiB'], 40);
    assert.equal(f['ratio.sidecar.idle.rssMiB'], 2);
    assert.equal(f['ratio.sidecar.idle.anonMiB.vsSeedApp'], 1);
    assert.equal(f['sidecar.start.stsCalls'], 3, 'the worst start counts');
    assert.equal(f['needed.sidecar.start.stsCalls'], 2);
    assert.equal(f['ratio.sidecar.start.cpuSeconds'], 3);
  });

  it('goals from issue 10 are judged on the figure or the ratio they name', () => {
    const goals = Object.fromEntries(
      comparisons(report).flatMap((c) => (c.goal ? [[`${c.key} vs ${c.baseline.key}`, c.goal.met]] : [])),
    );
    assert.deepEqual(goals, {
      'webhook.mutate.reqPerSec vs baseline.fastify.reqPerSec': false,
      'webhook.mutate.p99Ms vs baseline.fastify.p99Ms': true,
      'webhook.afterLoad.rssMiB vs baseline.fastify.afterLoad.rssMiB': false,
      'sidecar.idle.rssMiB vs baseline.node.idle.rssMiB': false,
      'sidecar.idle.anonMiB vs baseline.node.idle.anonMiB': true,
      'sidecar.start.stsCalls vs needed.sidecar.start.stsCalls': false,
      'sidecar.start.filesWrittenMs vs baseline.seedApp.start.tokenMs': false,
      'sidecar.start.cpuSeconds vs baseline.seedApp.start.cpuSeconds': false,
    });
  });

  it('the Markdown table prints every figure with its baseline and ratio', () => {
    const text = renderComparisons(report, 'note') ?? '';
    assert.match(
      text,
      /\| webhook POST \/mutate req\/s .* \| 1,500 req\/s \| bare fastify.*: 6,000 req\/s \| 0\.25x \| >= 0\.75x: missed \|/,
    );
    assert.equal(text.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---')).length, 1 + 11);
  });

  it('nothing measured, nothing printed', () => {
    assert.equal(renderComparisons({ errors: [] } as unknown as Report, 'note'), undefined);
    assert.deepEqual(figures(comparisons({ errors: [] } as unknown as Report)), {});
  });
});
