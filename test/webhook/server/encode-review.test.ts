/** encodeReview writes exactly what JSON.stringify writes, whatever the response holds. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allowResponse,
  denyResponse,
  encodeReview,
  type AdmissionReviewResponse,
} from '../../../webhook/src/server/admission.ts';
import type { JsonPatchOperation } from '../../../webhook/src/injection/patch.ts';

const PATCH: JsonPatchOperation[] = [
  { op: 'add', path: '/metadata/annotations/token-broker.io~1status', value: 'injected' },
  {
    op: 'add',
    path: '/spec/initContainers/-',
    value: { name: 'token-broker', args: ['é', '"q"', '\u2028'] },
  },
];
const ODD_UID = 'u"patch":""\\\n\u0001é';

test('the same bytes as JSON.stringify for every kind of answer', () => {
  const answers: AdmissionReviewResponse[] = [
    allowResponse('uid-1', PATCH),
    allowResponse('uid-2'),
    allowResponse(ODD_UID, PATCH, ['a "quoted" warning with "patch":"" in it', 'é\u2028']),
    denyResponse(ODD_UID, 'denied: "patch":"" \\ é', ['w']),
  ];
  for (const answer of answers) assert.equal(encodeReview(answer), JSON.stringify(answer));
});

test('a patch changed or set by hand is escaped as JSON', () => {
  const changed = allowResponse('uid', PATCH);
  changed.response.patch = 'not"base64\\';
  assert.equal(encodeReview(changed), JSON.stringify(changed));
  assert.deepEqual(JSON.parse(encodeReview(changed)), changed);

  const byHand: AdmissionReviewResponse = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'uid', allowed: true, patchType: 'JSONPatch', patch: '"}' },
  };
  assert.equal(encodeReview(byHand), JSON.stringify(byHand));
});

test('a copy of an answer with a new patch string is escaped as JSON', () => {
  const original = allowResponse('uid', PATCH);
  const copy = {
    ...original,
    response: { ...original.response, patch: `${original.response.patch ?? ''}"` },
  };
  assert.equal(encodeReview(copy), JSON.stringify(copy));
});
