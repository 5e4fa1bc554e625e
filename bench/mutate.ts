/**
 * Throughput of the webhook's pure core, `mutatePod`: the examples' pod templates as the webhook sees
 * them (with their ServiceAccount), and a pod with three targets. Every call is timed on its own.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Pod } from '../webhook/src/injection/k8s-types.ts';
import { mutatePod, type MutateInput } from '../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../webhook/src/injection/spec.ts';
import { msSince, round, roundSummary, summarize, type Summary } from './stats.ts';

export interface MutateCase {
  name: string;
  targets: number;
  patchOperations: number;
  calls: number;
  warmup: number;
  rounds: number;
  /** Pods per second, one sample per round. */
  podsPerSecond: Summary;
  /** Per-call latency in microseconds over every measured call. */
  latencyUs: Summary;
}

interface Manifest {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { template?: Pod };
}

async function exampleInput(root: string, file: string): Promise<MutateInput> {
  const docs = parseAllDocuments(await readFile(join(root, 'examples', file), 'utf8')).map(
    (d) => d.toJS() as Manifest,
  );
  const workload = docs.find((d) => d.spec?.template);
  const template = workload?.spec?.template;
  if (!template) throw new Error(`examples/${file}: no pod template`);
  const saName = template.spec.serviceAccountName ?? 'default';
  const sa = docs.find((d) => d.kind === 'ServiceAccount' && d.metadata?.name === saName);
  return {
    pod: template,
    namespace: workload?.metadata?.namespace ?? 'default',
    defaults: BUILTIN_DEFAULTS,
    serviceAccount: sa ? { name: saName, annotations: sa.metadata?.annotations ?? {} } : undefined,
  };
}

/** The invoicing template with a second RDS target (MySQL, own role) and a Mongo target (own role). */
function threeTargets(invoicing: MutateInput): MutateInput {
  const pod = structuredClone(invoicing.pod);
  pod.metadata = {
    ...pod.metadata,
    annotations: {
      ...pod.metadata?.annotations,
      'token-broker.io/rds-ledger':
        'mysql://ledger_app@ledger.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com/ledger?role=arn:aws:iam::111122223333:role/ledger-db',
      'token-broker.io/mongo-orders':
        'mongodb+srv://cluster0.a1b2c3.mongodb.net/orders?region=eu-west-1&role=arn:aws:iam::111122223333:role/MongoAccessRole&retryWrites=true',
    },
  };
  return { ...invoicing, pod };
}

function countTargets(pod: Pod): number {
  return Object.keys(pod.metadata?.annotations ?? {}).filter((k) => /^token-broker\.io\/(rds|mongo)-/.test(k))
    .length;
}

function measure(
  name: string,
  input: MutateInput,
  warmup: number,
  rounds: number,
  calls: number,
): MutateCase {
  const first = mutatePod(input);
  if (first.outcome !== 'injected')
    throw new Error(`${name}: expected "injected", got ${JSON.stringify(first)}`);
  for (let i = 0; i < warmup; i++) mutatePod(input);
  const latencies: number[] = [];
  const throughput: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const roundStart = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const t0 = process.hrtime.bigint();
      mutatePod(input);
      latencies.push(msSince(t0) * 1000);
    }
    throughput.push(calls / (msSince(roundStart) / 1000));
  }
  return {
    name,
    targets: countTargets(input.pod),
    patchOperations: first.patch.length,
    calls: rounds * calls,
    warmup,
    rounds,
    podsPerSecond: roundSummary(summarize(throughput.map((t) => round(t, 6)))),
    latencyUs: roundSummary(summarize(latencies)),
  };
}

/** `quick`: a smoke run (a few calls) that proves the bench works. */
export async function benchMutate(root: string, quick = false): Promise<MutateCase[]> {
  const invoicing = await exampleInput(root, 'invoicing-rds-postgres.yaml');
  const atlas = await exampleInput(root, 'atlas-mongo-app.yaml');
  const [warmup, rounds, calls] = quick ? [100, 2, 100] : [2000, 7, 1000];
  return [
    measure('examples/invoicing-rds-postgres.yaml', invoicing, warmup, rounds, calls),
    measure('examples/atlas-mongo-app.yaml', atlas, warmup, rounds, calls),
    measure('3 targets (postgres, mysql+role, mongo+role)', threeTargets(invoicing), warmup, rounds, calls),
  ];
}
