/**
 * The sidecar as a process against the local STS emulator, with three targets (PostgreSQL and MySQL
 * signing as the pod's IRSA role, MongoDB assuming a role on top of it), beside its baselines in the
 * same run:
 * - a bare idle `node` (the sidecar's floor);
 * - the seeds' way: an app that loads @aws-sdk/rds-signer and the credential providers and signs a
 *   token itself (bench/baseline/seed-app.ts), which is what an app carries without the sidecar.
 * Each round spawns the three in an order that rotates (one warm-up round first, not counted):
 * spawn to all files written (the seed app: to its token), CPU time (user + sys) at that point plus
 * 1 s, and the STS calls the sidecar made at start against the two needed (one web identity, one
 * AssumeRole). In the last round all three stay up: memory (RSS and anon) after 5 s idle, the
 * sidecar's CPU over 10 s idle, then `GET /v1/token/<name>` over keep-alive, then SIGTERM.
 * Credentials live an hour, so no refresh happens while it idles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILES, ROUTES, type SidecarConfig, type Target } from '../contract/sidecar-config.ts';
import { startStsEmulator, type StsEmulator } from '../test/emulators/sts-emulator.ts';
import { SIDECAR_COMMAND } from '../webhook/src/injection/sidecar-container.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../test/fakes/sidecar-config.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../test/sidecar/support/sidecar-process-env.ts';
import { measureLoad, type LoadResult, type LoadSpec } from './load.ts';
import { call, keepAliveAgent, waitFor } from './net.ts';
import { cpuSeconds, memoryMiB, type MemoryMiB } from './proc.ts';
import { standaloneScript } from './standalone.ts';
import { msSince, round, roundSummary, summarize, type Summary } from './stats.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/passwordless-rds-db';
const RDS_TARGET = 'invoicing';
const DB_HOST = 'invoicing.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com';
const DB_USER = 'invoicingdbuser';
/** CPU time is read this long after the files are written: what start-up costs, settled. */
const CPU_AFTER_READY_MS = 1_000;
/** The web identity call, and one AssumeRole for the one role. */
const STS_CALLS_NEEDED_AT_START = 2;

/** The bench sidecar's targets: PostgreSQL and MySQL as the pod's identity, MongoDB with a role on top. */
export const SIDECAR_TARGETS: Target[] = [
  rdsTarget({ name: RDS_TARGET, host: DB_HOST, database: 'invoicingdb', user: DB_USER }),
  rdsTarget({
    name: 'ledger',
    engine: 'mysql',
    host: 'ledger.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com',
    port: 3306,
    database: 'ledger',
    user: 'ledgeruser',
  }),
  mongoTarget({
    name: 'orders',
    roleArn: 'arn:aws:iam::111122223333:role/MongoAccessRole',
    hosts: ['cluster0.a1b2c3.mongodb.net'],
    database: 'orders',
    options: { retryWrites: 'true' },
  }),
];

/** Every file the sidecar writes for its targets: written means all of them exist. */
export function targetFiles(targets: readonly Target[]): string[] {
  return targets.flatMap((t) => {
    if (t.kind === 'mongo') return [FILES.credentialsJson(t.name), FILES.mongoUri(t.name)];
    return t.engine === 'mysql'
      ? [FILES.rdsToken(t.name), FILES.mysqlOptionFile(t.name)]
      : [FILES.rdsToken(t.name), FILES.pgpass];
  });
}

export interface BenchOptions {
  /** Counted starts. */
  startups: number;
  /** One round before them that is not counted (page cache, tsx's transform cache). */
  warmupRound: boolean;
  idleMs: number;
  idleCpuWindowMs: number;
  tokenApi: { sequential: LoadSpec; concurrent8: LoadSpec };
}

export const FULL: BenchOptions = {
  startups: 5,
  warmupRound: true,
  idleMs: 5_000,
  idleCpuWindowMs: 10_000,
  tokenApi: {
    sequential: { warmup: 300, rounds: 5, perRound: 1000, concurrency: 1 },
    concurrent8: { warmup: 300, rounds: 5, perRound: 2000, concurrency: 8 },
  },
};

/** `--quick`: proves the bench runs (one start each, no warm-up, short idle), measures little. */
export const QUICK: BenchOptions = {
  startups: 1,
  warmupRound: false,
  idleMs: 1_000,
  idleCpuWindowMs: 2_000,
  tokenApi: {
    sequential: { warmup: 20, rounds: 2, perRound: 50, concurrency: 1 },
    concurrent8: { warmup: 20, rounds: 2, perRound: 100, concurrency: 8 },
  },
};

