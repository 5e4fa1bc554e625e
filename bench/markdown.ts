/** Renders bench/report.json as the Markdown summary (printed, and written to docs/bench.md on request). */
import type { BuildResult } from './build.ts';
import { renderComparisons } from './figures.ts';
import type { InjectCliCase } from './inject-cli.ts';
import type { LoadResult } from './load.ts';
import type { Machine } from './machine.ts';
import type { MutateCase } from './mutate.ts';
import type { PgbenchBench, PgbenchSide } from './pgbench.ts';
import type { SidecarBench } from './sidecar.ts';
import type { GrowthBench } from './growth.ts';
import { renderGrowth } from './growth-report.ts';
import type { StormBench } from './storm.ts';
import { renderStorm } from './storm-report.ts';
import type { CrowdBench } from './crowd.ts';
import { renderCrowd } from './crowd-report.ts';
import type { Summary } from './stats.ts';
import type { WebhookBench } from './webhook.ts';
import { REMAINING_COST } from './remaining-cost.ts';

export interface Report {
  command: string;
  machine: Machine;
  totalSeconds: number;
  /** `--quick`: a smoke run whose figures mean little. */
  quick?: boolean;
  /** Each headline figure, its baseline and their ratio under stable keys (figures.ts). */
  figures?: Record<string, number>;
  build?: BuildResult;
  mutate?: MutateCase[];
  webhook?: WebhookBench;
  injectCli?: InjectCliCase[];
  sidecar?: SidecarBench[];
  pgbench?: PgbenchBench;
  storm?: StormBench;
  crowd?: CrowdBench;
  growth?: GrowthBench;
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
  const against = renderComparisons(
    report,
    report.quick
      ? '`--quick`: one start, a short idle, few requests. This run proves the bench works; its figures mean little.'
      : 'Each baseline ran in the same run, with the same load tool, in interleaved rounds. Absolute figures move with the load on the machine (above); the ratios move less.',
  );
  if (against) out.push(against);
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
        loadRow('baseline: bare fastify HTTPS, sequential', w.https.baselineFastify.sequential),
        loadRow('baseline: bare fastify HTTPS, concurrent', w.https.baselineFastify.concurrent8),
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
      `### Sidecar process (${report.sidecar[0]?.targets.join(', ') ?? ''}; IRSA against the local STS emulator)`,
    );
    out.push(
      table(
        [
          'runtime',
          'spawn → first token file ms median / p95',
          'spawn → all files ms median / p95',
          'CPU-s to all files + 1 s median',
          'STS calls at start (needed)',
          'spawn → /readyz ms median / p95',
          'RSS after idle MiB (anon)',
          'idle CPU',
          'RSS after API load MiB',
          'SIGTERM → exit ms',
        ],
        report.sidecar.map((s) => [
          s.runtime,
          `${ms(s.spawnToFirstTokenMs)} (${s.startups} starts)`,
          ms(s.spawnToFilesWrittenMs),
          num(s.cpuSecondsToFilesWrittenPlus1s.median, 2),
          `${s.stsCallsAtStart.perStart.join(', ')} (${s.stsCallsAtStart.needed})`,
          ms(s.spawnToReadyMs),
          `${num(s.rssAfter5sIdleMiB, 1)} (${num(s.rssAnonAfter5sIdleMiB, 1)})`,
          s.idleCpuCores === 0 ? '< 1 millicore' : `${num(s.idleCpuCores * 1000, 1)} millicores`,
          num(s.rssAfterApiLoadMiB, 1),
          String(s.sigtermToExitMs),
        ]),
      ),
    );
    out.push(
      'Baselines, started in the same rounds (order rotating): a bare idle `node`, and an app signing its own RDS token with the AWS SDK:',
    );
    out.push(
      table(
        [
          'process',
          'spawn → token ms median / p95',
          'CPU-s to token + 1 s median',
          'RSS after idle MiB (anon)',
        ],
        report.sidecar.flatMap((s) => [
          [
            `bare node (beside ${s.runtime})`,
            '-',
            '-',
            `${num(s.baselines.bareNode.idleMemoryMiB.rss, 1)} (${num(s.baselines.bareNode.idleMemoryMiB.anon, 1)})`,
          ],
          [
            `app with @aws-sdk/rds-signer (beside ${s.runtime})`,
            ms(s.baselines.seedApp.spawnToTokenMs),
            num(s.baselines.seedApp.cpuSecondsToTokenPlus1s.median, 2),
            `${num(s.baselines.seedApp.idleMemoryMiB.rss, 1)} (${num(s.baselines.seedApp.idleMemoryMiB.anon, 1)})`,
          ],
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
  if (report.pgbench) {
    const p = report.pgbench;
    out.push(
      `### pgbench select-only: direct vs through the sidecar's PostgreSQL proxy (${p.clients} clients, ${p.threads} threads, ${p.rounds} interleaved rounds of ${p.secondsPerRound} s each; sidecar: ${p.sidecarRuntime})`,
    );
    out.push(table(PGBENCH_COLUMNS, pgbenchRows(p)));
    out.push(
      `Throughput through the proxy: ${num(p.throughputRatio, 2)}x direct; added p99 latency ${fixed(p.addedP99Ms)} ms; ` +
        `the sidecar used ${fixed(p.sidecarCpuUsPerTransaction)} µs of CPU per proxied transaction. ` +
        (p.socat
          ? `The floor, socat in the same rounds: ${num(p.socat.throughputRatio, 2)}x direct, added p99 latency ${fixed(p.socat.addedP99Ms)} ms. `
          : '') +
        `Sidecar RSS ${num(p.sidecarRssMiB.before, 1)} MiB before, ${num(p.sidecarRssMiB.withOpenConnections, 1)} MiB with ${p.sidecarRssMiB.openConnections} open proxied connections. ` +
        `${p.pgbench}; ${p.server}.`,
    );
    for (const alt of p.alternatives ?? []) {
      out.push(
        `With the sidecar as ${alt.sidecarRuntime}, same rounds: ${num(alt.throughputRatio, 2)}x direct; added p99 latency ${fixed(alt.addedP99Ms)} ms; ` +
          `${fixed(alt.sidecarCpuUsPerTransaction)} µs of sidecar CPU per proxied transaction.`,
      );
    }
  }
  if (report.storm) out.push(...renderStorm(report.storm));
  if (report.crowd) out.push(...renderCrowd(report.crowd));
  if (report.growth) out.push(...renderGrowth(report.growth));
  if (report.errors.length > 0) {
    out.push('### Not measured');
    out.push(report.errors.map((e) => `- ${e}`).join('\n'));
  }
  return `${out.join('\n\n')}\n`;
}

const PGBENCH_COLUMNS = [
  'path',
  'tps median (slowest round)',
  'x direct',
  'latency ms median / p99',
  'CPU µs per transaction: pgbench / postgres / relay = total',
  'transactions logged',
];

/** Every pgbench route with its ratio to the direct run of the same rounds. */
export function pgbenchRows(p: PgbenchBench): string[][] {
  const row = (label: string, s: PgbenchSide, base: PgbenchSide): string[] => {
    const cpu = s.cpuUsPerTransaction;
    return [
      label,
      `${num(s.tps.median)} (${num(s.tps.min)})`,
      `${num(s.tps.median / base.tps.median, 2)}x`,
      `${fixed(s.latencyMs.median)} / ${fixed(s.latencyMs.p99)}`,
      cpu
        ? `${num(cpu.pgbench, 0)} / ${num(cpu.postgres, 0)} / ${num(cpu.relay, 0)} = ${num(cpu.total, 0)}`
        : '-',
      num(s.latencyMs.transactions),
    ];
  };
  const d = p.direct;
  return [
    row('direct: verified TLS, RDS token as password', d, d),
    ...(p.socat ? [row('floor: socat relay, the same TLS end to end', p.socat.side, d)] : []),
    row('proxy: 127.0.0.1, no password, no token code', p.proxied, d),
    ...(p.alternatives ?? []).map((alt) => row(`proxy, sidecar: ${alt.sidecarRuntime}`, alt.proxied, d)),
  ];
}

/** docs/bench.md: how the numbers are made, then the numbers of the latest run. */
export function renderDoc(report: Report): string {
  return `# Benchmarks

Measurements, not tests: nothing here passes or fails. \`npm run bench\` runs everything on 127.0.0.1 with
bounded request counts (about six minutes on an idle 2-CPU machine), writes \`bench/report.json\` (git-ignored) and prints
this summary; \`npm run bench -- --doc docs/bench.md\` rewrites this page from the run (numbers are never
edited by hand; \`--rerender docs/bench.md\` writes it again from the last report after a prose edit).
\`--only build,mutate,webhook,inject,sidecar,pgbench,storm,crowd,growth\` runs a subset.

- **mutatePod**: the webhook's pure core on the two examples' pod templates (with their ServiceAccount)
  and on a pod with three targets; warm-up, then 7 rounds of 1000 calls, each call timed.
- **Webhook \`/mutate\`**: the documented AdmissionReview through fastify \`app.inject\` (in process, no
  sockets), and over HTTPS with keep-alive against \`token-broker webhook\` as its own process with a
  certificate from \`certs/generate.sh\`; sequential and 8 in flight, warm-up then 5 rounds.
- **Baselines** (same run, same load tool, interleaved rounds): bare fastify over HTTPS with the same
  certificate and body answering the webhook's own answer (\`bench/baseline/bare-fastify.ts\`, the
  webhook's floor); a bare idle \`node\` (the sidecar's floor); and an app that loads
  \`@aws-sdk/rds-signer\` and the credential providers and signs a token itself against the STS emulator
  (\`bench/baseline/seed-app.ts\`, what an app carries without the sidecar). Baseline processes run as
  plain JavaScript transpiled into \`.tmp/bench/\`, with no TypeScript loader. RSS counts the node
  binary's file-backed pages, shared by every container of one image layer; anon (\`RssAnon\`) is what
  each process adds. \`bench/report.json\` holds every figure, baseline and ratio under stable keys in
  \`figures\` (for example \`webhook.mutate.reqPerSec\`, \`baseline.fastify.reqPerSec\`,
  \`ratio.webhook.mutate.reqPerSec\`). \`--quick\` (one start, a short idle, few requests; no build
  unless asked with \`--only\`) proves the bench runs and writes \`bench/report.quick.json\` instead.
- **Offline inject**: \`token-broker inject -f <example>\` as a new process per run (cold start).
- **Sidecar**: \`token-broker sidecar\` as a process against the local STS emulator with three targets
  (PostgreSQL and MySQL with the pod's IRSA identity, MongoDB with AssumeRole on top): spawn to first
  token file, to every target file written (and CPU time, user + sys, at that point + 1 s), the STS
  calls of each start against the two needed, and to \`/readyz\`,
  RSS (\`/proc/<pid>/status\`) after 5 s idle, CPU (\`/proc/<pid>/stat\`, 10 ms clock ticks, so 1 millicore resolution) over 10 s idle, then
  \`GET /v1/token/<name>\` with keep-alive, then SIGTERM to exit. For the tsx entry
  (\`node --import tsx cli/main.ts\`), the compiled one (\`node dist/cli/main.js\`, built by the bench
  with \`npx tsc -p tsconfig.build.json\`) and the image command, what the webhook injects: the one-file
  bundle \`dist/sidecar.cjs\` (\`npm run build:bundle\`, which the bench runs after tsc) under the
  injected V8 flags (\`webhook/src/injection/sidecar-container.ts\`); the figures use the image command.
- **pgbench**: \`pgbench -S\` (select-only, scale 1, 8 clients) against a real PostgreSQL with TLS whose
  logins go through the RDS-like IAM check of the e2e tests: direct (verified TLS, a fresh RDS token as
  \`PGPASSWORD\`) and through the sidecar's loopback proxy (no password), in alternating interleaved
  rounds of the same run; latency from pgbench's transaction log (a quarter of the transactions
  sampled) and the sidecar's CPU time per proxied transaction (\`/proc/<pid>/stat\`); then the sidecar's
  RSS with 100 open proxied connections. The sidecar runs as the webhook injects it for a pod with a
  proxied target: the bundle \`dist/sidecar.cjs\` under that command's V8 flags, without
  \`--lite-mode\` (\`webhook/src/injection/sidecar-container.ts\`); a second sidecar, the bundle in lite mode
  (the command of pods without a proxied target), takes its turn in the same rounds for comparison.
  Without a built bundle, the CLI entry alone. The floor takes its turn too: pgbench with its own TLS
  and token through \`socat\` (\`bench/socat-relay.ts\`), a C relay forking per connection with no
  protocol logic: what any extra hop costs on this machine. CPU per transaction of each party from
  \`/proc/<pid>/stat\` (the postmaster's reaped backends, socat's reaped forks, pgbench as the bench's
  reaped child, the sidecar's own). Every row's ratio is to the direct run of the same rounds.
  \`--quick\` runs 2 rounds of 2 s.
- **Start storm** (\`bench/storm.ts\`): 1000 pods started at once (a rollout, a node drain), each with
  the bench sidecar's three targets, against the STS emulator throttling above 100 calls/s (a token
  bucket with one second of burst, answering 400 \`Throttling\` as STS does). Each pod is a real
  \`startSidecar\` with its own refreshers, backoff with real jitter, base-identity and role caches, AWS
  SDK clients and files (on tmpfs, like the pod's in-memory volume); all are built first and released
  together. Every call STS sees counts, whoever retried it. Against the ideal: the needed calls (one
  web identity and one AssumeRole per pod) and the time they take at the rate, (needed - burst) / rate.
  What it leaves out: the pods share one process and event loop (their CPU work is serialised, not
  spread over nodes; on a loaded machine the event-loop delay printed with it shows how starved they
  were), each pod's process start-up is not paid, and STS is on loopback. With every pod calling at
  the same instant, the first wave alone is throttled for all but the burst: no backoff can make
  fewer than needed + (pods - burst) calls (1.45x for 1000 pods at 100 calls/s), so the goal of
  1.2x holds only when pods arrive spread out (as real rollouts mostly do). After a throttled answer a
  sidecar's retries are full-jitter from an 8 s base (20 s cap while it has nothing to serve), one per
  credential for all its targets; a pod cannot know how many others wait with it, so the calls above
  the floor are the retries that land while the retry windows are still too short for the crowd.
  \`--quick\`: 20 pods at 20 calls/s.
- **Crowd** (\`bench/crowd.ts\`): 30 real sidecar processes of the image command started at once (what a
  node drain does to one node), each with the three targets, its own IRSA token, directory and ports,
  against one STS emulator: throttling above 10 calls/s (burst 10), and not throttling at all, in
  alternating order, 3 rounds each (medians). A pod is ready when every target file exists and \`/readyz\`
  answers 200. Unlike the storm, every pod pays its own process start on this machine's two CPUs: the
  unthrottled run is the boot floor, and the best a throttled crowd can do is max(that floor,
  (needed - burst) / rate). \`--quick\`: 4 pods at 4 calls/s, one round.
- **Growth** (\`bench/growth*.ts\`): real sidecar processes running the image command (the bundle
  \`dist/sidecar.cjs\` under the injected command's V8 flags, as the sidecar section's "image command";
  the CLI entry when no bundle was built) with 1, 10 and 50 targets side by side (postgres, mysql, mongo with one shared role, cycling), each against an
  emulator issuing 8 s credentials so refreshes happen while measured: RSS and anon after 5 s, then
  CPU over 20 s divided by the credential refreshes in it. The webhook's \`POST /mutate\` in process
  (\`app.inject\`) with 1 and 20 \`rds-\` annotations. \`--quick\`: 1 and 10 targets, short windows.

Percentiles are nearest rank: where there are only a few samples (process starts: 5 to 7), the p95 is
the slowest run. Client and servers share the same CPUs, so on a small machine the load generator's own cost is part
of every HTTP number.

## Latest run

${renderMarkdown(report)}
${REMAINING_COST}`;
}
