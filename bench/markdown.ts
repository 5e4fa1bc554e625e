/** Renders bench/report.json as the Markdown summary (printed, and written to docs/bench.md on request). */
import type { BuildResult } from './build.ts';
import type { InjectCliCase } from './inject-cli.ts';
import type { LoadResult } from './load.ts';
import type { Machine } from './machine.ts';
import type { MutateCase } from './mutate.ts';
import type { SidecarBench } from './sidecar.ts';
import type { Summary } from './stats.ts';
import type { WebhookBench } from './webhook.ts';

export interface Report {
  command: string;
  machine: Machine;
  totalSeconds: number;
  build?: BuildResult;
  mutate?: MutateCase[];
  webhook?: WebhookBench;
  injectCli?: InjectCliCase[];
  sidecar?: SidecarBench[];
  errors: string[];
}

const num = (v: number, digits = 0): string =>
  Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';
const fixed = (v: number): string => num(v, v < 10 ? 2 : v < 100 ? 1 : 0);
const ms = (s: Summary): string => `${fixed(s.median)} / ${fixed(s.p95)}`;

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function loadRow(label: string, r: LoadResult): string[] {
  return [
    label,
    String(r.concurrency),
    `${r.requests} (+${r.warmup} warm-up)`,
    ms(r.latencyMs),
    `${num(r.throughputPerSecond.median)} (${num(r.throughputPerSecond.min)})`,
    String(r.errors),
  ];
}

const LOAD_HEAD = [
  'path',
  'concurrency',
  'requests',
  'latency ms median / p95',
  'req/s median (slowest round)',
  'errors',
];

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(
    `Measured ${m.date.slice(0, 10)} on ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, commit ${m.commit}. ` +
      `1-minute load average ${num(m.loadAverage.start, 2)} at the start, ${m.loadAverage.end === undefined ? '-' : num(m.loadAverage.end, 2)} at the end. ` +
      `Command: \`${report.command}\` (${num(report.totalSeconds)} s in all). Medians and p95 (nearest rank) over every measured ` +
      'sample after warm-up; throughput is one sample per round (median, and the slowest round).',
  );
  if (report.build) {
    const b = report.build;
    out.push(
      `Build: \`${b.command}\` took ${num(b.wallMs / 1000, 1)} s, exit ${String(b.exitCode)}${b.entry ? '; the compiled entry dist/cli/main.js is measured next to tsx' : '; no compiled entry, tsx only'}.`,
    );
  }
  if (report.mutate) {
    out.push('### `mutatePod` (pure core, in process)');
    out.push(
      table(
        ['pod', 'targets', 'patch ops', 'calls', 'pods/s median (slowest round)', 'µs/pod median / p95'],
        report.mutate.map((c) => [
          c.name,
          String(c.targets),
          String(c.patchOperations),
          `${c.calls} (${c.rounds} rounds, +${c.warmup} warm-up)`,
          `${num(c.podsPerSecond.median)} (${num(c.podsPerSecond.min)})`,
          ms(c.latencyUs),
        ]),
      ),
    );
  }
  if (report.webhook) {
    const w = report.webhook;
    out.push(
      `### Webhook \`POST /mutate\` (examples/admission-review.json, ${w.payloadBytes} bytes; log level info, lines discarded)`,
    );
    out.push(
      table(LOAD_HEAD, [
        loadRow('fastify `app.inject`, sequential', w.inject.sequential),
        loadRow('fastify `app.inject`, concurrent', w.inject.concurrent8),
        loadRow(`HTTPS keep-alive (${w.https.runtime} process), sequential`, w.https.sequential),
        loadRow(`HTTPS keep-alive (${w.https.runtime} process), concurrent`, w.https.concurrent8),
      ]),
    );
  }
  if (report.injectCli) {
    out.push('### Offline `token-broker inject -f <example>` (new process each run: cold start to exit)');
    out.push(
      table(
        ['runtime', 'example', 'runs', 'wall ms median / p95'],
        report.injectCli.map((c) => [c.runtime, c.example, `${c.runs} (+${c.warmup} warm-up)`, ms(c.wallMs)]),
      ),
    );
  }
  if (report.sidecar) {
    out.push(
      '### Sidecar process (1 RDS target via IRSA, 1 Mongo target with AssumeRole; local STS emulator)',
    );
    out.push(
      table(
        [
          'runtime',
          'spawn → first token file ms median / p95',
          'spawn → /readyz ms median / p95',
          'RSS after 5 s idle MiB (anon)',
          'idle CPU over 10 s',
          'RSS after API load MiB',
          'SIGTERM → exit ms',
        ],
        report.sidecar.map((s) => [
          s.runtime,
          `${ms(s.spawnToFirstTokenMs)} (${s.startups} starts)`,
          ms(s.spawnToReadyMs),
          `${num(s.rssAfter5sIdleMiB, 1)} (${num(s.rssAnonAfter5sIdleMiB, 1)})`,
          s.idleCpuCores === 0 ? '< 1 millicore' : `${num(s.idleCpuCores * 1000, 1)} millicores`,
          num(s.rssAfterApiLoadMiB, 1),
          String(s.sigtermToExitMs),
        ]),
      ),
    );
    out.push('`GET /v1/token/<name>` on 127.0.0.1, keep-alive, with the auth token:');
    out.push(
      table(
        LOAD_HEAD,
        report.sidecar.flatMap((s) => [
          loadRow(`${s.runtime}, sequential`, s.tokenApi.sequential),
          loadRow(`${s.runtime}, concurrent`, s.tokenApi.concurrent8),
        ]),
      ),
    );
  }
  if (report.errors.length > 0) {
    out.push('### Not measured');
    out.push(report.errors.map((e) => `- ${e}`).join('\n'));
  }
  return `${out.join('\n\n')}\n`;
}

