/**
 * A bounded closed-loop load driver: `count` calls of `send`, at most `concurrency` in flight, each
 * call timed. Used for fastify inject, HTTPS and the sidecar's HTTP API alike.
 */
import { roundSummary, summarize, msSince, round, type Summary } from './stats.ts';

export interface LoadRun {
  latenciesMs: number[];
  wallMs: number;
  errors: number;
  firstError?: string;
}

export async function runLoad(
  count: number,
  concurrency: number,
  send: () => Promise<void>,
): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      next++;
      const t0 = process.hrtime.bigint();
      try {
        await send();
        latenciesMs.push(msSince(t0));
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { latenciesMs, wallMs: msSince(started), errors, ...(firstError ? { firstError } : {}) };
}

export interface LoadSpec {
  warmup: number;
  rounds: number;
  perRound: number;
  concurrency: number;
}

export interface LoadResult {
  concurrency: number;
  requests: number;
  warmup: number;
  rounds: number;
  errors: number;
  firstError?: string;
  /** Per-request latency over every measured request. */
  latencyMs: Summary;
  /** Requests per second, one sample per round. */
  throughputPerSecond: Summary;
}

/** Warm-up, then `rounds` rounds of `perRound` requests; latency over all, throughput per round. */
export async function measureLoad(spec: LoadSpec, send: () => Promise<void>): Promise<LoadResult> {
  return (await measureInterleaved(spec, { only: send })).only;
}

/**
 * The same load against several servers in one run: each is warmed up, then round r of every server
 * runs before round r + 1 of any, in an order that rotates each round, so drift in the machine's
 * load (other work, thermal) falls on all of them alike instead of on whichever ran last.
 */
export async function measureInterleaved<K extends string>(
  spec: LoadSpec,
  sends: Record<K, () => Promise<void>>,
): Promise<Record<K, LoadResult>> {
  const names = Object.keys(sends) as K[];
  const acc = new Map<
    K,
    { latencies: number[]; throughput: number[]; errors: number; firstError?: string }
  >();
  for (const name of names) {
    const warm = await runLoad(spec.warmup, spec.concurrency, sends[name]);
    acc.set(name, {
      latencies: [],
      throughput: [],
      errors: warm.errors,
      ...(warm.firstError ? { firstError: warm.firstError } : {}),
    });
  }
  for (let r = 0; r < spec.rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(r + i) % names.length] as K;
      const a = acc.get(name) as NonNullable<ReturnType<typeof acc.get>>;
      const run = await runLoad(spec.perRound, spec.concurrency, sends[name]);
      a.latencies.push(...run.latenciesMs);
      a.throughput.push(run.latenciesMs.length / (run.wallMs / 1000));
      a.errors += run.errors;
      a.firstError ??= run.firstError;
    }
  }
  const out = {} as Record<K, LoadResult>;
  for (const name of names) {
    const a = acc.get(name) as NonNullable<ReturnType<typeof acc.get>>;
    out[name] = {
      concurrency: spec.concurrency,
      requests: spec.rounds * spec.perRound,
      warmup: spec.warmup,
      rounds: spec.rounds,
      errors: a.errors,
      ...(a.firstError ? { firstError: a.firstError } : {}),
      latencyMs: roundSummary(summarize(a.latencies)),
      throughputPerSecond: roundSummary(summarize(a.throughput.map((t) => round(t, 6)))),
    };
  }
  return out;
}