export interface SidecarBench {
  runtime: string;
  command: string;
  targets: string[];
  startups: number;
  spawnToFirstTokenMs: Summary;
  spawnToReadyMs: Summary;
  /** Spawn to every file of every target written. */
  spawnToFilesWrittenMs: Summary;
  /** CPU seconds (user + sys) from spawn to files written plus 1 s, per start. */
  cpuSecondsToFilesWrittenPlus1s: Summary;
  /** STS calls of each start, up to files written plus 1 s; and of the last start by action. */
  stsCallsAtStart: { perStart: number[]; lastByAction: Record<string, number>; needed: number };
  idleSeconds: number;
  rssAfter5sIdleMiB: number;
  rssAnonAfter5sIdleMiB: number;
  idleCpuWindowSeconds: number;
  /** CPU seconds used per second of wall time while idle (1 = one core). */
  idleCpuCores: number;
  tokenApi: { sequential: LoadResult; concurrent8: LoadResult };
  rssAfterApiLoadMiB: number;
  sigtermToExitMs: number;
  exitCode: number | null;
  stsCalls: Record<string, number>;
  baselines: {
    /** `node -e` that only idles: what any Node process costs. */
    bareNode: { command: string; idleMemoryMiB: MemoryMiB };
    /** An app signing its own RDS token with the AWS SDK (bench/baseline/seed-app.ts). */
    seedApp: {
      command: string;
      spawnToTokenMs: Summary;
      cpuSecondsToTokenPlus1s: Summary;
      idleMemoryMiB: MemoryMiB;
    };
  };
}

interface Spawned {
  child: ChildProcess;
  dir: string;
  exited: Promise<number | null>;
  started: bigint;
}

/** Every process started and not yet stopped: a failed run kills what it left behind. */
const running = new Set<Spawned>();

function launch(root: string, args: string[], env: Record<string, string>, dir: string): Spawned {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const s = { child, dir, exited, started };
  running.add(s);
  return s;
}

async function killLeftovers(): Promise<void> {
  for (const s of running) {
    s.child.kill('SIGKILL');
    await s.exited;
    await rm(s.dir, { recursive: true, force: true });
  }
  running.clear();
}

async function stop(s: Spawned): Promise<{ ms: number; code: number | null }> {
  const started = process.hrtime.bigint();
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  const code = await s.exited;
  clearTimeout(timer);
  const ms = msSince(started);
  running.delete(s);
  await rm(s.dir, { recursive: true, force: true });
  return { ms, code };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Waits for every path; on failure the process is killed and its directory removed. */
async function waitForFiles(s: Spawned, paths: string[], what: string): Promise<number> {
  try {
    await waitFor(
      async () => (await Promise.all(paths.map((p) => stat(p).then(() => true)))).every(Boolean),
      what,
      30_000,
    );
    return msSince(s.started);
  } catch (error) {
    await killLeftovers();
    throw error;
  }
}

interface SidecarStart {
  s: Spawned;
  listen: SidecarConfig['listen'];
  firstTokenMs: number;
  filesMs: number;
  readyMs: number;
  cpuS: number;
  stsCalls: number;
  stsByAction: Record<string, number>;
}

/** `argv`: node's arguments, up to and including the sidecar's own (see sidecarArgv). */
async function startSidecar(root: string, argv: string[], sts: StsEmulator): Promise<SidecarStart> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-sidecar-'));
  const listen = await freeListenPorts();
  const config = sidecarConfig({ directory: dir, listen, targets: SIDECAR_TARGETS });
  const env = {
    ...sidecarProcessEnv(config, { name: 'invoicing-7c9f8d6b5-bench', namespace: 'billing' }),
    ...(await irsaEnv({ dir, region: REGION, roleArn: POD_ROLE, stsUrl: sts.url })),
  };
  const callsBefore = sts.calls.length;
  const s = launch(root, argv, env, dir);
  const firstTokenMs = await waitForFiles(s, [join(dir, FILES.rdsToken(RDS_TARGET))], 'first token file');
  const filesMs = await waitForFiles(
    s,
    targetFiles(SIDECAR_TARGETS).map((f) => join(dir, f)),
    'every target file',
  );
  await waitFor(
    async () => (await call({ port: listen.healthPort }, 'GET', '/readyz')).status === 200,
    '/readyz 200',
    30_000,
  );
  const readyMs = msSince(s.started);
  await sleep(filesMs + CPU_AFTER_READY_MS - msSince(s.started));
  const cpuS = await cpuSeconds(s.child.pid as number);
  const calls = sts.calls.slice(callsBefore);
  return {
    s,
    listen,
    firstTokenMs,
    filesMs,
    readyMs,
    cpuS,
    stsCalls: calls.length,
    stsByAction: countBy(calls.map((c) => `${c.action} ${c.outcome}`)),
  };
}

