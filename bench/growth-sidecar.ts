/**
 * How the sidecar's cost grows with its targets: real sidecar processes running the image command
 * when the bundle is built (dist/sidecar.cjs under the injected command's V8 flags, bench/sidecar.ts's
 * `imageSidecarEntry`; else the CLI entry) with 1, 10 and 50 targets, started side by side, each
 * against an STS emulator of its own that issues short-lived credentials, so refreshes happen while
 * it is watched. Targets cycle postgres, mysql (both as the pod's IRSA identity) and mongo assuming
 * one shared role: per credential lifetime one web identity call and one AssumeRole, however many
 * targets, and every target re-signed or re-written.
 *
 * Per process: RSS and anon memory after an idle spell (steady state, refreshes included), then CPU
 * (user + sys) over a window, divided by the credential refreshes in it (web identity calls): what one
 * refresh of every target costs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../contract/sidecar-config.ts';
import { startStsEmulator, type StsEmulator } from '../test/emulators/sts-emulator.ts';
import type { SidecarEntry } from './sidecar.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../test/fakes/sidecar-config.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../test/sidecar/support/sidecar-process-env.ts';
import { call, waitFor } from './net.ts';
import { cpuSeconds, memoryMiB, type MemoryMiB } from './proc.ts';
import { msSince, round } from './stats.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/passwordless-rds-db';
const MONGO_ROLE = 'arn:aws:iam::111122223333:role/MongoAccessRole';

export interface SidecarGrowthOptions {
  targetCounts: number[];
  /** STS credentials' lifetime: refreshed at 1/2 to 4/5 of it. */
  credentialLifetimeSeconds: number;
  marginSeconds: number;
  idleMs: number;
  cpuWindowMs: number;
}

export const SIDECAR_GROWTH_FULL: SidecarGrowthOptions = {
  targetCounts: [1, 10, 50],
  credentialLifetimeSeconds: 8,
  marginSeconds: 1,
  idleMs: 5_000,
  cpuWindowMs: 20_000,
};

/** `--quick`: two sizes, one refresh or so: proves the section runs. */
export const SIDECAR_GROWTH_QUICK: SidecarGrowthOptions = {
  targetCounts: [1, 10],
  credentialLifetimeSeconds: 4,
  marginSeconds: 1,
  idleMs: 500,
  cpuWindowMs: 2_500,
};

export interface SidecarGrowthPoint {
  targets: number;
  spawnToReadyMs: number;
  memoryAfterIdleMiB: MemoryMiB;
  cpuWindowSeconds: number;
  cpuSeconds: number;
  /** Credential refreshes (web identity calls) in the window. */
  refreshes: number;
  /** cpuSeconds / refreshes, in ms; undefined when none happened. */
  cpuMsPerRefresh: number | undefined;
  stsCallsInWindow: number;
}

export interface SidecarGrowth {
  runtime: string;
  credentialLifetimeSeconds: number;
  points: SidecarGrowthPoint[];
}

/** `count` targets cycling postgres, mysql, mongo with one shared role. */
export function growthTargets(count: number): Target[] {
  return Array.from({ length: count }, (_, i) => {
    const host = `db-${i}.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com`;
    if (i % 3 === 0) return rdsTarget({ name: `pg-${i}`, host, database: `app${i}`, user: `user${i}` });
    if (i % 3 === 1) {
      return rdsTarget({
        name: `mysql-${i}`,
        engine: 'mysql',
        host,
        port: 3306,
        database: `app${i}`,
        user: `user${i}`,
      });
    }
    return mongoTarget({ name: `mongo-${i}`, roleArn: MONGO_ROLE, hosts: [`c${i}.a1b2c3.mongodb.net`] });
  });
}

interface Running {
  targets: number;
  child: ChildProcess;
  exited: Promise<void>;
  dir: string;
  sts: StsEmulator;
  readyMs: number;
}

/** Node's argument list for `entry`: the image command's flags and bundle, or the CLI's `sidecar`. */
export function growthSidecarArgv(entry: SidecarEntry): string[] {
  return entry.sidecarArgv ?? [...entry.args, 'sidecar'];
}

async function startOne(
  root: string,
  entry: SidecarEntry,
  count: number,
  o: SidecarGrowthOptions,
): Promise<Running> {
  const sts = await startStsEmulator({
    region: REGION,
    credentialLifetimeSeconds: o.credentialLifetimeSeconds,
  });
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-growth-'));
  const listen = await freeListenPorts();
  const config = sidecarConfig({
    directory: dir,
    listen,
    refresh: { marginSeconds: o.marginSeconds },
    targets: growthTargets(count),
  });
  const env = {
    ...sidecarProcessEnv(config, { name: `growth-${count}`, namespace: 'bench' }),
    ...(await irsaEnv({ dir, region: REGION, roleArn: POD_ROLE, stsUrl: sts.url })),
  };
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, growthSidecarArgv(entry), {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const running = { targets: count, child, exited, dir, sts, readyMs: 0 };
  try {
    await waitFor(
      async () => (await call({ port: listen.healthPort }, 'GET', '/readyz')).status === 200,
      `sidecar with ${count} targets ready`,
      60_000,
    );
  } catch (error) {
    await stopOne(running);
    throw error;
  }
  running.readyMs = Math.round(msSince(started));
  return running;
}

async function stopOne(r: Running): Promise<void> {
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
  await r.exited;
  clearTimeout(timer);
  await r.sts.close();
  await rm(r.dir, { recursive: true, force: true });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function benchSidecarGrowth(
  root: string,
  entry: SidecarEntry,
  o: SidecarGrowthOptions,
): Promise<SidecarGrowth> {
  const running: Running[] = [];
  try {
    // Side by side: CPU time and memory are per process, so they do not add up across them.
    for (const r of await Promise.all(o.targetCounts.map((n) => startOne(root, entry, n, o)))) {
      running.push(r);
    }
    await sleep(o.idleMs);
    const memory = await Promise.all(running.map((r) => memoryMiB(r.child.pid as number)));
    const before = await Promise.all(running.map((r) => cpuSeconds(r.child.pid as number)));
    const callsBefore = running.map((r) => r.sts.calls.length);
    const windowStart = process.hrtime.bigint();
    await sleep(o.cpuWindowMs);
    const after = await Promise.all(running.map((r) => cpuSeconds(r.child.pid as number)));
    const windowSeconds = msSince(windowStart) / 1000;
    const points = running.map((r, i): SidecarGrowthPoint => {
      const calls = r.sts.calls.slice(callsBefore[i]);
      const refreshes = calls.filter((c) => c.action === 'AssumeRoleWithWebIdentity').length;
      const cpu = round((after[i] as number) - (before[i] as number), 3);
      return {
        targets: r.targets,
        spawnToReadyMs: r.readyMs,
        memoryAfterIdleMiB: memory[i] as MemoryMiB,
        cpuWindowSeconds: round(windowSeconds, 3),
        cpuSeconds: cpu,
        refreshes,
        cpuMsPerRefresh: refreshes > 0 ? round((cpu * 1000) / refreshes, 3) : undefined,
        stsCallsInWindow: calls.length,
      };
    });
    return { runtime: entry.label, credentialLifetimeSeconds: o.credentialLifetimeSeconds, points };
  } finally {
    await Promise.all(running.map(stopOne));
  }
}
