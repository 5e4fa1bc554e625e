/** Shared helpers for the webhook core tests: freezing inputs, applying patches, validating pods. */

import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import { Pod as PodModel } from 'kubernetes-models/v1';
import type { Pod } from '../../../webhook/src/k8s-types.ts';
import type { JsonPatchOperation } from '../../../webhook/src/patch.ts';

/** Freezes a JSON value recursively, so any write to the mutator's input throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** JSON round trip: what the API server would see. */
export function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Applies an RFC 6902 patch with fast-json-patch (an independent implementation) to a copy. */
export function applyJsonPatch(doc: unknown, patch: JsonPatchOperation[]): unknown {
  const ops = patch as unknown as jsonpatch.Operation[];
  const validationError = jsonpatch.validate(ops, structuredClone(doc));
  assert.equal(validationError, undefined, `patch does not validate: ${String(validationError)}`);
  return jsonpatch.applyPatch(structuredClone(doc), ops, true, false).newDocument;
}

/** Schema-validates a pod with kubernetes-models; throws on invalid fields or types. */
export function validatePod(pod: Pod): void {
  new PodModel(asJson(pod) as ConstructorParameters<typeof PodModel>[0]).validate();
}