/** docs/bench.md: how the numbers are made, then the numbers of the latest run. */
export function renderDoc(report: Report): string {
  return `# Benchmarks

Measurements, not tests: nothing here passes or fails. \`npm run bench\` runs everything on 127.0.0.1 with
bounded request counts (about a minute on an idle 2-CPU machine), writes \`bench/report.json\` (git-ignored) and prints
this summary; \`npm run bench -- --doc docs/bench.md\` rewrites this page from the run (numbers are never
edited by hand). \`--only build,mutate,webhook,inject,sidecar\` runs a subset.

- **mutatePod**: the webhook's pure core on the two examples' pod templates (with their ServiceAccount)
  and on a pod with three targets; warm-up, then 7 rounds of 1000 calls, each call timed.
- **Webhook \`/mutate\`**: the documented AdmissionReview through fastify \`app.inject\` (in process, no
  sockets), and over HTTPS with keep-alive against \`token-broker webhook\` as its own process with a
  certificate from \`certs/generate.sh\`; sequential and 8 in flight, warm-up then 5 rounds.
- **Offline inject**: \`token-broker inject -f <example>\` as a new process per run (cold start).
- **Sidecar**: \`token-broker sidecar\` as a process against the local STS emulator (IRSA web identity
  for the RDS target, AssumeRole for the Mongo target): spawn to first token file and to \`/readyz\`,
  RSS (\`/proc/<pid>/status\`) after 5 s idle, CPU (\`/proc/<pid>/stat\`, 10 ms clock ticks, so 1 millicore resolution) over 10 s idle, then
  \`GET /v1/token/<name>\` with keep-alive, then SIGTERM to exit. Both for the tsx entry
  (\`node --import tsx cli/main.ts\`) and the compiled one (\`node dist/cli/main.js\`, built by the bench
  with \`npx tsc -p tsconfig.build.json\`).

Percentiles are nearest rank: where there are only a few samples (process starts: 5 to 7), the p95 is
the slowest run. Client and servers share the same CPUs, so on a small machine the load generator's own cost is part
of every HTTP number.

## Latest run

${renderMarkdown(report)}`;
}
