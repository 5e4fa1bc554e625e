/**
 * `npm run bench [-- --only <sections>] [--doc docs/bench.md] [--quick]`: measures, never judges. Writes
 * bench/report.json and prints a Markdown summary. Sections: build, mutate, webhook, inject, sidecar,
 * pgbench, storm (a start storm against throttling STS), crowd (real sidecar processes started at
 * once, throttled and not), growth (cost against the number of targets). `--quick` shortens the
 * sections that take a duration (pgbench, storm, crowd, growth) for a smoke run. `--rerender
 * docs/bench.md` writes the doc again from bench/report.json after a prose edit, measuring nothing.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { fileURLToPath } from 'node:url';
import { buildDist } from './build.ts';
import { benchInjectCli } from './inject-cli.ts';
import { describeMachine, loadAverage1m } from './machine.ts';
import { renderDoc, renderMarkdown, type Report } from './markdown.ts';
import { benchMutate } from './mutate.ts';
import { benchPgbench } from './pgbench.ts';
import { comparisons, figures } from './figures.ts';
import { benchSidecar, FULL, imageSidecarEntry, QUICK, type SidecarEntry } from './sidecar.ts';
import { benchGrowth } from './growth.ts';
import { growthFigureKeys } from './growth-report.ts';
import { benchStorm, STORM_FULL, STORM_QUICK } from './storm.ts';
import { benchCrowd, CROWD_FULL, CROWD_QUICK } from './crowd.ts';
import { stormFigureKeys } from './storm-report.ts';
import { msSince } from './stats.ts';
import { benchWebhook } from './webhook.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECTIONS = [
  'build',
  'mutate',
  'webhook',
  'inject',
  'sidecar',
  'pgbench',
  'storm',
  'crowd',
  'growth',
] as const;
type Section = (typeof SECTIONS)[number];
const USAGE = `usage: npm run bench [-- --only ${SECTIONS.join(',')}] [--doc docs/bench.md] [--quick] | [-- --rerender docs/bench.md]`;

function parseArgs(argv: readonly string[]): {
  only: Set<Section>;
  doc?: string;
  quick: boolean;
  rerender?: string;
} {
  let only = new Set<Section>(SECTIONS);
  let doc: string | undefined;
  let quick = false;
  let rerender: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--only') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (names.length === 0 || bad.length > 0) {
        throw new Error(
          `--only: "${bad.join(',') || '(empty)'}" is not a section; use ${SECTIONS.join(', ')}`,
        );
      }
      only = new Set(names as Section[]);
    } else if (arg === '--doc') {
      doc = argv[++i];
      if (!doc) throw new Error(`--doc needs a path; ${USAGE}`);
    } else if (arg === '--quick') {
      quick = true;
    } else if (arg === '--rerender') {
      rerender = argv[++i];
      if (!rerender) throw new Error(`--rerender needs a path; ${USAGE}`);
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument "${arg}"; ${USAGE}`);
    }
  }
  if (rerender && argv.length > 2)
    throw new Error(`--rerender measures nothing and takes no other flag; ${USAGE}`);
  return { only, quick, ...(doc ? { doc } : {}), ...(rerender ? { rerender } : {}) };
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** The sections a report lacks: a partial run (`--only`) must not become the doc. */
function missingSections(report: Report): Section[] {
  const present: Record<Section, unknown> = {
    build: report.build,
    mutate: report.mutate,
    webhook: report.webhook,
    inject: report.injectCli,
    sidecar: report.sidecar,
    pgbench: report.pgbench,
    storm: report.storm,
    crowd: report.crowd,
    growth: report.growth,
  };
  return SECTIONS.filter((s) => present[s] === undefined);
}

