/**
 * Drives fuzz cases against a running webhook over HTTPS: generates them from a seed (batches of
 * fc.sample, so case N of a seed is always the same), sends them over a few keep-alive connections at
 * once, judges each answer, counts outcomes and failures by property, and keeps the smallest failing
 * case per property. `reduce` then shrinks that case against the server (dropping edits, annotations,
 * options and characters while the same property still fails), so what is printed is minimal.
 */
import { Agent, request } from 'node:https';
import fc from 'fast-check';
import { materialize, type FuzzCase } from './case.ts';
import { fuzzCase } from './generators.ts';
import { judge, PROPERTIES, type Answer, type Outcome, type Property, type Verdict } from './oracle.ts';

export interface Target {
  port: number;
  ca: Buffer;
  /** The name the certificate is checked against. */
  servername: string;
}

export interface RunOptions extends Target {
  cases: number;
  seed: number;
  concurrency: number;
  /** Check answer times (`within-timeout`); off in the test suite, which must not depend on timing. */
  timing: boolean;
  onProgress?: (done: number, report: Report) => void;
}

export interface Failure {
  property: Property;
  detail: string;
  /** `<seed>/<index>`: the case is `fc.sample(fuzzCase, {seed, numRuns})[index]` (see caseAt). */
  id: string;
  case: FuzzCase;
}

export interface Report {
  cases: number;
  outcomes: Partial<Record<Outcome, number>>;
  failures: Record<Property, number>;
  /** The smallest failing case per property (by its printed size). */
  examples: Partial<Record<Property, Failure>>;
  maxMs: number;
  bodyBytes: number;
}

const BATCH = 500;
/** The longest the API server ever waits (timeoutSeconds is at most 30). */
const CLIENT_TIMEOUT_MS = 30_000;

/** The case with this index for this seed (deterministic). */
export function caseAt(seed: number, index: number): FuzzCase {
  const batch = Math.floor(index / BATCH);
  return fc.sample(fuzzCase, { seed: (seed + batch) | 0, numRuns: BATCH })[index % BATCH] as FuzzCase;
}

export function createClient(target: Target, concurrency: number) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: concurrency,
    ca: target.ca,
    servername: target.servername,
  });
  const send = (c: FuzzCase): Promise<{ answer: Answer; materialized: ReturnType<typeof materialize> }> => {
    const materialized = materialize(c);
    const started = performance.now();
    return new Promise((resolve) => {
      const done = (answer: Omit<Answer, 'ms'>) =>
        resolve({ answer: { ...answer, ms: Math.round(performance.now() - started) }, materialized });
      const req = request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: '/mutate?timeout=5s',
          method: 'POST',
          agent,
          headers: { 'content-type': materialized.contentType, 'content-length': materialized.body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (error) => done({ error: error.message }));
        },
      );
      req.on('error', (error) => done({ error: error.message }));
      // A hung webhook must not hang the fuzz: the API server would have given up long before.
      req.setTimeout(CLIENT_TIMEOUT_MS, () =>
        req.destroy(new Error(`no answer within ${CLIENT_TIMEOUT_MS} ms`)),
      );
      req.end(materialized.body);
    });
  };
  return { send, close: () => agent.destroy() };
}

function emptyReport(): Report {
  return {
    cases: 0,
    outcomes: {},
    failures: Object.fromEntries(PROPERTIES.map((p) => [p, 0])) as Record<Property, number>,
    examples: {},
    maxMs: 0,
    bodyBytes: 0,
  };
}

function size(c: FuzzCase): number {
  return JSON.stringify(c).length;
}