async function startSeedApp(root: string, script: string, sts: StsEmulator) {
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-seed-'));
  const tokenFile = join(dir, 'token');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    ...(await irsaEnv({ dir, region: REGION, roleArn: POD_ROLE, stsUrl: sts.url })),
    BENCH_TOKEN_FILE: tokenFile,
    BENCH_DB_HOST: DB_HOST,
    BENCH_DB_USER: DB_USER,
  };
  const s = launch(root, [script], env, dir);
  const tokenMs = await waitForFiles(s, [tokenFile], 'the seed app token');
  await sleep(tokenMs + CPU_AFTER_READY_MS - msSince(s.started));
  return { s, tokenMs, cpuS: await cpuSeconds(s.child.pid as number) };
}

const BARE_NODE_SOURCE = 'setInterval(() => undefined, 1 << 30)';

async function startBareNode(root: string) {
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-node-'));
  const s = launch(root, ['-e', BARE_NODE_SOURCE], { PATH: process.env.PATH ?? '', HOME: dir }, dir);
  // Started once its heap is set up: the RSS stops growing from nothing within milliseconds.
  await waitFor(async () => (await memoryMiB(s.child.pid as number)).anon > 1, 'bare node', 10_000);
  return { s };
}

function countBy(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/**
 * A CLI entry (`args`: node's arguments up to the CLI script, which gets `sidecar`), or a command of
 * its own (`sidecarArgv`: node's whole argument list, e.g. the injected command's V8 flags and bundle).
 */
export interface SidecarEntry {
  label: string;
  args: string[];
  sidecarArgv?: string[];
}

/** The label of the entry that runs what the webhook injects. */
export const IMAGE_SIDECAR = 'image command';

/**
 * The injected container's command (webhook/src/injection/sidecar-container.ts) with this machine's node and
 * `bundle` (dist/sidecar.cjs) in place of the image's paths: the same V8 flags, the same file.
 */
export function imageSidecarEntry(bundle: string): SidecarEntry {
  const flags = SIDECAR_COMMAND.slice(1, -1);
  return { label: IMAGE_SIDECAR, args: [], sidecarArgv: [...flags, bundle] };
}

export function sidecarArgv(entry: SidecarEntry): string[] {
  return entry.sidecarArgv ?? [...entry.args, 'sidecar'];
}

export async function benchSidecar(
  root: string,
  entry: SidecarEntry,
  options: BenchOptions = FULL,
): Promise<SidecarBench> {
  const argv = sidecarArgv(entry);
  const sts = await startStsEmulator({ region: REGION });
  const seedScript = await standaloneScript(root, 'seed-app');
  try {
    const first: number[] = [];
    const ready: number[] = [];
    const files: number[] = [];
    const cpu: number[] = [];
    const stsPerStart: number[] = [];
    const seedToken: number[] = [];
    const seedCpu: number[] = [];
    type Kind = 'sidecar' | 'seed' | 'bare';
    const kinds: Kind[] = ['sidecar', 'seed', 'bare'];
    let last: { sidecar: SidecarStart; seed: Spawned; bare: Spawned } | undefined;
    // Round 0 warms the page cache (and tsx's transform cache); it is not counted.
    for (let round = options.warmupRound ? 0 : 1; round <= options.startups; round++) {
      const counted = round > 0;
      const isLast = round === options.startups;
      let sidecar: SidecarStart | undefined;
      let seed: Spawned | undefined;
      let bare: Spawned | undefined;
      for (let i = 0; i < kinds.length; i++) {
        const kind = kinds[(round + i) % kinds.length] as Kind;
        if (kind === 'sidecar') {
          sidecar = await startSidecar(root, argv, sts);
          if (counted) {
            first.push(sidecar.firstTokenMs);
            files.push(sidecar.filesMs);
            ready.push(sidecar.readyMs);
            cpu.push(sidecar.cpuS);
            stsPerStart.push(sidecar.stsCalls);
          }
        } else if (kind === 'seed') {
          const started = await startSeedApp(root, seedScript, sts);
          seed = started.s;
          if (counted) {
            seedToken.push(started.tokenMs);
            seedCpu.push(started.cpuS);
          }
        } else {
          bare = (await startBareNode(root)).s;
        }
      }
      if (!sidecar || !seed || !bare) throw new Error('a round did not start all three processes');
      if (isLast) last = { sidecar, seed, bare };
      else await Promise.all([stop(sidecar.s), stop(seed), stop(bare)]);
    }
    const { sidecar, seed, bare } = last as NonNullable<typeof last>;
    const pid = sidecar.s.child.pid as number;
    const cpu0 = await cpuSeconds(pid);
    const idleStart = process.hrtime.bigint();
    await sleep(options.idleMs);
    const [idle, seedIdle, bareIdle] = await Promise.all(
      [pid, seed.child.pid as number, bare.child.pid as number].map(memoryMiB),
    );
    await Promise.all([stop(seed), stop(bare)]);
    await sleep(options.idleCpuWindowMs - msSince(idleStart));
    const cpuWindowS = msSince(idleStart) / 1000;
    const idleCpu = (await cpuSeconds(pid)) - cpu0;

    const s = sidecar.s;
    const auth = (await readFile(join(s.dir, FILES.authToken), 'utf8')).trim();
    const path = ROUTES.token(RDS_TARGET);
    const port = sidecar.listen.apiPort;
    const api = async (spec: LoadSpec) => {
      const agent = keepAliveAgent({ port }, spec.concurrency);
      try {
        return await measureLoad(spec, async () => {
          const res = await call({ port, agent }, 'GET', path, undefined, { authorization: auth });
          if (res.status !== 200 || res.body.length < 100)
            throw new Error(`GET ${path}: status ${res.status}`);
        });
      } finally {
        agent.destroy();
      }
    };
    const tokenApi = {
      sequential: await api(options.tokenApi.sequential),
      concurrent8: await api(options.tokenApi.concurrent8),
    };
    const afterLoad = await memoryMiB(pid);
    const stopped = await stop(s);

    return {
      runtime: entry.label,
      command: `node ${argv.join(' ')}`,
      targets: SIDECAR_TARGETS.map((t) =>
        t.kind === 'mongo' ? `mongo (role)` : `${t.engine}${t.roleArn ? ' (role)' : ''}`,
      ),
      startups: options.startups,
      spawnToFirstTokenMs: roundSummary(summarize(first)),
      spawnToReadyMs: roundSummary(summarize(ready)),
      spawnToFilesWrittenMs: roundSummary(summarize(files)),
      cpuSecondsToFilesWrittenPlus1s: roundSummary(summarize(cpu)),
      stsCallsAtStart: {
        perStart: stsPerStart,
        lastByAction: sidecar.stsByAction,
        needed: STS_CALLS_NEEDED_AT_START,
      },
      idleSeconds: options.idleMs / 1000,
      rssAfter5sIdleMiB: (idle as MemoryMiB).rss,
      rssAnonAfter5sIdleMiB: (idle as MemoryMiB).anon,
      idleCpuWindowSeconds: round(cpuWindowS, 3),
      idleCpuCores: round(idleCpu / cpuWindowS, 3),
      tokenApi,
      rssAfterApiLoadMiB: afterLoad.rss,
      sigtermToExitMs: Math.round(stopped.ms),
      exitCode: stopped.code,
      stsCalls: countBy(sts.calls.map((c) => `${c.action} ${c.outcome}`)),
      baselines: {
        bareNode: { command: `node -e '${BARE_NODE_SOURCE}'`, idleMemoryMiB: bareIdle as MemoryMiB },
        seedApp: {
          command: 'node .tmp/bench/seed-app.mjs (bench/baseline/seed-app.ts)',
          spawnToTokenMs: roundSummary(summarize(seedToken)),
          cpuSecondsToTokenPlus1s: roundSummary(summarize(seedCpu)),
          idleMemoryMiB: seedIdle as MemoryMiB,
        },
      },
    };
  } finally {
    await killLeftovers();
    await sts.close();
  }
}
