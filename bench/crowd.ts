/**
 * A crowd of real sidecar processes started at once (what a node drain or a rollout does to one node):
 * `pods` processes of the injected command (the bundle under the injected V8 flags, when built), each
 * with the bench sidecar's three targets and its own IRSA token, directory and ports, against one STS
 * emulator. Each round runs the crowd twice, the order alternating: once with STS throttling above
 * `callsPerSecond` (burst: one second's worth, 400 `Throttling` as STS answers) and once without, the
 * baseline that shows what booting that many processes on this machine costs by itself.
 *
 * Where bench/storm.ts simulates 1000 pods in one process, this one pays everything a pod pays: process
 * start-up, module loading, its own event loop, real timers and backoff, on the machine's CPUs.
 * A pod is ready when every file of its targets exists and its `/readyz` answers 200 (what a rollout
 * waits for).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SidecarConfig } from '../contract/sidecar-config.ts';
import { startStsEmulator } from '../test/emulators/sts-emulator.ts';
import { sidecarConfig } from '../test/fakes/sidecar-config.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../test/sidecar/support/sidecar-process-env.ts';
import { call } from './net.ts';
import { sidecarArgv, SIDECAR_TARGETS, targetFiles, type SidecarEntry } from './sidecar.ts';
import { msSince, round, roundSummary, summarize, type Summary } from './stats.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/passwordless-rds-db';
const POLL_MS = 25;
const READY_TIMEOUT_MS = 180_000;

export interface CrowdOptions {
  pods: number;
  /** STS's sustained rate in the throttled runs; the burst is one second's worth. */
  callsPerSecond: number;
  /** Each round: one throttled and one unthrottled crowd. */
  rounds: number;
}

export const CROWD_FULL: CrowdOptions = { pods: 30, callsPerSecond: 10, rounds: 3 };
/** `--quick`: proves the section runs. */
export const CROWD_QUICK: CrowdOptions = { pods: 4, callsPerSecond: 4, rounds: 1 };

export interface CrowdRun {
  throttled: boolean;
  /** First spawn to the last pod ready. */
  allReadySeconds: number;
  perPodReadySeconds: Summary;
  stsCalls: number;
  stsCallsByAnswer: Record<string, number>;
}

export interface CrowdBench {
  runtime: string;
  command: string;
  pods: number;
  targets: number;
  callsPerSecond: number;
  burst: number;
  /** Per pod: one web identity call and one AssumeRole per role. */
  neededCalls: number;
  runs: CrowdRun[];
  throttled: { allReadySeconds: number; stsCalls: number };
  unthrottled: { allReadySeconds: number; stsCalls: number };
  /** What STS alone allows: the needed calls beyond the burst, at the rate. */
  rateBoundSeconds: number;
  /** max(boot without throttling, rate bound): the best a throttled crowd can do. */
  idealSeconds: number;
}

interface Pod {
  index: number;
  dir: string;
  listen: SidecarConfig['listen'];
  env: Record<string, string>;
  child?: ChildProcess;
  exited?: Promise<unknown>;
  exitCode?: number | null;
  /** The end of what the process logged, to explain a pod that never got ready. */
  logTail: string;
  readyMs?: number;
}

const LOG_TAIL_CHARS = 2_000;

function describeStuckPod(pod: Pod): string {
  const state = pod.exitCode === undefined ? 'still running' : `exited with code ${pod.exitCode}`;
  const lines = pod.logTail.trim().split('\n').slice(-5).join('\n  ');
  return `pod ${pod.index} (${state}); its last log lines:\n  ${lines || '(none)'}`;
}

/**
 * Ports free now and not given to another pod of the crowd: the kernel hands out ephemeral ports at
 * random, and 90 picks from that range repeat one about one time in seven.
 */
async function distinctListenPorts(taken: Set<number>): Promise<SidecarConfig['listen']> {
  for (;;) {
    const listen = await freeListenPorts();
    const ports = [listen.apiPort, listen.healthPort, listen.metricsPort];
    if (new Set(ports).size === ports.length && ports.every((p) => !taken.has(p))) {
      for (const port of ports) taken.add(port);
      return listen;
    }
  }
}

async function preparePod(index: number, stsUrl: string, taken: Set<number>): Promise<Pod> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-crowd-'));
  const listen = await distinctListenPorts(taken);
  const config = sidecarConfig({ directory: dir, listen, targets: SIDECAR_TARGETS });
  const env = {
    ...sidecarProcessEnv(config, { name: `invoicing-7c9f8d6b5-c${index}`, namespace: 'billing' }),
    ...(await irsaEnv({ dir, region: REGION, roleArn: POD_ROLE, stsUrl })),
  };
  return { index, dir, listen, env, logTail: '' };
}

