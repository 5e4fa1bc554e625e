/**
 * The figures of a start storm (bench/storm.ts), from what it recorded: when each pod was ready and
 * every call STS saw. Pure, so a table test pins them.
 *
 * - Ideal time: the needed calls at the throttled rate, less the burst STS accepts at once:
 *   (needed - burst) / rate. No client can be ready sooner without fewer calls.
 * - Ideal calls: the needed ones (per pod: one web identity, one AssumeRole per distinct role).
 *   Every call STS sees counts, throttled or not, whoever made it (our retries or the SDK's own).
 * - Floor for pods that call at once when they start (as a sidecar must, to be ready soon): each
 *   pod's first call (its identity) comes at the same instant, so all but the burst are throttled at
 *   least once: needed + (pods - burst) calls, however good the backoff after that.
 */
import { summarize, round, roundSummary, type Summary } from './stats.ts';

export interface StormCall {
  /** Index of the pod that made the call, when the call names it (its session name). */
  pod: number | undefined;
  action: string;
  outcome: string;
}

export interface StormInput {
  /** Per pod: ms from the storm's start to every target fresh; undefined: never ready. */
  readyMs: readonly (number | undefined)[];
  calls: readonly StormCall[];
  neededCallsPerPod: number;
  callsPerSecond: number;
  burst: number;
}

export interface StormFigures {
  pods: number;
  podsReady: number;
  /** Storm start to the last pod ready (seconds); NaN when one never was. */
  allReadySeconds: number;
  idealSeconds: number;
  /** allReadySeconds / idealSeconds. */
  timeVsIdeal: number;
  stsCalls: number;
  neededCalls: number;
  /** stsCalls / neededCalls; the goal is at most 1.2. */
  callsVsNeeded: number;
  /** needed + (pods - burst): the fewest calls when every pod calls at the same instant. */
  callsFloorAtOnce: number;
  throttled: number;
  /** Calls that failed otherwise (neither ok nor Throttling). */
  otherFailures: number;
  callsByOutcome: Record<string, number>;
  /** "AssumeRoleWithWebIdentity Throttling": 40, ... */
  callsByActionOutcome: Record<string, number>;
  perPodReadySeconds: Summary;
  worstPod: { pod: number; readySeconds: number; stsCalls: number; throttled: number } | undefined;
  /** How many pods made how many calls: {"2": 950, "3": 50}. */
  podsByCallCount: Record<string, number>;
}

const THROTTLED = 'Throttling';

export function stormFigures(input: StormInput): StormFigures {
  const pods = input.readyMs.length;
  const ready = input.readyMs.filter((v): v is number => v !== undefined);
  const neededCalls = pods * input.neededCallsPerPod;
  const idealSeconds = Math.max(0, neededCalls - input.burst) / input.callsPerSecond;
  const allReadySeconds = ready.length === pods && pods > 0 ? Math.max(...ready) / 1000 : Number.NaN;
  const callsByOutcome: Record<string, number> = {};
  const callsByActionOutcome: Record<string, number> = {};
  const perPod = input.readyMs.map(() => ({ calls: 0, throttled: 0 }));
  for (const c of input.calls) {
    callsByOutcome[c.outcome] = (callsByOutcome[c.outcome] ?? 0) + 1;
    const key = `${c.action} ${c.outcome}`;
    callsByActionOutcome[key] = (callsByActionOutcome[key] ?? 0) + 1;
    const p = c.pod === undefined ? undefined : perPod[c.pod];
    if (p) {
      p.calls++;
      if (c.outcome === THROTTLED) p.throttled++;
    }
  }
  const throttled = callsByOutcome[THROTTLED] ?? 0;
  const ok = callsByOutcome.ok ?? 0;
  // The worst pod: never ready, else the last one ready.
  let worst: number | undefined;
  input.readyMs.forEach((ms, i) => {
    const w = worst === undefined ? undefined : input.readyMs[worst];
    if (worst === undefined || (w !== undefined && (ms === undefined || ms > w))) worst = i;
  });
  const podsByCallCount: Record<string, number> = {};
  for (const p of perPod) podsByCallCount[String(p.calls)] = (podsByCallCount[String(p.calls)] ?? 0) + 1;
  const worstMs = worst === undefined ? undefined : input.readyMs[worst];
  return {
    pods,
    podsReady: ready.length,
    allReadySeconds: round(allReadySeconds),
    idealSeconds: round(idealSeconds),
    timeVsIdeal: idealSeconds > 0 ? round(allReadySeconds / idealSeconds, 3) : Number.NaN,
    stsCalls: input.calls.length,
    neededCalls,
    callsVsNeeded: neededCalls > 0 ? round(input.calls.length / neededCalls, 3) : Number.NaN,
    callsFloorAtOnce: neededCalls + Math.max(0, pods - input.burst),
    throttled,
    otherFailures: input.calls.length - ok - throttled,
    callsByOutcome,
    callsByActionOutcome,
    perPodReadySeconds: roundSummary(summarize(ready.map((ms) => ms / 1000))),
    worstPod:
      worst === undefined
        ? undefined
        : {
            pod: worst,
            readySeconds: worstMs === undefined ? Number.NaN : round(worstMs / 1000),
            stsCalls: perPod[worst]?.calls ?? 0,
            throttled: perPod[worst]?.throttled ?? 0,
          },
    podsByCallCount,
  };
}
