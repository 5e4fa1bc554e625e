/**
 * `POST /mutate` latency with the documented AdmissionReview (examples/admission-review.json):
 * - in process through fastify `app.inject` (no sockets: handler, JSON and pino cost only);
 * - over real HTTPS with keep-alive against `token-broker webhook` running as its own process, as in
 *   the cluster (certificate from certs/generate.sh via the test helper).
 * Logs stay at the default level `info` (one line per admission) and are discarded.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { buildApp, createWebhookLogger } from '../webhook/src/app.ts';
import { createWebhookMetrics } from '../webhook/src/metrics.ts';
import { BUILTIN_DEFAULTS } from '../webhook/src/spec.ts';
import { makeTempCertificates, TEST_SERVER_NAME } from '../test/webhook/server/support/certs.ts';
import { measureLoad, type LoadResult, type LoadSpec } from './load.ts';
import { call, freePort, keepAliveAgent, waitFor, type Endpoint } from './net.ts';

export interface WebhookBench {
  payloadBytes: number;
  inject: { sequential: LoadResult; concurrent8: LoadResult };
  https: { runtime: string; sequential: LoadResult; concurrent8: LoadResult };
}

const SEQUENTIAL: LoadSpec = { warmup: 200, rounds: 5, perRound: 300, concurrency: 1 };
const CONCURRENT: LoadSpec = { warmup: 200, rounds: 5, perRound: 400, concurrency: 8 };

function checkAnswer(status: number, body: string): void {
  if (status !== 200) throw new Error(`status ${status}: ${body.slice(0, 200)}`);
  const answer = JSON.parse(body) as { response?: { allowed?: boolean; patch?: string } };
  if (answer.response?.allowed !== true || !answer.response.patch) {
    throw new Error(`not an allowed response with a patch: ${body.slice(0, 200)}`);
  }
}

async function benchInject(payload: string): Promise<WebhookBench['inject']> {
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
      sequential: await measureLoad(SEQUENTIAL, send),
      concurrent8: await measureLoad(CONCURRENT, send),
    };
  } finally {
    await app.close();
  }
}

/** `entry`: the CLI to run (compiled dist/cli/main.js, or cli/main.ts through tsx). */
async function benchHttps(
  root: string,
  payload: string,
  entry: { label: string; args: string[] },
): Promise<WebhookBench['https']> {
  const certs = await makeTempCertificates();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...entry.args,
      'webhook',
      ...['--host', '127.0.0.1', '--port', String(port)],
      ...['--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile],
      ...['--service-account-lookup', 'false', '--shutdown-delay', '0s'],
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: certs.dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const tls = { ca: certs.ca, servername: TEST_SERVER_NAME };
  try {
    await waitFor(
      async () => (await call({ port, tls }, 'GET', '/readyz')).status === 200,
      'webhook /readyz',
      30_000,
    );
    const run = async (spec: LoadSpec) => {
      const agent = keepAliveAgent({ port, tls }, spec.concurrency);
      const endpoint: Endpoint = { port, tls, agent };
      try {
        return await measureLoad(spec, async () => {
          const res = await call(endpoint, 'POST', '/mutate?timeout=10s', payload);
          checkAnswer(res.status, res.body);
        });
      } finally {
        agent.destroy();
      }
    };
    return { runtime: entry.label, sequential: await run(SEQUENTIAL), concurrent8: await run(CONCURRENT) };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await certs.cleanup();
  }
}

export async function benchWebhook(
  root: string,
  entry: { label: string; args: string[] },
): Promise<WebhookBench> {
  const payload = await readFile(new URL('../examples/admission-review.json', import.meta.url), 'utf8');
  return {
    payloadBytes: Buffer.byteLength(payload),
    inject: await benchInject(payload),
    https: await benchHttps(root, payload, entry),
  };
}
