/**
 * A start storm: many pods start at once (a rollout of a big Deployment, a node drain) and each
 * sidecar fetches its credentials from one STS that throttles above a set rate.
 *
 * Faithful where it matters for STS: every pod is a real `startSidecar` (sidecar/src/main.ts) with
 * its own refreshers, backoff with real jitter (Math.random), its own base-identity and role caches,
 * its own AWS SDK STS client (web identity and AssumeRole, as in a pod with IRSA) and its own files,
 * written to a directory of its own on tmpfs (/dev/shm, like the pod's in-memory emptyDir). STS is
 * the emulator (test/emulators/sts-emulator.ts) with a token bucket: 400 Throttling above the rate,
 * as real STS answers; every call it sees counts, our retries and any of the SDK's own alike.
 *
 * What it leaves out: the pods share one process and one event loop (with the emulator), not one
 * node's CPUs each: their CPU work is serialised here, which slows each pod's start but not the STS
 * arithmetic; each pod's process start-up (module loading, ~0.3 CPU-s) is paid once, not per pod;
 * and no network latency between pod and STS (loopback).
 *
 * The pods are built first with their timers held, then released together: the storm starts when
 * every refresher's first timer fires, not while 1000 servers are still being opened one by one.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serializeSidecarConfig, type Target } from '../contract/sidecar-config.ts';
import { parseSidecarOptions } from '../sidecar/src/options.ts';
import { startSidecar, type RunningSidecar } from '../sidecar/src/main.ts';
import type { Timers } from '../sidecar/src/timers.ts';
import { startStsEmulator } from '../test/emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../test/emulators/web-identity-token.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../test/fakes/sidecar-config.ts';
import { cpuSeconds, memoryMiB } from './proc.ts';
import { msSince, round } from './stats.ts';
import { stormFigures, type StormCall, type StormFigures } from './storm-stats.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/passwordless-rds-db';
const MONGO_ROLE = 'arn:aws:iam::111122223333:role/MongoAccessRole';
const NAMESPACE = 'bench';
/** One web identity call (shared by every target and the AssumeRole signer), one AssumeRole per role. */
function neededCallsPerPod(targets: readonly Target[]): number {
  return 1 + new Set(targets.flatMap((t) => (t.roleArn === undefined ? [] : [t.roleArn]))).size;
}

function describeTargets(targets: readonly Target[]): string[] {
  return targets.map((t) => (t.kind === 'mongo' ? 'mongo' : t.engine) + (t.roleArn ? ' (role)' : ''));
}
const POLL_MS = 20;

/** The bench's sidecar targets (bench/sidecar.ts): pg and mysql as the pod's identity, mongo with a role. */
export const TARGETS: Target[] = [
  rdsTarget({ name: 'invoicing', host: 'invoicing.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com' }),
  rdsTarget({
    name: 'ledger',
    engine: 'mysql',
    host: 'ledger.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com',
    port: 3306,
  }),
  mongoTarget({ name: 'orders', roleArn: MONGO_ROLE, hosts: ['cluster0.a1b2c3.mongodb.net'] }),
];

export interface StormOptions {
  pods: number;
  callsPerSecond: number;
  /** Give up on pods not ready this long after the start. */
  limitMs: number;
  /** Each pod's targets; default the bench sidecar's three. */
  targets?: Target[];
}

export const STORM_FULL: StormOptions = { pods: 1000, callsPerSecond: 100, limitMs: 180_000 };
export const STORM_QUICK: StormOptions = { pods: 20, callsPerSecond: 20, limitMs: 30_000 };

export interface StormBench extends StormFigures {
  callsPerSecond: number;
  burst: number;
  targets: string[];
  /** Building every pod (servers, clients, directories) before the start; not part of the storm. */
  buildSeconds: number;
  /** CPU (user + sys) of the one process running every pod and the emulator, during the storm. */
  processCpuSeconds: number;
  processRssMiB: number;
  /** Log lines at error level across all pods (failed refreshes with nothing to serve). */
  errorLogLines: number;
  /** Those lines by error class: a `timeout` count says the pods were starved of CPU. */
  errorLogLinesByClass?: Record<string, number>;
  /**
   * Event-loop delay of that process during the storm (ms): when high, the pods were starved of CPU
   * (a loaded machine), their calls took longer and some timed out: the figures then say more about
   * the machine than about the backoff.
   */
  eventLoopDelayMs: { p99: number; max: number };
}

/** A timer set before release(): fires once released, unless cleared first. */
class HeldTimer {
  real: NodeJS.Timeout | undefined;
  cleared = false;
  constructor(
    readonly fn: () => void,
    readonly ms: number,
  ) {}
}

