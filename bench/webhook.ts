/**
 * `POST /mutate` latency with the documented AdmissionReview (examples/admission-review.json):
 * - in process through fastify `app.inject` (no sockets: handler, JSON and pino cost only);
 * - over real HTTPS with keep-alive against `token-broker webhook` running as its own process, as in
 *   the cluster (certificate from certs/generate.sh via the test helper).
 * Logs stay at the default level `info` (one line per admission) and are discarded.
 * Beside it, in the same run and interleaved rounds, its floor: bare fastify over HTTPS with the same
 * certificate answering the webhook's own answer to the same body (bench/baseline/bare-fastify.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp, createWebhookLogger } from '../webhook/src/server/app.ts';
import { createWebhookMetrics } from '../webhook/src/server/metrics.ts';
import { BUILTIN_DEFAULTS } from '../webhook/src/injection/spec.ts';
import { makeTempCertificates, TEST_SERVER_NAME } from '../test/webhook/server/support/certs.ts';
import { measureInterleaved, measureLoad, type LoadResult, type LoadSpec } from './load.ts';
import { call, freePort, keepAliveAgent, waitFor, type Endpoint } from './net.ts';
import { memoryMiB, type MemoryMiB } from './proc.ts';
import { standaloneScript } from './standalone.ts';

export interface WebhookBench {
  payloadBytes: number;
  inject: { sequential: LoadResult; concurrent8: LoadResult };
  https: {
    runtime: string;
    sequential: LoadResult;
    concurrent8: LoadResult;
    memoryAfterLoadMiB: MemoryMiB;
    /** Bare fastify, same certificate, same body, a fixed answer: the webhook's floor. */
    baselineFastify: { sequential: LoadResult; concurrent8: LoadResult; memoryAfterLoadMiB: MemoryMiB };
  };
}

const SEQUENTIAL: LoadSpec = { warmup: 200, rounds: 5, perRound: 300, concurrency: 1 };
const CONCURRENT: LoadSpec = { warmup: 200, rounds: 5, perRound: 400, concurrency: 8 };
/** `--quick`: proves the bench runs, measures little. */
const QUICK_SEQUENTIAL: LoadSpec = { warmup: 20, rounds: 2, perRound: 30, concurrency: 1 };
const QUICK_CONCURRENT: LoadSpec = { warmup: 20, rounds: 2, perRound: 60, concurrency: 8 };

function checkAnswer(status: number, body: string): void {
  if (status !== 200) throw new Error(`status ${status}: ${body.slice(0, 200)}`);
  const answer = JSON.parse(body) as { response?: { allowed?: boolean; patch?: string } };
  if (answer.response?.allowed !== true || !answer.response.patch) {
    throw new Error(`not an allowed response with a patch: ${body.slice(0, 200)}`);
  }
}

async function benchInject(payload: string, quick: boolean): Promise<WebhookBench['inject']> {
  const app = buildApp(
    { defaults: BUILTIN_DEFAULTS },
    {
      logger: createWebhookLogger('info', { write: () => undefined }),
      metrics: createWebhookMetrics({ defaultMetrics: false }),
    },
  );
  await app.ready();
  const send = async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/mutate?timeout=10s',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    checkAnswer(res.statusCode, res.body);
  };
  try {
    return {
      sequential: await measureLoad(quick ? QUICK_SEQUENTIAL : SEQUENTIAL, send),
      concurrent8: await measureLoad(quick ? QUICK_CONCURRENT : CONCURRENT, send),
    };
  } finally {
    await app.close();
  }
}

