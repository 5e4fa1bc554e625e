/**
 * `npm run fuzz`: generated AdmissionReviews against the real webhook, started as its own process over
 * HTTPS (certs/generate.sh), with its resident memory sampled from /proc while it runs.
 *
 *   npm run fuzz                                   100,000 cases, a random seed (printed)
 *   npm run fuzz -- --cases 5000 --seed 42         reproducible
 *   npm run fuzz -- --replay '<case JSON>'         one case, with the full answer (from a failure report)
 *   npm run fuzz -- --case 42/1234                 case 1234 of seed 42, as generated (before reduction)
 *
 * Options: --cases N, --seed S, --concurrency C (8), --rss-limit-mb M (256: the chart's memory limit),
 * --heap-mb H (128: the webhook's V8 old space, as recommended for that limit; 0 leaves V8's default,
 * which on a large machine lets garbage pile up to several hundred MB before collecting it). Prints
 * counts by outcome and failures by property, each failing property with a minimal case, the RSS peak;
 * exits 1 on any failure, on an RSS peak above the limit, or when the webhook process dies.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeTempCertificates, TEST_SERVER_NAME } from '../test/webhook/server/support/certs.ts';
import type { FuzzCase } from '../test/fuzz/case.ts';
import { judge } from '../test/fuzz/oracle.ts';
import { caseAt, createClient, formatReport, reduce, runFuzz, type Target } from '../test/fuzz/run.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'rss-limit-mb': { type: 'string', default: '256' },
    'heap-mb': { type: 'string', default: '128' },
    replay: { type: 'string' },
    case: { type: 'string' },
  },
});
const cases = Number(values.cases);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const concurrency = Number(values.concurrency);
const rssLimitMb = Number(values['rss-limit-mb']);
const heapMb = Number(values['heap-mb']);
if (![cases, seed, concurrency, rssLimitMb, heapMb].every(Number.isSafeInteger)) {
  process.stderr.write('fuzz: --cases, --seed, --concurrency, --rss-limit-mb and --heap-mb take integers\n');
  process.exit(2);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

async function waitReady(target: Target, exited: () => boolean): Promise<void> {
  const client = createClient(target, 1);
  const deadline = Date.now() + 60_000;
  try {
    while (Date.now() < deadline && !exited()) {
      const { answer } = await client.send({ kind: 'raw', raw: '{}' });
      if (answer.status !== undefined) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.close();
  }
  throw new Error('the webhook did not start');
}

const certs = await makeTempCertificates();
const port = await freePort();
const target: Target = { port, ca: certs.ca, servername: TEST_SERVER_NAME };
const child = spawn(
  process.execPath,
  [
    ...(heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : []),
    '--import',
    'tsx',
    'cli/main.ts',
    'webhook',
    ...['--port', String(port), '--host', '127.0.0.1', '--log-level', 'error'],
    ...['--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--shutdown-delay', '0s'],
  ],
  {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP: 'false' },
  },
);
let exit: string | undefined;
child.on('exit', (code, signal) => (exit = `code ${code ?? '-'} signal ${signal ?? '-'}`));
let logTail = '';
const keep = (chunk: Buffer) => (logTail = (logTail + chunk.toString()).slice(-4000));
child.stdout.on('data', keep);
child.stderr.on('data', keep);

let status = 0;
try {
  await waitReady(target, () => exit !== undefined);
  const pid = child.pid as number;
  if (values.replay !== undefined || values.case !== undefined) {
    const [caseSeed, index] = (values.case ?? '').split('/').map(Number);
    const c =
      values.replay !== undefined
        ? (JSON.parse(values.replay) as FuzzCase)
        : caseAt(caseSeed ?? 0, index ?? 0);
    process.stdout.write(`case: ${JSON.stringify(c)}\n`);
    const client = createClient(target, 1);
    const { answer, materialized } = await client.send(c);
    client.close();
    const verdict = judge(c, materialized, answer, { timing: true });
    process.stdout.write(`${JSON.stringify({ answer, verdict }, null, 2)}\n`);
    status = verdict.violations.length > 0 ? 1 : 0;
  } else {
    const started = { rss: memoryOf(pid)?.rss ?? NaN };
    let peakSeen = 0;
    const sampler = setInterval(() => (peakSeen = Math.max(peakSeen, memoryOf(pid)?.rss ?? 0)), 250);
    process.stdout.write(
      `fuzz: seed ${seed}, ${cases} cases, concurrency ${concurrency}, webhook pid ${pid}` +
        ` (${heapMb > 0 ? `--max-old-space-size=${heapMb}` : 'V8 default heap'})\n`,
    );
    const t0 = performance.now();
    const report = await runFuzz({
      ...target,
      cases,
      seed,
      concurrency,
      timing: true,
      onProgress: (done, r) => {
        if (done % 10_000 !== 0) return;
        const failed = Object.values(r.failures).reduce((a, b) => a + b, 0);
        const m = memoryOf(pid);
        process.stdout.write(
          `  ${done} cases, ${failed} failures, webhook RSS ${m?.rss.toFixed(0) ?? '?'} MB (peak ${m?.peak.toFixed(0) ?? '?'} MB)\n`,
        );
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    for (const [property, failure] of Object.entries(report.examples)) {
      report.examples[property as keyof typeof report.examples] = await reduce(target, failure);
    }
    const memory = memoryOf(pid);
    const peak = Math.max(memory?.peak ?? 0, peakSeen);
    process.stdout.write(`${formatReport(report, seconds)}\n`);
    process.stdout.write(
      `webhook RSS: ${started.rss.toFixed(0)} MB at start, peak ${peak.toFixed(0)} MB (limit ${rssLimitMb} MB), ` +
        `${memory?.rss.toFixed(0) ?? '?'} MB at the end\n`,
    );
    const failed = Object.values(report.failures).reduce((a, b) => a + b, 0);
    if (failed > 0) status = 1;
    if (peak > rssLimitMb) {
      process.stdout.write(`FAIL rss-bounded: peak ${peak.toFixed(0)} MB > ${rssLimitMb} MB\n`);
      status = 1;
    }
  }
  if (exit !== undefined) {
    process.stdout.write(`FAIL the webhook process exited (${exit}):\n${logTail}\n`);
    status = 1;
  }
} catch (error) {
  process.stdout.write(`fuzz: ${(error as Error).message}\n${logTail}\n`);
  status = 1;
} finally {
  child.kill('SIGTERM');
  await certs.cleanup();
}
process.exit(status);