/** Real timers whose callbacks wait until release(): every pod's first refresh fires together. */
class HeldTimers implements Timers {
  private held: HeldTimer[] = [];
  private released = false;
  now = () => Date.now();
  setTimeout = (fn: () => void, ms: number): unknown => {
    if (this.released) return setTimeout(fn, ms);
    const timer = new HeldTimer(fn, ms);
    this.held.push(timer);
    return timer;
  };
  clearTimeout = (handle: unknown): void => {
    if (handle instanceof HeldTimer) {
      handle.cleared = true;
      clearTimeout(handle.real);
    } else clearTimeout(handle as NodeJS.Timeout);
  };
  release(): void {
    this.released = true;
    for (const t of this.held) if (!t.cleared) t.real = setTimeout(t.fn, t.ms);
    this.held = [];
  }
}

/** Counts error lines by error class; keeps nothing else (1000 pods log a lot). */
class ErrorLineCounter {
  errors = 0;
  readonly byClass: Record<string, number> = {};
  write(chunk: string): void {
    if (!chunk.includes('"level":50') && !chunk.includes('"level":"error"')) return;
    this.errors++;
    const errorClass = /"errorClass":"([^"]+)"/.exec(chunk)?.[1] ?? 'none';
    this.byClass[errorClass] = (this.byClass[errorClass] ?? 0) + 1;
  }
}

const POD_OF_SESSION = /-storm-(\d+)$/;

export async function benchStorm(options: StormOptions): Promise<StormBench> {
  const targets = options.targets ?? TARGETS;
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const root = await mkdtemp(join(base, 'tb-bench-storm-'));
  const sts = await startStsEmulator({
    region: REGION,
    rateLimit: { callsPerSecond: options.callsPerSecond },
  });
  const pods: RunningSidecar[] = [];
  const timers = new HeldTimers();
  const logs = new ErrorLineCounter();
  try {
    const tokenFile = join(root, 'irsa-token');
    await writeFile(tokenFile, makeWebIdentityToken({ expiresAt: Date.now() + 86_400_000 }));
    const built = process.hrtime.bigint();
    for (let i = 0; i < options.pods; i++) {
      const directory = join(root, `pod-${i}`);
      await mkdir(directory);
      const podName = `app-storm-${i}`;
      const env = {
        TOKEN_BROKER_CONFIG: serializeSidecarConfig(sidecarConfig({ directory, targets })),
        TOKEN_BROKER_POD_NAME: podName,
        TOKEN_BROKER_POD_NAMESPACE: NAMESPACE,
        AWS_REGION: REGION,
      };
      pods.push(
        await startSidecar(parseSidecarOptions([], env), env, {
          timers,
          identity: {
            stsEndpoint: sts.url,
            webIdentityTokenFile: tokenFile,
            roleArn: POD_ROLE,
            // Names the pod in the emulator's record of the call, like the AssumeRole session name.
            roleSessionName: `tb-${NAMESPACE}-${podName}`,
          },
          listen: {
            apiHost: '127.0.0.1',
            publicHost: '127.0.0.1',
            apiPort: 0,
            healthPort: 0,
            metricsPort: 0,
          },
          handleSignals: false,
          logDestination: logs,
          defaultMetrics: false,
        }),
      );
    }
    const buildSeconds = msSince(built) / 1000;
    if (sts.calls.length > 0) throw new Error(`${sts.calls.length} STS calls before the storm started`);

    const cpu0 = await cpuSeconds(process.pid);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const started = process.hrtime.bigint();
    timers.release();
    const readyMs: (number | undefined)[] = pods.map(() => undefined);
    let waiting = pods.length;
    while (waiting > 0 && msSince(started) < options.limitMs) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const at = msSince(started);
      pods.forEach((p, i) => {
        if (readyMs[i] !== undefined) return;
        if ([...p.refreshers.values()].every((r) => r.isFresh())) {
          readyMs[i] = at;
          waiting--;
        }
      });
    }
    loopDelay.disable();
    const processCpuSeconds = (await cpuSeconds(process.pid)) - cpu0;
    const processRssMiB = (await memoryMiB(process.pid)).rss;
    const calls: StormCall[] = sts.calls.map((c) => {
      const m = POD_OF_SESSION.exec(c.sessionName ?? '');
      return { pod: m ? Number(m[1]) : undefined, action: c.action, outcome: c.outcome };
    });
    return {
      ...stormFigures({
        readyMs,
        calls,
        neededCallsPerPod: neededCallsPerPod(targets),
        callsPerSecond: options.callsPerSecond,
        burst: options.callsPerSecond,
      }),
      callsPerSecond: options.callsPerSecond,
      burst: options.callsPerSecond,
      targets: describeTargets(targets),
      buildSeconds: round(buildSeconds, 3),
      processCpuSeconds: round(processCpuSeconds, 3),
      processRssMiB,
      errorLogLines: logs.errors,
      errorLogLinesByClass: logs.byClass,
      eventLoopDelayMs: {
        p99: round(loopDelay.percentile(99) / 1e6, 3),
        max: round(loopDelay.max / 1e6, 3),
      },
    };
  } finally {
    await Promise.all(pods.map((p) => p.stop('storm over')));
    await sts.close();
    await rm(root, { recursive: true, force: true });
  }
}
