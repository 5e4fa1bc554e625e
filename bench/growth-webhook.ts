/**
 * How the webhook's `POST /mutate` latency grows with the targets a pod names: the documented
 * AdmissionReview (examples/admission-review.json) with its one `token-broker.io/rds-<name>`
 * annotation, and the same pod with 20. In process through fastify `app.inject` (no sockets): the
 * handler, the injection core, JSON and the log line, which is what grows with the targets; the
 * HTTPS cost per request is the same for both and is measured in the webhook section.
 */
import { readFile } from 'node:fs/promises';
import { buildApp, createWebhookLogger } from '../webhook/src/server/app.ts';
import { createWebhookMetrics } from '../webhook/src/server/metrics.ts';
import { BUILTIN_DEFAULTS } from '../webhook/src/injection/spec.ts';
import { measureLoad, type LoadResult, type LoadSpec } from './load.ts';

export interface WebhookGrowthPoint {
  annotations: number;
  payloadBytes: number;
  patchBytes: number;
  sequential: LoadResult;
}

const FULL: LoadSpec = { warmup: 200, rounds: 5, perRound: 300, concurrency: 1 };
const QUICK: LoadSpec = { warmup: 20, rounds: 2, perRound: 40, concurrency: 1 };

const RDS_PREFIX = 'token-broker.io/rds-';

/** The example review with `count` RDS targets: its own first, then db-2 ... db-<count>. */
export function reviewWithTargets(example: string, count: number): string {
  const review = JSON.parse(example) as {
    request: { object: { metadata: { annotations: Record<string, string> } } };
  };
  const annotations = review.request.object.metadata.annotations;
  for (let i = 2; i <= count; i++) {
    annotations[`${RDS_PREFIX}db-${i}`] =
      `postgres://user${i}@db-${i}.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com/app${i}`;
  }
  const targets = Object.keys(annotations).filter((k) => k.startsWith(RDS_PREFIX)).length;
  if (targets !== count)
    throw new Error(`the example has ${targets} rds targets, expected to build ${count}`);
  return JSON.stringify(review);
}

export async function benchWebhookGrowth(quick: boolean, counts = [1, 20]): Promise<WebhookGrowthPoint[]> {
  const example = await readFile(new URL('../examples/admission-review.json', import.meta.url), 'utf8');
  const app = buildApp(
    { defaults: BUILTIN_DEFAULTS },
    {
      logger: createWebhookLogger('info', { write: () => undefined }),
      metrics: createWebhookMetrics({ defaultMetrics: false }),
    },
  );
  await app.ready();
  try {
    const out: WebhookGrowthPoint[] = [];
    for (const count of counts) {
      const payload = reviewWithTargets(example, count);
      let patchBytes = 0;
      const send = async () => {
        const res = await app.inject({
          method: 'POST',
          url: '/mutate?timeout=10s',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        const answer = JSON.parse(res.body) as { response?: { allowed?: boolean; patch?: string } };
        if (res.statusCode !== 200 || answer.response?.allowed !== true || !answer.response.patch) {
          throw new Error(`${count} targets: not an allowed answer with a patch: ${res.body.slice(0, 200)}`);
        }
        patchBytes = Buffer.from(answer.response.patch, 'base64').length;
      };
      const sequential = await measureLoad(quick ? QUICK : FULL, send);
      out.push({ annotations: count, payloadBytes: Buffer.byteLength(payload), patchBytes, sequential });
    }
    return out;
  } finally {
    await app.close();
  }
}