/** The webhook's own answer to `payload`, which the bare fastify baseline answers to every request. */
async function webhookAnswer(payload: string): Promise<string> {
  const app = buildApp(
    { defaults: BUILTIN_DEFAULTS },
    {
      logger: createWebhookLogger('info', { write: () => undefined }),
      metrics: createWebhookMetrics({ defaultMetrics: false }),
    },
  );
  try {
    const res = await app.inject({
      method: 'POST',
      url: '/mutate?timeout=10s',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    checkAnswer(res.statusCode, res.body);
    return res.body;
  } finally {
    await app.close();
  }
}

interface Server {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

function startServer(root: string, args: string[], env: Record<string, string>, port: number): Server {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return { child, port, exited };
}

async function stopServer(s: Server): Promise<void> {
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await s.exited;
  clearTimeout(timer);
}

/**
 * `entry`: the CLI to run (compiled dist/cli/main.js, or cli/main.ts through tsx). The webhook and
 * the bare fastify baseline run side by side, as processes of their own, and take the same load in
 * interleaved rounds.
 */
async function benchHttps(
  root: string,
  payload: string,
  entry: { label: string; args: string[] },
  quick: boolean,
): Promise<WebhookBench['https']> {
  const certs = await makeTempCertificates();
  const answerFile = join(certs.dir, 'answer.json');
  await writeFile(answerFile, await webhookAnswer(payload));
  const servers: Server[] = [];
  try {
    const webhookPort = await freePort();
    const webhook = startServer(
      root,
      [
        ...entry.args,
        'webhook',
        ...['--host', '127.0.0.1', '--port', String(webhookPort)],
        ...['--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile],
        ...['--service-account-lookup', 'false', '--shutdown-delay', '0s'],
      ],
      { HOME: certs.dir },
      webhookPort,
    );
    servers.push(webhook);
    const fastifyPort = await freePort();
    const fastify = startServer(
      root,
      [await standaloneScript(root, 'bare-fastify')],
      {
        HOME: certs.dir,
        BENCH_PORT: String(fastifyPort),
        BENCH_TLS_CERT_FILE: certs.certFile,
        BENCH_TLS_KEY_FILE: certs.keyFile,
        BENCH_ANSWER_FILE: answerFile,
      },
      fastifyPort,
    );
    servers.push(fastify);
    const tls = { ca: certs.ca, servername: TEST_SERVER_NAME };
    for (const s of servers) {
      await waitFor(
        async () => (await call({ port: s.port, tls }, 'GET', '/readyz')).status === 200,
        `/readyz on port ${s.port}`,
        30_000,
      );
    }
    const run = async (spec: LoadSpec) => {
      const agents = servers.map((s) => keepAliveAgent({ port: s.port, tls }, spec.concurrency));
      const send = (i: number) => async () => {
        const endpoint: Endpoint = { port: servers[i]!.port, tls, agent: agents[i]! };
        const res = await call(endpoint, 'POST', '/mutate?timeout=10s', payload);
        checkAnswer(res.status, res.body);
      };
      try {
        return await measureInterleaved(spec, { webhook: send(0), fastify: send(1) });
      } finally {
        for (const a of agents) a.destroy();
      }
    };
    const sequential = await run(quick ? QUICK_SEQUENTIAL : SEQUENTIAL);
    const concurrent8 = await run(quick ? QUICK_CONCURRENT : CONCURRENT);
    const [webhookMemory, fastifyMemory] = await Promise.all(servers.map((s) => memoryMiB(s.child.pid!)));
    return {
      runtime: entry.label,
      sequential: sequential.webhook,
      concurrent8: concurrent8.webhook,
      memoryAfterLoadMiB: webhookMemory!,
      baselineFastify: {
        sequential: sequential.fastify,
        concurrent8: concurrent8.fastify,
        memoryAfterLoadMiB: fastifyMemory!,
      },
    };
  } finally {
    await Promise.all(servers.map(stopServer));
    await certs.cleanup();
  }
}

export async function benchWebhook(
  root: string,
  entry: { label: string; args: string[] },
  quick = false,
): Promise<WebhookBench> {
  const payload = await readFile(new URL('../examples/admission-review.json', import.meta.url), 'utf8');
  return {
    payloadBytes: Buffer.byteLength(payload),
    inject: await benchInject(payload, quick),
    https: await benchHttps(root, payload, entry, quick),
  };
}
