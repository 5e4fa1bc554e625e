/** The start storm in the printed report and in bench/report.json's flat figures (stable keys). */
import type { StormBench } from './storm.ts';

const n = (v: number, digits = 1) =>
  Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : '-';

/** Flat keys beside the comparisons (figures.ts): `storm.perPod.p99Seconds`, ... */
export function stormFigureKeys(s: StormBench | undefined): Record<string, number> {
  if (!s) return {};
  return {
    'storm.pods': s.pods,
    'storm.podsReady': s.podsReady,
    'storm.callsPerSecond': s.callsPerSecond,
    'storm.throttled': s.throttled,
    'storm.eventLoopDelay.p99Ms': s.eventLoopDelayMs.p99,
    'storm.stsCallsFloorAtOnce': s.callsFloorAtOnce,
    'storm.perPod.p50Seconds': s.perPodReadySeconds.median,
    'storm.perPod.p99Seconds': s.perPodReadySeconds.p99,
    'storm.worstPod.seconds': s.worstPod?.readySeconds ?? Number.NaN,
    'storm.worstPod.stsCalls': s.worstPod?.stsCalls ?? Number.NaN,
  };
}

export function renderStorm(s: StormBench): string[] {
  const w = s.worstPod;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const rows = [
    [
      'all pods ready',
      `${n(s.allReadySeconds)} s`,
      `${n(s.idealSeconds)} s: (needed - burst) / rate`,
      `${n(s.timeVsIdeal, 2)}x`,
    ],
    [
      'STS calls (every one STS saw)',
      n(s.stsCalls, 0),
      `${n(s.neededCalls, 0)} needed`,
      `${n(s.callsVsNeeded, 2)}x (goal <= 1.2x)`,
    ],
    [
      'floor for pods calling at the same instant',
      n(s.callsFloorAtOnce, 0),
      'needed + (pods - burst)',
      `${n(s.callsFloorAtOnce / s.neededCalls, 2)}x`,
    ],
    ['throttled answers', n(s.throttled, 0), '-', '-'],
    [
      'per-pod ready p50 / p99',
      `${n(s.perPodReadySeconds.median, 2)} / ${n(s.perPodReadySeconds.p99, 2)} s`,
      '-',
      '-',
    ],
    [
      'worst pod',
      w ? `${n(w.readySeconds, 2)} s, ${w.stsCalls} calls (${w.throttled} throttled)` : '-',
      '-',
      '-',
    ],
  ];
  return [
    `### Start storm (${s.pods} pods at once, ${s.targets.join(', ')} each; STS throttling above ${s.callsPerSecond} calls/s, burst ${s.burst})`,
    'Every pod a real `startSidecar` in one process (own refreshers, backoff with jitter, SDK clients, caches and files on tmpfs), all released together; readiness polled every 20 ms.',
    [
      line(['figure', 'measured', 'ideal', 'ratio']),
      line(['---', '---', '---', '---']),
      ...rows.map(line),
    ].join('\n'),
    `Calls by action and answer: ${Object.entries(s.callsByActionOutcome)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. Pods by calls made: ${Object.entries(s.podsByCallCount)
      .map(([k, v]) => `${v} made ${k}`)
      .join(
        ', ',
      )}. Building the pods took ${n(s.buildSeconds, 2)} s before the start (not counted); the one process used ${n(s.processCpuSeconds, 2)} CPU-s during the storm (event-loop delay p99 ${n(s.eventLoopDelayMs.p99, 0)} ms, max ${n(s.eventLoopDelayMs.max, 0)} ms: high values mean the pods were starved of CPU) and ended at ${n(s.processRssMiB, 0)} MiB RSS.`,
  ];
}
