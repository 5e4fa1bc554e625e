/**
 * The sidecar as a process against the local STS emulator (one RDS target signing as the pod's IRSA
 * role, one Mongo target assuming a role):
 * - start-up: spawn to first token file and to /readyz 200 (one warm-up spawn, then several);
 * - on the last spawn: RSS after 5 s idle, CPU over 10 s idle (from /proc, so scrapes do not count),
 *   then `GET /v1/token/<name>` over keep-alive on 127.0.0.1, then SIGTERM to exit.
 * Credentials live an hour, so no refresh happens while it idles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILES, ROUTES, type SidecarConfig } from '../contract/sidecar-config.ts';
import { startStsEmulator, type StsEmulator } from '../test/emulators/sts-emulator.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../test/fakes/sidecar-config.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../test/sidecar/support/sidecar-process-env.ts';
import { measureLoad, type LoadResult } from './load.ts';
import { call, keepAliveAgent, waitFor } from './net.ts';
import { msSince, round, roundSummary, summarize, type Summary } from './stats.ts';

const REGION = 'eu-west-1';
const RDS_TARGET = 'invoicing';
const IDLE_RSS_AFTER_MS = 5_000;
const IDLE_CPU_WINDOW_MS = 10_000;

export interface SidecarBench {
  runtime: string;
  command: string;
  startups: number;
  spawnToFirstTokenMs: Summary;
  spawnToReadyMs: Summary;
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
}

interface Spawned {
  child: ChildProcess;
  dir: string;
  listen: SidecarConfig['listen'];
  exited: Promise<number | null>;
  firstTokenMs: number;
  readyMs: number;
}

async function spawnSidecar(root: string, args: string[], sts: StsEmulator): Promise<Spawned> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-sidecar-'));
  const listen = await freeListenPorts();
  const config = sidecarConfig({
    directory: dir,
    listen,
    targets: [
      rdsTarget({
        name: RDS_TARGET,
        host: 'invoicing.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com',
        database: 'invoicingdb',
        user: 'invoicingdbuser',
      }),
      mongoTarget({
        name: 'orders',
        roleArn: 'arn:aws:iam::111122223333:role/MongoAccessRole',
        hosts: ['cluster0.a1b2c3.mongodb.net'],
        database: 'orders',
        options: { retryWrites: 'true' },
      }),
    ],
  });
  const env = {
    ...sidecarProcessEnv(config, { name: 'invoicing-7c9f8d6b5-bench', namespace: 'billing' }),
    ...(await irsaEnv({
      dir,
      region: REGION,
      roleArn: 'arn:aws:iam::111122223333:role/passwordless-rds-db',
      stsUrl: sts.url,
    })),
  };
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...args, 'sidecar'], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(() => stat(join(dir, FILES.rdsToken(RDS_TARGET))), 'first token file', 30_000);
    const firstTokenMs = msSince(started);
    await waitFor(
      async () => (await call({ port: listen.healthPort }, 'GET', '/readyz')).status === 200,
      '/readyz 200',
      30_000,
    );
    return { child, dir, listen, exited, firstTokenMs, readyMs: msSince(started) };
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function stop(s: Spawned): Promise<{ ms: number; code: number | null }> {
  const started = process.hrtime.bigint();
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  const code = await s.exited;
  clearTimeout(timer);
  const ms = msSince(started);
  await rm(s.dir, { recursive: true, force: true });
  return { ms, code };
}

/** utime + stime of a process in seconds (Linux /proc; clock ticks are 100 Hz on Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function rssMiB(pid: number): Promise<{ rss: number; anon: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
  return { rss: round(kib('VmRSS'), 3), anon: round(kib('RssAnon'), 3) };
}

export async function benchSidecar(
  root: string,
  entry: { label: string; args: string[] },
  startups = 5,
): Promise<SidecarBench> {
  const sts = await startStsEmulator({ region: REGION });
  try {
    const first: number[] = [];
    const ready: number[] = [];
    // Spawn 0 warms the page cache (and tsx's transform cache); it is not counted.
    let last: Spawned | undefined;
    for (let i = 0; i <= startups; i++) {
      const s = await spawnSidecar(root, entry.args, sts);
      if (i > 0) {
        first.push(s.firstTokenMs);
        ready.push(s.readyMs);
      }
      if (i < startups) await stop(s);
      else last = s;
    }
    const s = last as Spawned;
    const pid = s.child.pid as number;
    const cpu0 = await cpuSeconds(pid);
    const idleStart = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, IDLE_RSS_AFTER_MS));
    const idle = await rssMiB(pid);
    await new Promise((r) => setTimeout(r, IDLE_CPU_WINDOW_MS - msSince(idleStart)));
    const cpuWindowS = msSince(idleStart) / 1000;
    const idleCpu = (await cpuSeconds(pid)) - cpu0;

    const auth = (await readFile(join(s.dir, FILES.authToken), 'utf8')).trim();
    const path = ROUTES.token(RDS_TARGET);
    const api = async (concurrency: number, perRound: number) => {
      const agent = keepAliveAgent({ port: s.listen.apiPort }, concurrency);
      try {
        return await measureLoad({ warmup: 300, rounds: 5, perRound, concurrency }, async () => {
          const res = await call({ port: s.listen.apiPort, agent }, 'GET', path, undefined, {
            authorization: auth,
          });
          if (res.status !== 200 || res.body.length < 100)
            throw new Error(`GET ${path}: status ${res.status}`);
        });
      } finally {
        agent.destroy();
      }
    };
    const tokenApi = { sequential: await api(1, 1000), concurrent8: await api(8, 2000) };
    const afterLoad = await rssMiB(pid);
    const stopped = await stop(s);

    const stsCalls: Record<string, number> = {};
    for (const c of sts.calls)
      stsCalls[`${c.action} ${c.outcome}`] = (stsCalls[`${c.action} ${c.outcome}`] ?? 0) + 1;
    return {
      runtime: entry.label,
      command: `node ${[...entry.args, 'sidecar'].join(' ')}`,
      startups,
      spawnToFirstTokenMs: roundSummary(summarize(first)),
      spawnToReadyMs: roundSummary(summarize(ready)),
      rssAfter5sIdleMiB: idle.rss,
      rssAnonAfter5sIdleMiB: idle.anon,
      idleCpuWindowSeconds: round(cpuWindowS, 3),
      idleCpuCores: round(idleCpu / cpuWindowS, 3),
      tokenApi,
      rssAfterApiLoadMiB: afterLoad.rss,
      sigtermToExitMs: Math.round(stopped.ms),
      exitCode: stopped.code,
      stsCalls,
    };
  } finally {
    await sts.close();
  }
}