async function isReady(pod: Pod, files: readonly string[]): Promise<boolean> {
  const written = await Promise.all(
    files.map((f) =>
      stat(join(pod.dir, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (!written.every(Boolean)) return false;
  const reply = await call({ port: pod.listen.healthPort }, 'GET', '/readyz').catch(() => undefined);
  return reply?.status === 200;
}

async function runCrowd(
  root: string,
  argv: readonly string[],
  options: CrowdOptions,
  throttled: boolean,
): Promise<CrowdRun> {
  const sts = await startStsEmulator({
    region: REGION,
    ...(throttled ? { rateLimit: { callsPerSecond: options.callsPerSecond } } : {}),
  });
  const pods: Pod[] = [];
  try {
    const taken = new Set<number>();
    for (let i = 0; i < options.pods; i++) pods.push(await preparePod(i, sts.url, taken));
    const files = targetFiles(SIDECAR_TARGETS);
    const started = process.hrtime.bigint();
    for (const pod of pods) {
      const child = spawn(process.execPath, [...argv], {
        cwd: root,
        env: pod.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk: Buffer) => {
        pod.logTail = (pod.logTail + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      pod.child = child;
      pod.exited = new Promise((r) => {
        child.on('exit', (code) => {
          pod.exitCode = code;
          r(code);
        });
        // A spawn that fails (EAGAIN, EMFILE) emits only 'error': the pod counts as gone.
        child.once('error', (error) => {
          pod.logTail += `spawn failed: ${error.message}`;
          pod.exitCode = null;
          r(undefined);
        });
      });
    }
    for (;;) {
      const waiting = pods.filter((p) => p.readyMs === undefined);
      const [first] = waiting;
      if (first === undefined) break;
      const gone = waiting.find((p) => p.exitCode !== undefined);
      if (gone || msSince(started) > READY_TIMEOUT_MS) {
        const stuck = gone ?? first;
        throw new Error(
          `${waiting.length} of ${pods.length} sidecars not ready after ${Math.round(msSince(started))} ms (${throttled ? 'throttled' : 'no throttling'}): ${describeStuckPod(stuck)}`,
        );
      }
      const now = msSince(started);
      const ready = await Promise.all(waiting.map((p) => isReady(p, files)));
      waiting.forEach((p, i) => {
        if (ready[i]) p.readyMs = now;
      });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const readyMs = pods.map((p) => p.readyMs as number);
    const byAnswer: Record<string, number> = {};
    for (const c of sts.calls)
      byAnswer[`${c.action} ${c.outcome}`] = (byAnswer[`${c.action} ${c.outcome}`] ?? 0) + 1;
    return {
      throttled,
      allReadySeconds: round(Math.max(...readyMs) / 1000, 3),
      perPodReadySeconds: roundSummary(summarize(readyMs.map((ms) => ms / 1000))),
      stsCalls: sts.calls.length,
      stsCallsByAnswer: byAnswer,
    };
  } finally {
    for (const pod of pods) pod.child?.kill('SIGKILL');
    await Promise.all(pods.map((p) => p.exited ?? Promise.resolve()));
    await Promise.all(pods.map((p) => rm(p.dir, { recursive: true, force: true })));
    await sts.close();
  }
}

const median = (values: readonly number[]) => summarize(values).median;

export async function benchCrowd(
  root: string,
  entry: SidecarEntry,
  options: CrowdOptions,
): Promise<CrowdBench> {
  const argv = sidecarArgv(entry);
  const runs: CrowdRun[] = [];
  for (let r = 0; r < options.rounds; r++) {
    // Alternating which goes first, so that neither always meets a warmer page cache.
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const throttled of order) runs.push(await runCrowd(root, argv, options, throttled));
  }
  const pick = (throttled: boolean) => {
    const chosen = runs.filter((x) => x.throttled === throttled);
    return {
      allReadySeconds: median(chosen.map((x) => x.allReadySeconds)),
      stsCalls: median(chosen.map((x) => x.stsCalls)),
    };
  };
  const roles = new Set(SIDECAR_TARGETS.flatMap((t) => (t.roleArn === undefined ? [] : [t.roleArn])));
  const neededCalls = (1 + roles.size) * options.pods;
  const burst = options.callsPerSecond;
  const unthrottled = pick(false);
  const rateBoundSeconds = round(Math.max(0, neededCalls - burst) / options.callsPerSecond, 3);
  return {
    runtime: entry.label,
    command: `node ${argv.join(' ')}`,
    pods: options.pods,
    targets: SIDECAR_TARGETS.length,
    callsPerSecond: options.callsPerSecond,
    burst,
    neededCalls,
    runs,
    throttled: pick(true),
    unthrottled,
    rateBoundSeconds,
    idealSeconds: Math.max(unthrottled.allReadySeconds, rateBoundSeconds),
  };
}
