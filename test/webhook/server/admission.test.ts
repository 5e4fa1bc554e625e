import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_WARNINGS,
  allowResponse,
  denyResponse,
  parseAdmissionReview,
  podToMutate,
  responseForResult,
  sanitizeWarnings,
} from '../../../webhook/src/server/admission.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { optedInPod, plainPod, review } from './support/pods.ts';

const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

/** `{a: {a: ... 1}}`, `depth` levels deep, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function decodePatch(patch: string | undefined): unknown {
  assert.ok(patch, 'a patch is attached');
  return JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
}

void describe('parseAdmissionReview rejects what is not a v1 pod review, saying why', () => {
  const good = review(plainPod());
  const cases: [string, unknown, RegExp][] = [
    ['a string', 'hello', /must be a JSON object \(an AdmissionReview\), got "hello"/],
    ['an array', [good], /must be a JSON object/],
    ['null', null, /must be a JSON object/],
    [
      'v1beta1',
      { ...good, apiVersion: 'admission.k8s.io/v1beta1' },
      /"admission.k8s.io\/v1beta1".*admissionReviewVersions: \["v1"\]/,
    ],
    ['no apiVersion', { kind: 'AdmissionReview', request: good.request }, /apiVersion is missing/],
    ['wrong kind', { ...good, kind: 'Pod' }, /kind is "Pod"; expected "AdmissionReview"/],
    [
      'no request',
      { apiVersion: good.apiVersion, kind: good.kind },
      /request is missing; expected an object/,
    ],
    ['no uid', review(plainPod(), { uid: undefined }), /request.uid is missing/],
    ['empty uid', review(plainPod(), { uid: '' }), /request.uid is "".*non-empty/],
    [
      'bad operation',
      review(plainPod(), { operation: 'PATCH' }),
      /request.operation is "PATCH"; expected one of CREATE/,
    ],
    [
      'a Deployment',
      review({}, { resource: { group: 'apps', version: 'v1', resource: 'deployments' } }),
      /request.resource is apps\/v1\/deployments; this webhook mutates only core v1 pods/,
    ],
    [
      'services',
      review({}, { resource: { group: '', version: 'v1', resource: 'services' } }),
      /v1\/services/,
    ],
    [
      'no resource',
      review(plainPod(), { resource: 'pods' }),
      /request.resource is "pods"; expected \{group, version, resource\}/,
    ],
    ['no object on CREATE', review(undefined), /request.object is missing; expected the Pod being created/],
    [
      'object of another kind',
      review({ kind: 'Service', spec: { containers: [] } }),
      /request.object.kind is "Service"/,
    ],
    [
      'uid a deeply nested object (bounded description, no stack overflow)',
      review(plainPod(), { uid: nested(100_000) }),
      /request.uid is an object; expected a non-empty string/,
    ],
    [
      'dryRun a string',
      review(plainPod(), { dryRun: 'yes' }),
      /request.dryRun is "yes"; expected true or false/,
    ],
    ['namespace a number', review(plainPod(), { namespace: 7 }), /request.namespace is 7; expected a string/],
  ];
  for (const [name, body, expected] of cases) {
    void it(name, () => {
      const parsed = parseAdmissionReview(body);
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.error, expected);
    });
  }

  void it('truncates a huge offending value in the message', () => {
    const parsed = parseAdmissionReview({ ...good, kind: 'x'.repeat(5000) });
    assert.equal(parsed.ok, false);
    assert.ok(!parsed.ok && parsed.error.length < 200);
  });

  void it('truncates a huge resource name in the message', () => {
    const parsed = parseAdmissionReview(
      review({}, { resource: { group: 'x'.repeat(100_000), version: 'v1', resource: 'pods' } }),
    );
    assert.ok(!parsed.ok && parsed.error.length < 400);
  });
});

void describe('parseAdmissionReview leaves the pod itself to pod-shape.ts', () => {
  // A malformed pod in a well-formed review is answered with a review (denied if it opted in).
  for (const [name, object] of [
    ['pod without containers', { kind: 'Pod', spec: {} }],
    ['metadata not an object', { kind: 'Pod', metadata: 'x', spec: { containers: [] } }],
    ['containers not objects', { kind: 'Pod', spec: { containers: [null, 42, 'x'] } }],
  ] as const) {
    void it(`accepts the envelope of a ${name}`, () => {
      assert.equal(parseAdmissionReview(review(object)).ok, true);
    });
  }
});

void describe('parseAdmissionReview accepts v1 pod reviews', () => {
  void it('keeps uid, operation, namespace and dryRun', () => {
    const parsed = parseAdmissionReview(review(plainPod(), { dryRun: true }));
    assert.ok(parsed.ok);
    assert.equal(parsed.request.uid, UID);
    assert.equal(parsed.request.operation, 'CREATE');
    assert.equal(parsed.request.namespace, 'billing');
    assert.equal(parsed.request.dryRun, true);
    assert.deepEqual(podToMutate(parsed.request), { pod: plainPod() });
  });

  void it('accepts UPDATE and DELETE without an object, and does not mutate them', () => {
    for (const operation of ['UPDATE', 'DELETE', 'CONNECT']) {
      const parsed = parseAdmissionReview(review(null, { operation }));
      assert.ok(parsed.ok, operation);
      assert.match(
        JSON.stringify(podToMutate(parsed.request)),
        new RegExp(`operation ${operation} is not mutated`),
      );
    }
  });

  void it('does not mutate pod subresources', () => {
    const parsed = parseAdmissionReview(review({ kind: 'Pod' }, { subResource: 'ephemeralcontainers' }));
    assert.ok(parsed.ok);
    assert.deepEqual(podToMutate(parsed.request), {
      skip: 'subresource pods/ephemeralcontainers is not mutated',
    });
  });
});

void describe('responses', () => {
  void it('an opted-in pod gets a base64 JSONPatch that decodes to operations', () => {
    const result = mutatePod({ pod: optedInPod(), namespace: 'billing', defaults: BUILTIN_DEFAULTS });
    const { review: answer, outcome } = responseForResult(UID, result);
    assert.equal(outcome, 'injected');
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
    assert.equal(answer.kind, 'AdmissionReview');
    assert.equal(answer.response.uid, UID);
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    const patch = decodePatch(answer.response.patch) as { op: string; path: string }[];
    assert.ok(Array.isArray(patch) && patch.length > 0);
    assert.ok(patch.some((op) => op.path === '/metadata/annotations/token-broker.io~1status'));
  });

  void it('a pod that did not opt in is allowed without patch', () => {
    const result = mutatePod({ pod: plainPod(), namespace: 'billing', defaults: BUILTIN_DEFAULTS });
    const { review: answer, outcome } = responseForResult(UID, result);
    assert.equal(outcome, 'skipped');
    assert.deepEqual(answer.response, { uid: UID, allowed: true });
  });

  void it('an empty patch is not attached', () => {
    assert.deepEqual(allowResponse(UID, []).response, { uid: UID, allowed: true });
    const reconciled = responseForResult(UID, {
      outcome: 'reconciled',
      pod: plainPod(),
      patch: [],
      warnings: [],
    });
    assert.equal(reconciled.outcome, 'reconciled');
    assert.deepEqual(reconciled.review.response, { uid: UID, allowed: true });
  });

  void it('a malformed annotation is denied with the message naming the annotation', () => {
    const pod = optedInPod({
      'token-broker.io/rds-invoicing': 'postgres://u:hunter2@db.eu-west-1.rds.amazonaws.com/x',
    });
    const result = mutatePod({ pod, namespace: 'billing', defaults: BUILTIN_DEFAULTS });
    const { review: answer, outcome } = responseForResult(UID, result);
    assert.equal(outcome, 'denied');
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.patch, undefined);
    assert.equal(answer.response.status?.code, 403);
    assert.match(answer.response.status?.message ?? '', /token-broker.io\/rds-invoicing/);
    assert.doesNotMatch(JSON.stringify(answer), /hunter2/);
  });

  void it('warnings pass through, on allow and on deny', () => {
    const result = mutatePod({
      pod: optedInPod(),
      namespace: 'billing',
      defaults: BUILTIN_DEFAULTS,
      serviceAccount: { name: 'invoicing', annotations: {} },
    });
    const { review: answer } = responseForResult(UID, result);
    assert.ok(
      answer.response.warnings?.some((w) => /role-arn/.test(w)),
      JSON.stringify(answer.response.warnings),
    );
    assert.deepEqual(denyResponse(UID, 'no', ['careful']).response.warnings, ['careful']);
    assert.equal(allowResponse(UID, [], []).response.warnings, undefined);
  });

  void it('warnings are made single-line and bounded', () => {
    assert.deepEqual(sanitizeWarnings(['a\nb\tc', '  ', 'x'.repeat(5000)].slice(0, 2)), ['a b c']);
    assert.ok((sanitizeWarnings(['x'.repeat(5000)])[0] ?? '').length <= 1024);
    const many = sanitizeWarnings(Array.from({ length: 50 }, (_, i) => `w${i}`));
    assert.equal(many.length, MAX_WARNINGS);
    assert.match(many.at(-1) ?? '', /31 more warnings not shown/);
  });
});
