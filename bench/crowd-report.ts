/** The crowd of real sidecar processes in the printed report. */
import type { CrowdBench } from './crowd.ts';

const n = (v: number, digits = 1) =>
  Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : '-';

export function renderCrowd(c: CrowdBench): string[] {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const head = ['run', 'all ready', 'per-pod ready p50 / p99', 'STS calls', 'answers'];
  const rows = c.runs.map((r) =>
    line([
      r.throttled ? `throttled above ${c.callsPerSecond} calls/s` : 'no throttling',
      `${n(r.allReadySeconds, 2)} s`,
      `${n(r.perPodReadySeconds.median, 2)} / ${n(r.perPodReadySeconds.p99, 2)} s`,
      n(r.stsCalls, 0),
      Object.entries(r.stsCallsByAnswer)
        .map(([answer, count]) => `${answer} ${count}`)
        .join(', '),
    ]),
  );
  return [
    `### ${c.pods} real sidecar processes started at once (${c.targets} targets each, ${c.runtime}; STS throttling above ${c.callsPerSecond} calls/s against none, alternating)`,
    [line(head), line(head.map(() => '---')), ...rows].join('\n'),
    `Needed: ${n(c.neededCalls, 0)} STS calls (${n(c.neededCalls / c.pods, 0)} per pod: one web identity call and one AssumeRole per role). Medians: throttled ${n(c.throttled.allReadySeconds, 2)} s and ${n(c.throttled.stsCalls, 0)} calls; without throttling ${n(c.unthrottled.allReadySeconds, 2)} s (booting ${c.pods} processes on this machine) and ${n(c.unthrottled.stsCalls, 0)} calls. The best a throttled crowd can do: max(that boot, (needed - burst) / rate = ${n(c.rateBoundSeconds, 2)} s) = ${n(c.idealSeconds, 2)} s. Command: \`${c.command}\`.`,
  ];
}
