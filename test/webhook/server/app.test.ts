import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import type { FastifyInstance } from 'fastify';
import {
  BODY_LIMIT_BYTES,
  buildApp,
  createWebhookLogger,
  type AppDeps,
} from '../../../webhook/src/server/app.ts';
import type { AdmissionReviewResponse } from '../../../webhook/src/server/admission.ts';
import { createWebhookMetrics, type WebhookMetrics } from '../../../webhook/src/server/metrics.ts';
import { createCachedServiceAccountLookup } from '../../../webhook/src/server/service-account-lookup.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
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

  void it('answers an AdmissionReview, not a 400, for a pod carrying a __proto__ or constructor key', async () => {
    const { app } = harness();
    // JSON.stringify cannot write a `__proto__` key, so it is spliced into the text.
    const body = JSON.stringify(review(optedInPod())).replace(
      '"containers":[{',
      '"containers":[{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},',
    );
    assert.match(body, /__proto__/);
    const res = await post(app, body);
    assert.equal(res.statusCode, 200);
    const answer = res.json<AdmissionReviewResponse>();
    assert.equal(answer.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(answer.response.allowed, true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
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

  void it('answers 413 for a body over the API server-derived limit (3.5 MiB), before parsing it', async () => {
    assert.equal(BODY_LIMIT_BYTES, 3.5 * 1024 * 1024);
    const { app } = harness();
    const res = await post(app, JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT_BYTES) }));
    assert.equal(res.statusCode, 413);
    assert.match(res.json<{ message: string }>().message, /larger than 3670016 bytes/);
  });

  void it('answers a review just under the body limit', async () => {
    const { app } = harness();
    const body = JSON.stringify(review(plainPod()));
    const padded = body.replace(
      '"oldObject":null',
      `"oldObject":null,"pad":"${'x'.repeat(BODY_LIMIT_BYTES - body.length - 20)}"`,
    );
    assert.ok(padded.length < BODY_LIMIT_BYTES);
    const res = await post(app, padded);
    assert.equal(res.statusCode, 200, res.body.slice(0, 200));
  });

  void it('a body that is not JSON gets a 400 that does not quote the body (it may hold a secret)', async () => {
    const { app } = harness();
    const res = await post(app, '{"password": "hunter2-in-a-broken-body" oops');
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ message: string }>().message, /not valid JSON/);
    assert.doesNotMatch(res.body, /hunter2/);
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

/** `{a: {a: ... 1}}` as JSON text, `depth` levels deep (JSON.stringify would overflow building it). */
function nestedJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** The review with `json` spliced in as the value of `field` inside the pod's first container. */
function reviewWithRaw(pod: object, field: string, json: string): string {
  return JSON.stringify(review(pod)).replace('"name":"app",', `"name":"app","${field}":${json},`);
}

void describe('malformed pods in a well-formed review: a denial if opted in, else allowed; never a 500', () => {
  const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';
  const malformed: [string, () => string, RegExp][] = [
    [
      'containers that are not objects',
      () => JSON.stringify(review({ ...optedInPod(), spec: { containers: [null, 42, 'x'] } })),
      /spec.containers\[0\]: is null; expected containers/,
    ],
    [
      'env that is not a list',
      () => {
        const pod = optedInPod();
        (pod.spec.containers[0] as unknown as { env: unknown }).env = 'PORT=80';
        return JSON.stringify(review(pod));
      },
      /spec.containers\[0\].env: is a string of 7 characters; expected a list/,
    ],
    [
      'nesting 500 levels deep',
      () => reviewWithRaw(optedInPod(), 'extra', nestedJson(500)),
      /spec.containers\[0\]: nests deeper than 100 levels/,
    ],
    [
      'a 3 MB token-broker annotation',
      () =>
        JSON.stringify(
          review(optedInPod({ 'token-broker.io/mongo-x': `mongodb://h/d?${'a=b&'.repeat(750_000)}` })),
        ),
      /token-broker.io\/mongo-x"\]: is 3000014 characters long; token-broker values are at most 4096/,
    ],
  ];
  for (const [name, body, expected] of malformed) {
    void it(`denies an opted-in pod with ${name}, naming the field and the fix`, async () => {
      const { app, metrics } = harness();
      const res = await post(app, body());
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const { response } = res.json<AdmissionReviewResponse>();
      assert.equal(response.uid, UID);
      assert.equal(response.allowed, false);
      assert.equal(response.status?.code, 403);
      assert.match(response.status?.message ?? '', expected);
      assert.match(response.status?.message ?? '', /Fix: /);
      assert.equal(await admissions(metrics, 'denied'), 1);
    });

    void it(`allows, unchanged, a pod that did not opt in with ${name}`, async () => {
      const { app, metrics } = harness();
      const res = await post(
        app,
        body().replace('"token-broker.io/inject":"true"', '"token-broker.io/inject":"no"'),
      );
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      assert.deepEqual(res.json<AdmissionReviewResponse>().response, { uid: UID, allowed: true });
      assert.equal(await admissions(metrics, 'skipped'), 1);
    });
  }

  void it('refuses a body nested 100,000 levels deep with a 400, before parsing it', async () => {
    const { app, metrics } = harness();
    const res = await post(app, reviewWithRaw(optedInPod(), 'extra', nestedJson(100_000)));
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ message: string }>().message, /nests deeper than 1000 levels/);
    assert.equal(await admissions(metrics, 'error'), 1);
  });

  void it('brackets inside strings do not count as nesting', async () => {
    const { app } = harness();
    const res = await post(app, review(optedInPod({ 'example.com/brackets': '{['.repeat(5_000) })));
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<AdmissionReviewResponse>().response.allowed, true);
  });

  void it('logs the malformed fields, never their values', async () => {
    const { app, logs } = harness();
    const pod = optedInPod();
    (pod.spec.containers[0] as unknown as { env: unknown }).env = [{ name: 'P', value: { pw: 'hunter2' } }];
    await post(app, review(pod));
    const line = logs.entries().find((e) => e.msg === 'admission');
    assert.deepEqual(line?.malformed, ['spec.containers[0].env[0].value']);
    assert.doesNotMatch(logs.text(), /hunter2/);
  });

  void it('a pod name that is an object does not reach the log line', async () => {
    const { app, logs } = harness();
    const res = await post(
      app,
      reviewWithRaw(plainPod(), 'x', '1').replace('"name":"plain"', `"name":${nestedJson(50)}`),
    );
    assert.equal(res.statusCode, 200);
    const line = logs.entries().find((e) => e.msg === 'admission');
    assert.equal(line?.pod, undefined);
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