export async function runFuzz(options: RunOptions): Promise<Report> {
  const report = emptyReport();
  const client = createClient(options, options.concurrency);
  let next = 0;
  let batchCases: FuzzCase[] = [];
  let batchIndex = -1;
  const take = (): { index: number; c: FuzzCase } | undefined => {
    if (next >= options.cases) return undefined;
    const index = next++;
    const batch = Math.floor(index / BATCH);
    if (batch !== batchIndex) {
      batchIndex = batch;
      batchCases = fc.sample(fuzzCase, { seed: (options.seed + batch) | 0, numRuns: BATCH });
    }
    return { index, c: batchCases[index % BATCH] as FuzzCase };
  };
  const worker = async () => {
    for (let item = take(); item; item = take()) {
      const { answer, materialized } = await client.send(item.c);
      const verdict = judge(item.c, materialized, answer, { timing: options.timing });
      record(report, `${options.seed}/${item.index}`, item.c, verdict, answer, materialized.body.length);
      if (report.cases % 1000 === 0) options.onProgress?.(report.cases, report);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    client.close();
  }
  return report;
}

function record(
  report: Report,
  id: string,
  c: FuzzCase,
  verdict: Verdict,
  answer: Answer,
  bytes: number,
): void {
  report.cases += 1;
  report.bodyBytes += bytes;
  report.maxMs = Math.max(report.maxMs, answer.ms);
  report.outcomes[verdict.outcome] = (report.outcomes[verdict.outcome] ?? 0) + 1;
  const seen = new Set<Property>();
  for (const v of verdict.violations) {
    if (seen.has(v.property)) continue;
    seen.add(v.property);
    report.failures[v.property] += 1;
    const kept = report.examples[v.property];
    if (!kept || size(c) < size(kept.case))
      report.examples[v.property] = { property: v.property, detail: v.detail, id, case: c };
  }
}

/**
 * Smaller variants of a case, most promising first. `wholeValues`: only drop whole edits and
 * annotations, never cut a value (that could leave a planted secret where showing it is fine, e.g. a
 * session token dropped from its option but kept as the database name).
 */
function* shrinkSteps(c: FuzzCase, wholeValues: boolean): Generator<FuzzCase> {
  for (let i = 0; i < (c.edits ?? []).length; i++) {
    yield { ...c, edits: (c.edits ?? []).filter((_, j) => j !== i) };
  }
  for (const key of Object.keys(c.annotations ?? {})) {
    const annotations = { ...c.annotations };
    delete annotations[key];
    yield { ...c, annotations };
  }
  for (const [key, value] of Object.entries(c.annotations ?? {})) {
    if (typeof value !== 'string' || wholeValues) continue;
    // Drop one query option at a time, then halves and single characters of the value.
    const [head, query] = value.split(/\?(.*)/s, 2) as [string, string | undefined];
    const options = query?.split('&') ?? [];
    for (let i = 0; i < options.length; i++) {
      const rest = options.filter((_, j) => j !== i);
      yield {
        ...c,
        annotations: { ...c.annotations, [key]: rest.length > 0 ? `${head}?${rest.join('&')}` : head },
      };
    }
    for (let chunk = Math.floor(value.length / 2); chunk >= 1; chunk = Math.floor(chunk / 2)) {
      for (let at = 0; at + chunk <= value.length; at += chunk) {
        yield {
          ...c,
          annotations: { ...c.annotations, [key]: value.slice(0, at) + value.slice(at + chunk) },
        };
      }
    }
  }
  if (c.truncate !== undefined) yield { ...c, truncate: Math.floor(c.truncate / 2) };
}

/**
 * Shrinks `failure.case` against the server: takes the first smaller variant that still fails the same
 * property, until none does or `budget` requests are spent.
 */
export async function reduce(target: Target, failure: Failure, budget = 300): Promise<Failure> {
  const client = createClient(target, 1);
  let current = failure;
  let spent = 0;
  try {
    let progress = true;
    while (progress && spent < budget) {
      progress = false;
      for (const candidate of shrinkSteps(current.case, failure.property === 'no-secret-echo')) {
        if (spent++ >= budget) break;
        const { answer, materialized } = await client.send(candidate);
        const verdict = judge(candidate, materialized, answer, {
          timing: failure.property === 'within-timeout',
        });
        const same = verdict.violations.find((v) => v.property === failure.property);
        if (same && size(candidate) < size(current.case)) {
          current = { ...current, detail: same.detail, case: candidate };
          progress = true;
          break;
        }
      }
    }
  } finally {
    client.close();
  }
  return current;
}

/** The report as text: counts, then each failing property with its minimal case. */
export function formatReport(report: Report, seconds: number): string {
  const lines = [
    `cases: ${report.cases} in ${seconds.toFixed(1)} s (${Math.round(report.cases / Math.max(seconds, 0.001))}/s), ` +
      `${(report.bodyBytes / 1e6).toFixed(0)} MB sent, slowest answer ${report.maxMs} ms`,
    `outcomes: ${Object.entries(report.outcomes)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `failures by property: ${PROPERTIES.map((p) => `${p} ${report.failures[p]}`).join(', ')}`,
  ];
  for (const p of PROPERTIES) {
    const example = report.examples[p];
    if (!example) continue;
    lines.push(
      '',
      `FAIL ${p} (${report.failures[p]} cases), e.g. case ${example.id}: ${example.detail}`,
      `  replay: npm run fuzz -- --replay '${JSON.stringify(example.case).replace(/'/g, "'\\''")}'`,
    );
  }
  return lines.join('\n');
}
