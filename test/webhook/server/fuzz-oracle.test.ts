/**
 * The fuzz oracle can fail: for each property, a webhook answer that breaks it (built by hand around a
 * real injection) is caught under that property's name. A fuzz whose oracle passes anything is worth
 * nothing; this keeps it strict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildReview, materialize, UID, type FuzzCase } from '../../fuzz/case.ts';
import { judge, type Answer, type Property } from '../../fuzz/oracle.ts';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import type { JsonPatchOperation } from '../../../webhook/src/injection/patch.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';

const SECRET = 'FAKEpwOracleSelfTest42';

function reviewAnswer(response: Record<string, unknown>): Answer {
  return {
    status: 200,
    body: JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: UID, ...response },
    }),
    ms: 1,
  };
}

function encode(patch: unknown): string {
  return Buffer.from(JSON.stringify(patch)).toString('base64');
}

/** The real patch for a case's pod, as the webhook core computes it. */
function realPatch(c: FuzzCase): JsonPatchOperation[] {
  const pod = (buildReview(c).review.request as { object: Pod }).object;
  const result = mutatePod({ pod, namespace: 'fuzz', defaults: BUILTIN_DEFAULTS });
  assert.ok(result.outcome === 'injected', JSON.stringify(result));
  return result.patch;
}

function properties(c: FuzzCase, answer: Answer): Property[] {
  return judge(c, materialize(c), answer, { timing: true }).violations.map((v) => v.property);
}

const injectable: FuzzCase = { kind: 'review', base: 'fixtures/rds-postgres' };

void describe('the fuzz oracle catches each broken promise', () => {
  void it('passes the real injection', () => {
    const answer = reviewAnswer({
      allowed: true,
      patchType: 'JSONPatch',
      patch: encode(realPatch(injectable)),
    });
    assert.deepEqual(properties(injectable, answer), []);
  });

  void it('no-5xx: a 500', () => {
    assert.deepEqual(properties(injectable, { status: 500, body: '{}', ms: 1 }), ['no-5xx']);
  });

  void it('answer-kind: a 400 for a valid review, and a review for a broken envelope', () => {
    assert.deepEqual(properties(injectable, { status: 400, body: '{}', ms: 1 }), ['answer-kind']);
    const noUid: FuzzCase = {
      ...injectable,
      envelope: [{ path: ['request', 'uid'], value: { $delete: true } }],
    };
    assert.deepEqual(properties(noUid, reviewAnswer({ allowed: true })), ['answer-kind']);
  });

  void it("review-shape: another request's uid", () => {
    const answer = reviewAnswer({ allowed: true });
    answer.body = answer.body?.replace(UID, 'someone-else');
    assert.ok(
      properties(
        {
          ...injectable,
          envelope: [{ path: ['request', 'operation'], value: 'DELETE' }],
          envelopeValid: true,
        },
        answer,
      ).includes('review-shape'),
    );
  });

  void it('untouched-when-not-ours: a patch for a pod that did not opt in', () => {
    const optedOut: FuzzCase = { ...injectable, annotations: { 'token-broker.io/inject': 'false' } };
    const answer = reviewAnswer({
      allowed: true,
      patchType: 'JSONPatch',
      patch: encode(realPatch(injectable)),
    });
    assert.ok(properties(optedOut, answer).includes('untouched-when-not-ours'));
  });

  void it('malformed-denied: a malformed opted-in pod allowed, or denied without naming the field', () => {
    const broken: FuzzCase = {
      ...injectable,
      edits: [{ path: ['spec', 'containers', 0, 'env'], value: 'x', breaks: true }],
    };
    assert.deepEqual(properties(broken, reviewAnswer({ allowed: true })), ['malformed-denied']);
    const vague = reviewAnswer({ allowed: false, status: { code: 403, message: 'no' } });
    assert.deepEqual(properties(broken, vague), ['malformed-denied']);
    const named = reviewAnswer({
      allowed: false,
      status: { code: 403, message: 'spec.containers[0].env: is a string' },
    });
    assert.deepEqual(properties(broken, named), []);
  });

  void it('patch-applies: a patch that removes what is not there', () => {
    const answer = reviewAnswer({
      allowed: true,
      patchType: 'JSONPatch',
      patch: encode([{ op: 'remove', path: '/spec/nope' }]),
    });
    assert.deepEqual(properties(injectable, answer), ['patch-applies']);
  });

  void it('patch-scope: edits outside the allow-list, the pod spec, or other annotations', () => {
    const allowList: FuzzCase = {
      ...injectable,
      annotations: { 'token-broker.io/containers': 'app' },
      edits: [{ path: ['spec', 'containers', '-'], value: { name: 'other', image: 'x' } }],
    };
    for (const op of [
      { op: 'add', path: '/spec/containers/1/env', value: [{ name: 'X', value: '1' }] },
      { op: 'add', path: '/spec/dnsPolicy', value: 'None' },
      { op: 'add', path: '/metadata/annotations/example.com~1x', value: 'y' },
      { op: 'replace', path: '/spec/containers/0/image', value: 'evil:1' },
    ]) {
      const answer = reviewAnswer({ allowed: true, patchType: 'JSONPatch', patch: encode([op]) });
      assert.deepEqual(properties(allowList, answer), ['patch-scope'], JSON.stringify(op));
    }
  });

  void it('sidecar-accepts: a sidecar config the sidecar refuses (a line break in the user)', () => {
    const patch = realPatch(injectable).map(
      (op) =>
        JSON.parse(
          JSON.stringify(op).replace('"user\\":\\"invoicingdbuser', '"user\\":\\"invoicing\\\\ndbuser'),
        ) as JsonPatchOperation,
    );
    assert.ok(JSON.stringify(patch).includes('invoicing\\\\ndbuser'), 'the config was tampered with');
    const answer = reviewAnswer({ allowed: true, patchType: 'JSONPatch', patch: encode(patch) });
    assert.deepEqual(properties(injectable, answer), ['sidecar-accepts']);
  });

  void it('no-secret-echo: a planted secret in the denial, percent-encoded in the body, or inside the base64 patch', () => {
    const planted: FuzzCase = { ...injectable, secrets: [SECRET] };
    assert.deepEqual(
      properties(planted, reviewAnswer({ allowed: false, status: { code: 403, message: `bad ${SECRET}` } })),
      ['no-secret-echo'],
    );
    const special = 'FAKEpw+Oracle/Self=Test';
    const encoded = reviewAnswer({
      allowed: false,
      status: { code: 403, message: `u:${encodeURIComponent(special)}@h` },
    });
    assert.deepEqual(properties({ ...injectable, secrets: [special] }, encoded), ['no-secret-echo']);
    const patch = [
      ...realPatch(injectable),
      { op: 'add', path: '/metadata/annotations/token-broker.io~1status', value: SECRET },
    ];
    const inPatch = reviewAnswer({ allowed: true, patchType: 'JSONPatch', patch: encode(patch) });
    assert.ok(properties(planted, inPatch).includes('no-secret-echo'));
  });

  void it('within-timeout: an answer slower than the chart timeout', () => {
    const answer = {
      ...reviewAnswer({ allowed: true, patchType: 'JSONPatch', patch: encode(realPatch(injectable)) }),
      ms: 6_000,
    };
    assert.deepEqual(properties(injectable, answer), ['within-timeout']);
  });
});
