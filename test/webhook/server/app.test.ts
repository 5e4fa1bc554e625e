import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import type { FastifyInstance } from 'fastify';
import { buildApp, createWebhookLogger, type AppDeps } from '../../../webhook/src/app.ts';
import type { AdmissionReviewResponse } from '../../../webhook/src/admission.ts';
import { createWebhookMetrics, type WebhookMetrics } from '../../../webhook/src/metrics.ts';
import { createCachedServiceAccountLookup } from '../../../webhook/src/service-account-lookup.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/spec.ts';
import { hangingFetcher, staticLookup, throwingLookup } from '../../fakes/service-account-lookup.ts';
import { logSink, type LogSink } from './support/log-sink.ts';
import { optedInPod, plainPod, review } from './support/pods.ts';

interface Harness {
  app: FastifyInstance;
  metrics: WebhookMetrics;
  logs: LogSink;
}

const apps: FastifyInstance[] = [];
after(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

function harness(deps: Partial<AppDeps> = {}): Harness {
  const logs = logSink();
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  const app = buildApp(
    { defaults: BUILTIN_DEFAULTS },
    { logger: createWebhookLogger('debug', logs), metrics, ...deps },
  );
  apps.push(app);
  return { app, metrics, logs };
}

async function post(app: FastifyInstance, body: unknown, contentType = 'application/json') {
  return app.inject({
    method: 'POST',
    // As the API server calls it: with its timeout in the query.
    url: '/mutate?timeout=10s',
    headers: { 'content-type': contentType },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function admissions(metrics: WebhookMetrics, outcome: string): Promise<number> {
  const metric = await metrics.admissions.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

void describe('POST /mutate', () => {
  void it('injects an opted-in pod: the patch applied to the pod adds the sidecar', async () => {
    const { app, metrics } = harness();
    const pod = optedInPod();
    const res = await post(app, review(pod));
    assert.equal(res.statusCode, 200);
    const answer = res.json<AdmissionReviewResponse>();
    assert.equal(answer.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    const patch = JSON.parse(
      Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8'),
    ) as jsonpatch.Operation[];
    const patched = jsonpatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
    assert.equal(patched.metadata?.annotations?.['token-broker.io/status'], 'injected');
    assert.ok(
      [...(patched.spec.initContainers ?? []), ...patched.spec.containers].some(
        (c) => c.name === 'token-broker',
      ),
    );
    assert.equal(await admissions(metrics, 'injected'), 1);
  });

  void it('allows a pod that did not opt in, without a patch', async () => {
    const { app, metrics } = harness();
    const res = await post(app, review(plainPod()));
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json<AdmissionReviewResponse>().response, {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
    });
    assert.equal(await admissions(metrics, 'skipped'), 1);
  });

  void it('denies a malformed annotation with the message, and never logs the secret', async () => {
    const { app, metrics, logs } = harness();
    const pod = optedInPod({
      'token-broker.io/rds-invoicing': 'postgres://app:hunter2@db.eu-west-1.rds.amazonaws.com/x',
    });
    const res = await post(app, review(pod));
    assert.equal(res.statusCode, 200);
    const { response } = res.json<AdmissionReviewResponse>();
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.match(response.status?.message ?? '', /token-broker.io\/rds-invoicing.*password/s);
    assert.doesNotMatch(res.body, /hunter2/);
    assert.doesNotMatch(logs.text(), /hunter2/);
    assert.equal(await admissions(metrics, 'denied'), 1);
  });

  void it('logs one line per admission with namespace, pod and outcome, and no env values', async () => {
    const { app, logs } = harness();
    await post(app, review(optedInPod()));
    const lines = logs.entries().filter((e) => e.msg === 'admission');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.namespace, 'billing');
    assert.equal(lines[0]?.pod, 'invoicing-7d9f8-*');
    assert.equal(lines[0]?.outcome, 'injected');
    assert.equal(typeof lines[0]?.durationMs, 'number');
    assert.doesNotMatch(logs.text(), /not-logged-value|TOKEN_BROKER_CONFIG/);
  });

  void it('passes dry runs through the same mutation', async () => {
    const { app } = harness();
    const wet = await post(app, review(optedInPod()));
    const dry = await post(app, review(optedInPod(), { dryRun: true }));
    assert.equal(
      dry.json<AdmissionReviewResponse>().response.patch,
      wet.json<AdmissionReviewResponse>().response.patch,
    );
  });

  void it('allows UPDATE without mutating', async () => {
    const { app, metrics } = harness();
    const res = await post(app, review(optedInPod(), { operation: 'UPDATE', oldObject: optedInPod() }));
    assert.deepEqual(res.json<AdmissionReviewResponse>().response, {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
    });
    assert.equal(await admissions(metrics, 'skipped'), 1);
  });

  const badBodies: [string, string, string, number, RegExp][] = [
    ['not JSON', '{"apiVersion": ', 'application/json', 400, /not valid JSON/],
    ['empty', '', 'application/json', 400, /empty/],
    ['plain text', 'hello', 'text/plain', 415, /Content-Type must be application\/json/],
    ['JSON but not a review', '{"hello":"world"}', 'application/json', 400, /apiVersion is missing/],
    ['a JSON array', '[1,2]', 'application/json', 400, /must be a JSON object/],
    [
      'v1beta1',
      JSON.stringify({ ...review(plainPod()), apiVersion: 'admission.k8s.io/v1beta1' }),
      'application/json',
      400,
      /speaks only "admission.k8s.io\/v1"/,
    ],
    [
      'a Deployment',
      JSON.stringify(review({}, { resource: { group: 'apps', version: 'v1', resource: 'deployments' } })),
      'application/json',
      400,
      /mutates only core v1 pods/,
    ],
    [
      'no uid',
      JSON.stringify(review(plainPod(), { uid: undefined })),
      'application/json',
      400,
      /request.uid is missing/,
    ],
  ];
  for (const [name, body, type, status, message] of badBodies) {
    void it(`answers ${status} with the reason for ${name}`, async () => {
      const { app, metrics } = harness();
      const res = await post(app, body, type);
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.json<{ message: string }>().message, message);
      assert.equal(await admissions(metrics, 'error'), 1);
    });
  }

  void it('answers 413 for a body over 6 MiB', async () => {
    const { app } = harness();
    const res = await post(app, JSON.stringify({ padding: 'x'.repeat(6 * 1024 * 1024 + 1) }));
    assert.equal(res.statusCode, 413);
    assert.match(res.json<{ message: string }>().message, /larger than/);
  });

  void it('answers 500 (failurePolicy applies) when the mutation itself throws, counted as error', async () => {
    const { app, metrics, logs } = harness({
      mutate: () => {
        throw new Error('bug');
      },
    });
    const res = await post(app, review(optedInPod()));
    assert.equal(res.statusCode, 500);
    assert.match(res.body, /see webhook logs/);
    assert.equal(await admissions(metrics, 'error'), 1);
    assert.match(logs.text(), /internal error/);
  });
});

void describe('ServiceAccount lookup never blocks admission', () => {
  void it('a ServiceAccount without an IRSA role gives a warning', async () => {
    const lookup = staticLookup({});
    const { app } = harness({ serviceAccountLookup: lookup });
    const res = await post(app, review(optedInPod()));
    const { response } = res.json<AdmissionReviewResponse>();
    assert.equal(response.allowed, true);
    assert.deepEqual(lookup.calls, ['billing/invoicing']);
    assert.ok(
      response.warnings?.some((w) => /eks.amazonaws.com\/role-arn/.test(w)),
      JSON.stringify(response),
    );
  });

  void it('a ServiceAccount with an IRSA role gives no warning', async () => {
    const lookup = staticLookup({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/invoicing' });
    const { app } = harness({ serviceAccountLookup: lookup });
    const { response } = (await post(app, review(optedInPod()))).json<AdmissionReviewResponse>();
    assert.equal(response.allowed, true);
    assert.equal(response.warnings, undefined);
  });

  void it('is not consulted for pods that did not opt in', async () => {
    const lookup = staticLookup({});
    const { app } = harness({ serviceAccountLookup: lookup });
    await post(app, review(plainPod()));
    assert.deepEqual(lookup.calls, []);
  });

  void it('a lookup that throws: allowed, patched, no ServiceAccount warning', async () => {
    const lookup = throwingLookup();
    const { app } = harness({ serviceAccountLookup: lookup });
    const { response } = (await post(app, review(optedInPod()))).json<AdmissionReviewResponse>();
    assert.equal(lookup.calls, 1);
    assert.equal(response.allowed, true);
    assert.ok(response.patch);
    assert.equal(response.warnings, undefined);
  });

  void it('an API server that never answers: allowed after the lookup timeout, no ServiceAccount warning', async () => {
    const fetcher = hangingFetcher();
    const lookup = createCachedServiceAccountLookup(fetcher.fetch, { timeoutMs: 20 });
    const { app } = harness({ serviceAccountLookup: lookup });
    const { response } = (await post(app, review(optedInPod()))).json<AdmissionReviewResponse>();
    assert.deepEqual(fetcher.calls, ['billing/invoicing']);
    assert.equal(response.allowed, true);
    assert.ok(response.patch);
    assert.equal(response.warnings, undefined);
  });
});

void describe('health, readiness and metrics', () => {
  void it('/healthz is 200; /readyz follows isReady', async () => {
    let ready = false;
    const { app } = harness({ isReady: () => ready });
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
    ready = true;
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
  });

  void it('/metrics exposes admissions by outcome and the duration histogram, and they move', async () => {
    const { app } = harness();
    const before = (await app.inject({ url: '/metrics' })).body;
    assert.match(before, /token_broker_webhook_admissions_total\{outcome="injected"\} 0/);
    await post(app, review(optedInPod()));
    await post(app, review(plainPod()));
    await post(app, 'nope');
    const res = await app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    assert.match(res.body, /token_broker_webhook_admissions_total\{outcome="injected"\} 1/);
    assert.match(res.body, /token_broker_webhook_admissions_total\{outcome="skipped"\} 1/);
    assert.match(res.body, /token_broker_webhook_admissions_total\{outcome="error"\} 1/);
    assert.match(res.body, /token_broker_webhook_admission_duration_seconds_count 3/);
  });

  void it('the default registry also carries process metrics', async () => {
    const metrics = createWebhookMetrics();
    assert.match(await metrics.registry.metrics(), /process_cpu_seconds_total/);
  });
});
