/**
 * Every headline figure beside its baseline from the same run, with their ratio and the goal of
 * issue 10, under stable flat keys (`webhook.mutate.reqPerSec`, `baseline.fastify.reqPerSec`,
 * `ratio.webhook.mutate.reqPerSec`, ...) for bench/report.json, and as a Markdown table.
 */
import type { Report } from './markdown.ts';
import { IMAGE_SIDECAR, type SidecarBench } from './sidecar.ts';

export interface Comparison {
  key: string;
  what: string;
  unit: string;
  value: number;
  baseline: { key: string; what: string; value: number };
  /** value / baseline. */
  ratioKey: string;
  ratio: number;
  goal?: { text: string; met: boolean };
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

/**
 * The sidecar measured for the figures: what the webhook injects (the bundle under the injected V8
 * flags) when it was built, else the compiled CLI entry, else the first.
 */
export function headlineSidecar(report: Report): SidecarBench | undefined {
  return (
    report.sidecar?.find((s) => s.runtime === IMAGE_SIDECAR) ??
    report.sidecar?.find((s) => s.runtime === 'node dist') ??
    report.sidecar?.[0]
  );
}

export function comparisons(report: Report): Comparison[] {
  const out: Comparison[] = [];
  const add = (
    key: string,
    what: string,
    unit: string,
    value: number,
    baseline: Comparison['baseline'],
    ratioKey: string,
    goal?: (value: number, ratio: number) => Comparison['goal'],
  ) => {
    const ratio = r3(value / baseline.value);
    out.push({
      key,
      what,
      unit,
      value,
      baseline,
      ratioKey,
      ratio,
      ...(goal ? { goal: goal(value, ratio) } : {}),
    });
  };

  const https = report.webhook?.https;
  if (https) {
    const fastify = https.baselineFastify;
    const via = `HTTPS keep-alive, 8 connections, ${https.runtime}`;
    add(
      'webhook.mutate.reqPerSec',
      `webhook POST /mutate req/s (${via})`,
      'req/s',
      https.concurrent8.throughputPerSecond.median,
      {
        key: 'baseline.fastify.reqPerSec',
        what: 'bare fastify, same certificate and body',
        value: fastify.concurrent8.throughputPerSecond.median,
      },
      'ratio.webhook.mutate.reqPerSec',
      (_v, ratio) => ({ text: '>= 0.75x', met: ratio >= 0.75 }),
    );
    add(
      'webhook.mutate.p99Ms',
      `webhook POST /mutate p99 (${via})`,
      'ms',
      https.concurrent8.latencyMs.p99,
      { key: 'baseline.fastify.p99Ms', what: 'bare fastify', value: fastify.concurrent8.latencyMs.p99 },
      'ratio.webhook.mutate.p99Ms',
      (_v, ratio) => ({ text: '<= 1.5x', met: ratio <= 1.5 }),
    );
    add(
      'webhook.afterLoad.rssMiB',
      'webhook RSS after that load',
      'MiB',
      https.memoryAfterLoadMiB.rss,
      {
        key: 'baseline.fastify.afterLoad.rssMiB',
        what: 'bare fastify',
        value: fastify.memoryAfterLoadMiB.rss,
      },
      'ratio.webhook.afterLoad.rssMiB',
      (value) => ({ text: '<= 80 MiB', met: value <= 80 }),
    );
    add(
      'webhook.afterLoad.anonMiB',
      'webhook anon memory after that load',
      'MiB',
      https.memoryAfterLoadMiB.anon,
      {
        key: 'baseline.fastify.afterLoad.anonMiB',
        what: 'bare fastify',
        value: fastify.memoryAfterLoadMiB.anon,
      },
      'ratio.webhook.afterLoad.anonMiB',
    );
  }

  const s = headlineSidecar(report);
  if (s) {
    const node = s.baselines.bareNode.idleMemoryMiB;
    const seed = s.baselines.seedApp;
    const idle = `${s.idleSeconds} s idle, ${s.targets.length} targets, ${s.runtime}`;
    add(
      'sidecar.idle.rssMiB',
      `sidecar RSS (${idle})`,
      'MiB',
      s.rssAfter5sIdleMiB,
      { key: 'baseline.node.idle.rssMiB', what: 'bare idle node', value: node.rss },
      'ratio.sidecar.idle.rssMiB',
      (value) => ({ text: '<= 52 MiB', met: value <= 52 }),
    );
    add(
      'sidecar.idle.anonMiB',
      `sidecar anon memory (${idle})`,
      'MiB',
      s.rssAnonAfter5sIdleMiB,
      { key: 'baseline.node.idle.anonMiB', what: 'bare idle node', value: node.anon },
      'ratio.sidecar.idle.anonMiB',
      (value) => ({ text: '<= 16 MiB', met: value <= 16 }),
    );
    add(
      'sidecar.idle.rssMiB',
      `sidecar RSS (${idle})`,
      'MiB',
      s.rssAfter5sIdleMiB,
      {
        key: 'baseline.seedApp.idle.rssMiB',
        what: 'app signing its own token',
        value: seed.idleMemoryMiB.rss,
      },
      'ratio.sidecar.idle.rssMiB.vsSeedApp',
    );
    add(
      'sidecar.idle.anonMiB',
      `sidecar anon memory (${idle})`,
      'MiB',
      s.rssAnonAfter5sIdleMiB,
      {
        key: 'baseline.seedApp.idle.anonMiB',
        what: 'app signing its own token',
        value: seed.idleMemoryMiB.anon,
      },
      'ratio.sidecar.idle.anonMiB.vsSeedApp',
    );
    add(
      'sidecar.start.stsCalls',
      `STS calls at start (${s.targets.join(', ')})`,
      'calls',
      Math.max(...s.stsCallsAtStart.perStart),
      { key: 'needed.sidecar.start.stsCalls', what: 'needed', value: s.stsCallsAtStart.needed },
      'ratio.sidecar.start.stsCalls',
      (_v, ratio) => ({ text: 'exactly the needed', met: ratio === 1 }),
    );
    add(
      'sidecar.start.filesWrittenMs',
      `sidecar spawn to all files written (median of ${s.startups})`,
      'ms',
      s.spawnToFilesWrittenMs.median,
      {
        key: 'baseline.seedApp.start.tokenMs',
        what: 'app: spawn to its own token',
        value: seed.spawnToTokenMs.median,
      },
      'ratio.sidecar.start.filesWrittenMs',
      (value) => ({ text: '<= 150 ms', met: value <= 150 }),
    );
    add(
      'sidecar.start.cpuSeconds',
      'sidecar CPU time, spawn to files written + 1 s (median)',
      'CPU-s',
      s.cpuSecondsToFilesWrittenPlus1s.median,
      {
        key: 'baseline.seedApp.start.cpuSeconds',
        what: 'app: spawn to its token + 1 s',
        value: seed.cpuSecondsToTokenPlus1s.median,
      },
      'ratio.sidecar.start.cpuSeconds',
      (value) => ({ text: '<= 0.15 CPU-s', met: value <= 0.15 }),
    );
  }

  const storm = report.storm;
  if (storm) {
    const what = `${storm.pods} pods started at once, STS throttling above ${storm.callsPerSecond} calls/s`;
    add(
      'storm.allReady.seconds',
      `start storm: all pods ready (${what})`,
      's',
      storm.allReadySeconds,
      {
        key: 'ideal.storm.allReady.seconds',
        what: '(needed calls - burst) / rate',
        value: storm.idealSeconds,
      },
      'ratio.storm.allReady.seconds',
    );
    add(
      'storm.stsCalls',
      `start storm: STS calls, throttled ones included (${what})`,
      'calls',
      storm.stsCalls,
      { key: 'needed.storm.stsCalls', what: 'needed', value: storm.neededCalls },
      'ratio.storm.stsCalls',
      (_v, ratio) => ({ text: '<= 1.2x', met: ratio <= 1.2 }),
    );
  }
  const crowd = report.crowd;
  if (crowd) {
    const what = `${crowd.pods} real sidecars started at once, STS throttling above ${crowd.callsPerSecond} calls/s`;
    const ideal = crowd.idealSeconds;
    add(
      'crowd.allReady.seconds',
      `${what}: all ready`,
      's',
      crowd.throttled.allReadySeconds,
      {
        key: 'baseline.crowd.unthrottled.allReady.seconds',
        what: `the same ${crowd.pods} without throttling`,
        value: crowd.unthrottled.allReadySeconds,
      },
      'ratio.crowd.allReady.seconds',
      (value) => ({
        text: `near max(boot, (needed - burst) / rate) = ${ideal.toFixed(1)} s (<= 1.25x)`,
        met: value <= 1.25 * ideal,
      }),
    );
    add(
      'crowd.stsCalls',
      `${what}: STS calls, throttled ones included`,
      'calls',
      crowd.throttled.stsCalls,
      { key: 'needed.crowd.stsCalls', what: 'needed', value: crowd.neededCalls },
      'ratio.crowd.stsCalls',
      (_v, ratio) => ({ text: '<= 1.2x', met: ratio <= 1.2 }),
    );
  }
  const pg = report.pgbench;
  if (pg) {
    const direct = {
      key: 'pgbench.direct.tps',
      what: 'pgbench direct, verified TLS',
      value: pg.direct.tps.median,
    };
    const via = `pgbench -S, ${pg.clients} clients`;
    add(
      'pgbench.proxy.tps',
      `${via}: through the sidecar's PostgreSQL proxy`,
      'tps',
      pg.proxied.tps.median,
      direct,
      'ratio.pgbench.proxy.tps',
      (_v, ratio) => ({ text: '>= 0.9x', met: ratio >= 0.9 }),
    );
    add(
      'pgbench.proxy.p99Ms',
      `${via}: p99 latency through the proxy`,
      'ms',
      pg.proxied.latencyMs.p99,
      { key: 'pgbench.direct.p99Ms', what: 'direct', value: pg.direct.latencyMs.p99 },
      'ratio.pgbench.proxy.p99Ms',
    );
    if (pg.socat) {
      add(
        'pgbench.socat.tps',
        `${via}: through socat, the floor of any relay`,
        'tps',
        pg.socat.side.tps.median,
        direct,
        'ratio.pgbench.socat.tps',
      );
      const socatCpu = pg.socat.side.cpuUsPerTransaction?.relay;
      if (socatCpu !== undefined && socatCpu > 0) {
        add(
          'pgbench.proxy.relayCpuUsPerTransaction',
          `${via}: the sidecar's CPU per proxied transaction (TLS to the database included)`,
          'µs',
          pg.sidecarCpuUsPerTransaction,
          { key: 'pgbench.socat.relayCpuUsPerTransaction', what: "socat's, no TLS", value: socatCpu },
          'ratio.pgbench.proxy.relayCpuUsPerTransaction',
        );
      }
    }
    add(
      'pgbench.proxy.rssMiB.openConnections',
      `sidecar RSS with ${pg.sidecarRssMiB.openConnections} open proxied connections`,
      'MiB',
      pg.sidecarRssMiB.withOpenConnections,
      { key: 'pgbench.proxy.rssMiB.before', what: 'before them', value: pg.sidecarRssMiB.before },
      'ratio.pgbench.proxy.rssMiB.openConnections',
    );
  }
  return out;
}

/** The flat map for report.json: each figure, each baseline, each ratio, once. */
export function figures(list: readonly Comparison[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of list) {
    out[c.key] = c.value;
    out[c.baseline.key] = c.baseline.value;
    out[c.ratioKey] = c.ratio;
  }
  return out;
}

const show = (v: number, unit: string) =>
  `${v.toLocaleString('en-US', { maximumFractionDigits: v < 10 ? 2 : v < 100 ? 1 : 0 })} ${unit}`;

export function renderComparisons(report: Report, machineNote: string): string | undefined {
  const list = comparisons(report);
  if (list.length === 0) return undefined;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const head = ['figure', 'ours', 'baseline (same run)', 'ratio', 'goal'];
  const rows = list.map((c) =>
    line([
      c.what,
      show(c.value, c.unit),
      `${c.baseline.what}: ${show(c.baseline.value, c.unit)}`,
      `${c.ratio.toFixed(2)}x`,
      c.goal ? `${c.goal.text}: ${c.goal.met ? 'met' : 'missed'}` : '-',
    ]),
  );
  return [
    '### Against baselines',
    machineNote,
    [line(head), line(head.map(() => '---')), ...rows].join('\n'),
  ].join('\n\n');
}
