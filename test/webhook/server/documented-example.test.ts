/**
 * The README's curl example: examples/admission-review.json posted to /mutate must return exactly
 * examples/admission-response.json (with the patch it documents in examples/admission-patch.json).
 * UPDATE_GOLDEN=1 rewrites both files; review the diff.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import { buildApp, createWebhookLogger } from '../../../webhook/src/server/app.ts';
import type { AdmissionReviewResponse } from '../../../webhook/src/server/admission.ts';
import { createWebhookMetrics } from '../../../webhook/src/server/metrics.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { logSink } from './support/log-sink.ts';

const example = (name: string) => new URL(`../../../examples/${name}`, import.meta.url);

const app = buildApp(
  { defaults: BUILTIN_DEFAULTS },
  {
    logger: createWebhookLogger('silent', logSink()),
    metrics: createWebhookMetrics({ defaultMetrics: false }),
  },
);
after(() => app.close());

it('answers the README AdmissionReview with the documented response and patch', async () => {
  const review = readFileSync(example('admission-review.json'), 'utf8');
  const res = await app.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': 'application/json' },
    payload: review,
  });
  assert.equal(res.statusCode, 200);
  const answer = res.json<AdmissionReviewResponse>();
  const patch = JSON.parse(Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8')) as unknown;

  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(example('admission-response.json'), `${JSON.stringify(answer, null, 2)}\n`);
    writeFileSync(example('admission-patch.json'), `${JSON.stringify(patch, null, 2)}\n`);
  }
  assert.deepEqual(answer, JSON.parse(readFileSync(example('admission-response.json'), 'utf8')));
  assert.deepEqual(patch, JSON.parse(readFileSync(example('admission-patch.json'), 'utf8')));

  // The documented patch really produces a pod with the sidecar first and the identity copied into it.
  const pod = (JSON.parse(review) as { request: { object: unknown } }).request.object;
  const patched = jsonpatch.applyPatch(pod, patch as jsonpatch.Operation[], true, false).newDocument as {
    spec: { initContainers: Array<{ name: string; env: Array<{ name: string }> }> };
  };
  const sidecar = patched.spec.initContainers[0];
  assert.equal(sidecar?.name, 'token-broker');
  assert.ok(sidecar.env.some((e) => e.name === 'AWS_WEB_IDENTITY_TOKEN_FILE'));
});
