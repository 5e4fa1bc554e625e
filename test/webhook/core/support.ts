/** Shared helpers for the webhook core tests: freezing inputs, applying patches, validating pods. */

import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { Pod as PodModel } from 'kubernetes-models/v1';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { OWN_CONTAINER_NAMES, OWN_VOLUME_NAMES } from '../../../webhook/src/injection/names.ts';
import type { JsonPatchOperation } from '../../../webhook/src/injection/patch.ts';

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

interface AttributeType {
  baseName: string;
  type: string;
}
type Model = { getAttributeTypeMap(): AttributeType[] } | undefined;

/** The OpenAPI-generated model classes of @kubernetes/client-node, by type name (V1Container, ...). */
const MODELS = k8s as unknown as Record<string, Model>;

/**
 * Fails on any field the Kubernetes API does not define, at any depth, using the field lists of the
 * OpenAPI-generated models in @kubernetes/client-node. kubernetes-models' validate() only checks the
 * types of known fields, so a misspelt `startupprobe` would pass it (and the API server would drop it).
 */
export function assertKnownFields(value: unknown, type: string, path: string): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    assert.ok(Array.isArray(value), `${path} must be a list`);
    value.forEach((item, i) => assertKnownFields(item, array[1] ?? '', `${path}[${i}]`));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value)) assertKnownFields(v, map[1] ?? '', `${path}.${k}`);
    return;
  }
  const model = MODELS[type];
  if (typeof model?.getAttributeTypeMap !== 'function') return; // string, number, IntOrString, any, ...
  assert.ok(typeof value === 'object' && !Array.isArray(value), `${path} must be an object (${type})`);
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, inner] of Object.entries(value)) {
    const fieldType = fields.get(key);
    assert.ok(fieldType !== undefined, `${path}.${key} is not a field of ${type}`);
    assertKnownFields(inner, fieldType, `${path}.${key}`);
  }
}

/**
 * Strict checks of what injection added: our containers and volume have only API-defined fields,
 * container names are unique across init and regular containers, volume names are unique, and every
 * mount of our containers names a volume of the pod.
 */
export function assertInjectedStrict(pod: Pod): void {
  const init = pod.spec.initContainers ?? [];
  const all = [...init, ...pod.spec.containers];
  const names = all.map((c) => c.name);
  assert.deepEqual(
    names.filter((n, i) => names.indexOf(n) !== i),
    [],
    'container names must be unique across initContainers and containers',
  );
  const volumes = (pod.spec.volumes ?? []).map((v) => v.name);
  assert.deepEqual(
    volumes.filter((n, i) => volumes.indexOf(n) !== i),
    [],
    'volume names must be unique',
  );
  for (const [list, kind] of [
    [init, 'initContainers'],
    [pod.spec.containers, 'containers'],
  ] as const) {
    list.forEach((c, i) => {
      if (!OWN_CONTAINER_NAMES.includes(c.name)) return;
      assertKnownFields(asJson(c), 'V1Container', `spec.${kind}[${i}]`);
      for (const m of c.volumeMounts ?? []) {
        assert.ok(volumes.includes(m.name), `${c.name} mounts volume "${m.name}", which the pod lacks`);
      }
    });
  }
  (pod.spec.volumes ?? []).forEach((v, i) => {
    if (OWN_VOLUME_NAMES.includes(v.name)) assertKnownFields(asJson(v), 'V1Volume', `spec.volumes[${i}]`);
  });
}
