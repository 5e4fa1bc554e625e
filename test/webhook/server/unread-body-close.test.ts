/**
 * An answer sent before the request body was read closes the connection (the unread rest would stall
 * the next request on it); an answer to a fully read request keeps the connection open.
 */

import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildApp, createWebhookLogger } from '../../../webhook/src/server/app.ts';
import { createWebhookMetrics } from '../../../webhook/src/server/metrics.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { logSink } from './support/log-sink.ts';
import { optedInPod, review } from './support/pods.ts';

const app = buildApp(
  { defaults: BUILTIN_DEFAULTS },
  {
    logger: createWebhookLogger('info', logSink()),
    metrics: createWebhookMetrics({ defaultMetrics: false }),
  },
);
let port = 0;

before(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
after(() => app.close());

/** Sends the headers and only `sent` of `declared` body bytes, and resolves with the answer's status and headers. */
function post(
  path: string,
  contentType: string,
  body: string,
  declared = Buffer.byteLength(body),
): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          'content-type': contentType,
          'content-length': String(declared),
          connection: 'keep-alive',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
        });
      },
    );
    req.on('error', reject);
    req.write(body);
  });
}

test('an answer before the body is read carries connection: close', async () => {
  const answer = await post('/mutate', 'text/plain', 'x'.repeat(100), 100_000);
  assert.equal(answer.status, 415);
  assert.equal(answer.connection, 'close');
});

test('an answer to a fully read request keeps the connection alive', async () => {
  const answer = await post('/mutate', 'application/json', JSON.stringify(review(optedInPod())));
  assert.equal(answer.status, 200);
  assert.equal(answer.connection, 'keep-alive');
});
