/** The growth curves' inputs and their stable keys in bench/report.json (bench/growth*.ts). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { growthFigureKeys } from '../../bench/growth-report.ts';
import { growthSidecarArgv, growthTargets } from '../../bench/growth-sidecar.ts';
import { imageSidecarEntry } from '../../bench/sidecar.ts';
import { SIDECAR_COMMAND } from '../../webhook/src/injection/sidecar-container.ts';
import { reviewWithTargets } from '../../bench/growth-webhook.ts';
import type { GrowthBench } from '../../bench/growth.ts';
import { parseSidecarConfig, serializeSidecarConfig } from '../../contract/sidecar-config.ts';
import { sidecarConfig } from '../fakes/sidecar-config.ts';

describe('growthTargets', () => {
  it('cycles postgres, mysql and mongo with one shared role, as a valid config', () => {
    const targets = growthTargets(50);
    assert.equal(targets.length, 50);
    assert.deepEqual(
      targets.slice(0, 4).map((t) => (t.kind === 'mongo' ? 'mongo' : t.engine)),
      ['postgres', 'mysql', 'mongo', 'postgres'],
    );
    const roles = new Set(targets.flatMap((t) => (t.roleArn ? [t.roleArn] : [])));
    assert.equal(roles.size, 1, 'one AssumeRole per lifetime however many targets');
    assert.doesNotThrow(() =>
      parseSidecarConfig(serializeSidecarConfig(sidecarConfig({ directory: '/tmp/x', targets }))),
    );
  });
});

describe('growthSidecarArgv', () => {
  it('runs the image command as the webhook injects it: its V8 flags and the bundle, no CLI verb', () => {
    const argv = growthSidecarArgv(imageSidecarEntry('/tmp/dist/sidecar.cjs'));
    assert.deepEqual(argv, [...SIDECAR_COMMAND.slice(1, -1), '/tmp/dist/sidecar.cjs']);
    assert.ok(!argv.includes('sidecar'));
  });
  it('without a bundle, the CLI entry with its `sidecar` verb', () => {
    assert.deepEqual(growthSidecarArgv({ label: 'node dist', args: ['dist/cli/main.js'] }), [
      'dist/cli/main.js',
      'sidecar',
    ]);
  });
});

describe('reviewWithTargets', () => {
  it('adds rds annotations to the example until it names `count` targets', async () => {
    const example = await readFile(new URL('../../examples/admission-review.json', import.meta.url), 'utf8');
    const review = JSON.parse(reviewWithTargets(example, 20)) as {
      request: { object: { metadata: { annotations: Record<string, string> } } };
    };
    const keys = Object.keys(review.request.object.metadata.annotations);
    assert.equal(keys.filter((k) => k.startsWith('token-broker.io/rds-')).length, 20);
    assert.equal(
      reviewWithTargets(example, 1),
      JSON.stringify(JSON.parse(example)),
      'one: the example as it is',
    );
  });
});

describe('growthFigureKeys', () => {
  it('names each point by its size, under stable keys', () => {
    const latency = { n: 1, median: 0.5, p95: 1, p99: 2, min: 0.4, max: 2 };
    const growth = {
      sidecar: {
        runtime: 'node dist',
        credentialLifetimeSeconds: 8,
        points: [
          {
            targets: 10,
            spawnToReadyMs: 500,
            memoryAfterIdleMiB: { rss: 80, anon: 30 },
            cpuWindowSeconds: 20,
            cpuSeconds: 0.2,
            refreshes: 4,
            cpuMsPerRefresh: 50,
            stsCallsInWindow: 8,
          },
        ],
      },
      webhook: [
        {
          annotations: 20,
          payloadBytes: 1,
          patchBytes: 1,
          sequential: {
            concurrency: 1,
            requests: 1,
            warmup: 0,
            rounds: 1,
            errors: 0,
            latencyMs: latency,
            throughputPerSecond: latency,
          },
        },
      ],
    } as GrowthBench;
    assert.deepEqual(growthFigureKeys(growth), {
      'growth.sidecar.10targets.rssMiB': 80,
      'growth.sidecar.10targets.anonMiB': 30,
      'growth.sidecar.10targets.cpuMsPerRefresh': 50,
      'growth.webhook.20annotations.p50Ms': 0.5,
      'growth.webhook.20annotations.p99Ms': 2,
    });
    assert.deepEqual(growthFigureKeys(undefined), {});
  });
});
