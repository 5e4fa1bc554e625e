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
  const warm = await runLoad(spec.warmup, spec.concurrency, send);
  const latencies: number[] = [];
  const throughput: number[] = [];
  let errors = warm.errors;
  let firstError = warm.firstError;
  for (let r = 0; r < spec.rounds; r++) {
    const run = await runLoad(spec.perRound, spec.concurrency, send);
    latencies.push(...run.latenciesMs);
    throughput.push(run.latenciesMs.length / (run.wallMs / 1000));
    errors += run.errors;
    firstError ??= run.firstError;
  }
  return {
    concurrency: spec.concurrency,
    requests: spec.rounds * spec.perRound,
    warmup: spec.warmup,
    rounds: spec.rounds,
    errors,
    ...(firstError ? { firstError } : {}),
    latencyMs: roundSummary(summarize(latencies)),
    throughputPerSecond: roundSummary(summarize(throughput.map((t) => round(t, 6)))),
  };
}
