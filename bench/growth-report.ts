/** The growth curves in the printed report and in bench/report.json's flat figures (stable keys). */
import type { GrowthBench } from './growth.ts';

const n = (v: number | undefined, digits = 1) =>
  v !== undefined && Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : '-';

/** `growth.sidecar.10targets.anonMiB`, `growth.webhook.20annotations.p99Ms`, ... */
export function growthFigureKeys(g: GrowthBench | undefined): Record<string, number> {
  if (!g) return {};
  const out: Record<string, number> = {};
  for (const p of g.sidecar.points) {
    const k = `growth.sidecar.${p.targets}targets`;
    out[`${k}.rssMiB`] = p.memoryAfterIdleMiB.rss;
    out[`${k}.anonMiB`] = p.memoryAfterIdleMiB.anon;
    if (p.cpuMsPerRefresh !== undefined) out[`${k}.cpuMsPerRefresh`] = p.cpuMsPerRefresh;
  }
  for (const p of g.webhook) {
    const k = `growth.webhook.${p.annotations}annotations`;
    out[`${k}.p50Ms`] = p.sequential.latencyMs.median;
    out[`${k}.p99Ms`] = p.sequential.latencyMs.p99;
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderGrowth(g: GrowthBench): string[] {
  const s = g.sidecar;
  return [
    `### Growth: sidecar with more targets (${s.runtime}; postgres, mysql, mongo with one shared role, cycling; credentials living ${s.credentialLifetimeSeconds} s so that refreshes happen while measured)`,
    table(
      [
        'targets',
        'spawn → /readyz ms',
        'RSS after idle MiB (anon)',
        'CPU-s in window (s)',
        'credential refreshes',
        'CPU ms per refresh of all targets',
      ],
      s.points.map((p) => [
        String(p.targets),
        String(p.spawnToReadyMs),
        `${n(p.memoryAfterIdleMiB.rss)} (${n(p.memoryAfterIdleMiB.anon)})`,
        `${n(p.cpuSeconds, 2)} (${n(p.cpuWindowSeconds)})`,
        String(p.refreshes),
        n(p.cpuMsPerRefresh, 0),
      ]),
    ),
    '### Growth: webhook `POST /mutate` with more targets (fastify `app.inject`, in process, sequential)',
    table(
      ['rds annotations', 'request bytes', 'patch bytes', 'latency ms p50 / p99', 'requests'],
      g.webhook.map((p) => [
        String(p.annotations),
        String(p.payloadBytes),
        String(p.patchBytes),
        `${n(p.sequential.latencyMs.median, 2)} / ${n(p.sequential.latencyMs.p99, 2)}`,
        `${p.sequential.requests} (+${p.sequential.warmup} warm-up)`,
      ]),
    ),
  ];
}
