/** injectPod works on its own copy of the pod: nothing of the input is shared with the output or changed. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { injectPod } from '../../../webhook/src/injection/inject.ts';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { BUILTIN_DEFAULTS, resolveSpec } from '../../../webhook/src/injection/spec.ts';
import { deepFreeze } from './support.ts';

const PG = 'postgres://app@db.abc.eu-west-1.rds.amazonaws.com/app';

/** Every object and array reachable from `value`. */
function objectsIn(value: unknown, found = new Set<object>()): Set<object> {
  if (typeof value === 'object' && value !== null && !found.has(value)) {
    found.add(value);
    for (const inner of Object.values(value)) objectsIn(inner, found);
  }
  return found;
}

// As JSON.parse makes it: `__proto__` as an own key (fastify drops it; `token-broker inject` may not).
const POD_JSON = JSON.stringify({
  metadata: {
    name: 'p',
    annotations: { 'token-broker.io/inject': 'true', 'token-broker.io/rds-db': PG },
    labels: { app: 'web' },
  },
  spec: {
    containers: [
      { name: 'web', env: [{ name: 'A', value: '1' }], resources: { limits: { cpu: '1' } } },
      { name: 'worker', args: ['--x'] },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  },
}).replace('"labels":{', '"labels":{"__proto__":{"polluted":"yes"},');

function inject(pod: Pod): Pod {
  const resolved = resolveSpec(pod, 'ns', BUILTIN_DEFAULTS);
  assert.ok(resolved.ok, JSON.stringify(resolved));
  return injectPod(pod, resolved.spec).pod;
}

test('the injected pod shares no object or array with the input', () => {
  const input = deepFreeze(JSON.parse(POD_JSON) as Pod);
  const output = inject(input);
  const inputObjects = objectsIn(input);
  const shared = [...objectsIn(output)].filter((o) => inputObjects.has(o));
  assert.deepEqual(shared, []);
  assert.equal(JSON.stringify(input), JSON.stringify(JSON.parse(POD_JSON)));
});

test('an own __proto__ key is copied as data and changes no prototype', () => {
  const output = inject(JSON.parse(POD_JSON) as Pod);
  const labels = output.metadata?.labels as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(labels), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(labels, '__proto__')?.value, { polluted: 'yes' });
  assert.equal((labels as { polluted?: unknown }).polluted, undefined);
  assert.equal(Object.keys(labels).join(','), '__proto__,app');
});