/** Formatted like the rest of the repository, so `npm run lint` (prettier --check) stays clean. */
async function writeDoc(doc: string, report: Report): Promise<void> {
  const path = resolve(doc);
  const options = (await resolveConfig(path)) ?? {};
  await writeFile(path, await format(renderDoc(report), { ...options, filepath: path }));
  log(`wrote ${doc}`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.rerender) {
    // The doc's prose changed, not the figures: render the last full run again, measuring nothing.
    const last = JSON.parse(await readFile(new URL('./report.json', import.meta.url), 'utf8')) as Report;
    const missing = missingSections(last);
    if (missing.length > 0) {
      throw new Error(
        `--rerender: bench/report.json is from a partial run (no ${missing.join(', ')}); run npm run bench -- --doc ${args.rerender}`,
      );
    }
    await writeDoc(args.rerender, last);
    return 0;
  }
  const started = process.hrtime.bigint();
  const argv = process.argv.slice(2);
  const report: Report = {
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    machine: describeMachine(ROOT),
    totalSeconds: 0,
    errors: [],
  };
  const section = async <T>(name: Section, run: () => Promise<T>): Promise<T | undefined> => {
    if (!args.only.has(name)) return undefined;
    const t0 = process.hrtime.bigint();
    log(`${name}...`);
    try {
      const result = await run();
      log(`${name} done in ${(msSince(t0) / 1000).toFixed(1)} s`);
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${name} failed: ${message}`);
      report.errors.push(`${name}: ${message}`);
      return undefined;
    }
  };

  const tsx = { label: 'tsx', args: ['--import', 'tsx', 'cli/main.ts'] };
  report.quick = args.quick;
  // A smoke run uses the tsx entry: no build unless --only asks for it.
  if (args.quick && !argv.includes('--only')) args.only.delete('build');
  report.build = await section('build', () => buildDist(ROOT));
  const compiled = report.build?.entry ? { label: 'node dist', args: ['dist/cli/main.js'] } : undefined;
  const entries = compiled ? [tsx, compiled] : [tsx];

  report.mutate = await section('mutate', () => benchMutate(ROOT, args.quick));
  report.webhook = await section('webhook', () => benchWebhook(ROOT, compiled ?? tsx, args.quick));
  report.injectCli = await section('inject', () =>
    benchInjectCli(
      ROOT,
      entries,
      ['examples/invoicing-rds-postgres.yaml', 'examples/atlas-mongo-app.yaml'],
      ...(args.quick ? [1, 0] : []),
    ),
  );
  const bundle = report.build?.sidecarBundle;
  // What the webhook injects: the bundle under the injected command's V8 flags (when it was built).
  const sidecarEntries: SidecarEntry[] =
    bundle && 'path' in bundle ? [...entries, imageSidecarEntry(bundle.path)] : entries;
  report.sidecar = await section('sidecar', async () => {
    const out = [];
    for (const entry of sidecarEntries) out.push(await benchSidecar(ROOT, entry, args.quick ? QUICK : FULL));
    return out;
  });
  report.pgbench = await section('pgbench', () =>
    benchPgbench({ quick: args.quick, entry: compiled ?? tsx }),
  );

  report.storm = await section('storm', () => benchStorm(args.quick ? STORM_QUICK : STORM_FULL));
  // Real processes, so it runs what the webhook injects when the bundle was built.
  report.crowd = await section('crowd', () =>
    benchCrowd(ROOT, sidecarEntries.at(-1) ?? tsx, args.quick ? CROWD_QUICK : CROWD_FULL),
  );
  // The image command when the bundle was built, like the sidecar section's last entry.
  report.growth = await section('growth', () => benchGrowth(ROOT, sidecarEntries.at(-1) ?? tsx, args.quick));

  report.totalSeconds = Math.round(msSince(started) / 1000);
  report.machine.loadAverage.end = loadAverage1m();
  report.figures = {
    ...figures(comparisons(report)),
    ...stormFigureKeys(report.storm),
    ...growthFigureKeys(report.growth),
  };
  // A smoke run (npm test) leaves the last real report alone.
  const reportFile = args.quick ? 'report.quick.json' : 'report.json';
  await writeFile(new URL(`./${reportFile}`, import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(renderMarkdown(report));
  if (args.doc) await writeDoc(args.doc, report);
  log(`wrote bench/${reportFile} (${report.totalSeconds} s)`);
  return report.errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
