/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- the cases below break pods on purpose */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_ANNOTATIONS_BYTES,
  MAX_LIST_ENTRIES,
  MAX_OWN_ANNOTATION_LENGTH,
  MAX_POD_DEPTH,
  MAX_PROBLEMS,
  checkPodShape,
  podOptsIn,
  renderShapeDenial,
} from '../../../webhook/src/injection/pod-shape.ts';
import { optedInPod, plainPod } from './support/pods.ts';

type Edit = (pod: Record<string, any>) => void;

/** `{a: {a: ... 1}}`, `depth` objects deep, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function edited(edit: Edit, base = optedInPod()): unknown {
  const pod = structuredClone(base) as Record<string, unknown>;
  edit(pod);
  return pod;
}

void describe('checkPodShape accepts the pods the API server sends', () => {
  for (const [name, pod] of [
    ['an opted-in pod', optedInPod()],
    ['a plain pod', plainPod()],
    ['a pod with null for empty fields', edited((p) => (p.spec.containers[0].env = null))],
    ['a pod as deep as real affinity rules', edited((p) => (p.spec.affinity = nested(20)))],
    [
      'a pod with env from secrets, mounts, ports and a UID',
      edited((p) => {
        p.spec.containers[0].env.push({ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });
        p.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }];
        p.spec.containers[0].ports = [{ containerPort: 8080 }];
        p.spec.containers[0].securityContext = { runAsUser: 0 };
        p.spec.volumes = [{ name: 'data', emptyDir: {} }];
      }),
    ],
  ] as const) {
    void it(name, () => {
      const shape = checkPodShape(pod);
      assert.equal(shape.ok, true, JSON.stringify(shape));
    });
  }
});

void describe('checkPodShape names the malformed field without quoting its value', () => {
  const cases: [string, Edit, RegExp][] = [
    ['containers not objects', (p) => (p.spec.containers = [null, 42, 'x']), /spec.containers\[0\]: is null/],
    ['containers not a list', (p) => (p.spec.containers = { app: {} }), /spec.containers: is an object/],
    ['containers missing', (p) => delete p.spec.containers, /spec.containers: is missing/],
    ['spec not an object', (p) => (p.spec = []), /spec: is a list/],
    ['metadata a string', (p) => (p.metadata = 'x'), /metadata: is a string of 1 characters/],
    ['annotations a list', (p) => (p.metadata.annotations = ['a']), /metadata.annotations: is a list/],
    [
      'an annotation value a number',
      (p) => (p.metadata.annotations['token-broker.io/run-as-user'] = 1000),
      /metadata.annotations\["token-broker.io\/run-as-user"\]: is a number; annotation values are strings/,
    ],
    [
      'container name a number',
      (p) => (p.spec.containers[0].name = 7),
      /spec.containers\[0\].name: is a number/,
    ],
    [
      'container name empty',
      (p) => (p.spec.containers[0].name = ''),
      /spec.containers\[0\].name: is a string of 0/,
    ],
    [
      'two containers with one name',
      (p) => p.spec.containers.push({ name: 'app' }),
      /spec.containers\[1\].name: is used by another container too/,
    ],
    ['env not a list', (p) => (p.spec.containers[0].env = 'x'), /spec.containers\[0\].env: is a string/],
    ['env entry null', (p) => (p.spec.containers[0].env = [null]), /spec.containers\[0\].env\[0\]: is null/],
    [
      'env name a number',
      (p) => (p.spec.containers[0].env = [{ name: 5 }]),
      /spec.containers\[0\].env\[0\].name: is a number/,
    ],
    [
      'env value a number',
      (p) => (p.spec.containers[0].env = [{ name: 'A', value: 5 }]),
      /env\[0\].value: is a number; expected a string/,
    ],
    [
      'env valueFrom a string',
      (p) => (p.spec.containers[0].env = [{ name: 'A', valueFrom: 'x' }]),
      /env\[0\].valueFrom: is a string/,
    ],
    [
      'init container env an object',
      (p) => (p.spec.initContainers = [{ name: 'init', env: {} }]),
      /spec.initContainers\[0\].env: is an object/,
    ],
    [
      'volumeMounts mountPath a number',
      (p) => (p.spec.containers[0].volumeMounts = [{ name: 'v', mountPath: 1 }]),
      /volumeMounts\[0\].mountPath: is a number/,
    ],
    ['ports entry a string', (p) => (p.spec.containers[0].ports = ['80']), /ports\[0\]: is a string/],
    [
      'containerPort a string',
      (p) => (p.spec.containers[0].ports = [{ containerPort: '80' }]),
      /ports\[0\].containerPort: is a string/,
    ],
    [
      'container runAsUser a string',
      (p) => (p.spec.containers[0].securityContext = { runAsUser: '1000' }),
      /spec.containers\[0\].securityContext.runAsUser: is a string/,
    ],
    [
      'pod runAsUser negative',
      (p) => (p.spec.securityContext = { runAsUser: -1 }),
      /spec.securityContext.runAsUser: is a number/,
    ],
    ['volumes an object', (p) => (p.spec.volumes = {}), /spec.volumes: is an object/],
    ['volume name missing', (p) => (p.spec.volumes = [{}]), /spec.volumes\[0\].name: is missing/],
    [
      'serviceAccountName a list',
      (p) => (p.spec.serviceAccountName = []),
      /spec.serviceAccountName: is a list/,
    ],
    ['hostNetwork a string', (p) => (p.spec.hostNetwork = 'true'), /spec.hostNetwork: is a string/],
    [
      'nesting past the bound',
      (p) => (p.spec.containers[0].extra = nested(MAX_POD_DEPTH)),
      new RegExp(`spec.containers\\[0\\]: nests deeper than ${MAX_POD_DEPTH} levels`),
    ],
    [
      'nesting 200,000 deep (no stack overflow)',
      (p) => (p.metadata.labels = nested(200_000)),
      /metadata.labels.a: nests deeper/,
    ],
    [
      'a token-broker value past its bound',
      (p) => (p.metadata.annotations['token-broker.io/rds-x'] = `postgres://${'a'.repeat(5_000_000)}`),
      new RegExp(
        `rds-x"\\]: is 5000011 characters long; token-broker values are at most ${MAX_OWN_ANNOTATION_LENGTH}`,
      ),
    ],
    [
      'a huge inject value',
      (p) => (p.metadata.annotations['token-broker.io/inject'] = 'x'.repeat(MAX_OWN_ANNOTATION_LENGTH + 1)),
      /token-broker.io\/inject"\]: is 4097 characters long/,
    ],
    [
      'annotations over the Kubernetes total',
      (p) => (p.metadata.annotations['example.com/big'] = 'x'.repeat(MAX_ANNOTATIONS_BYTES)),
      /metadata.annotations: total \d+ bytes; Kubernetes allows at most 262144/,
    ],
    [
      'an annotation key over the Kubernetes length',
      (p) => (p.metadata.annotations[`example.com/${'k'.repeat(400)}`] = 'v'),
      /the key is 412 characters long/,
    ],
    [
      'more list entries than the bound',
      (p) =>
        (p.spec.containers[0].env = Array.from({ length: MAX_LIST_ENTRIES }, (_, i) => ({ name: `E${i}` }))),
      new RegExp(`hold ${MAX_LIST_ENTRIES + 1} entries together; at most ${MAX_LIST_ENTRIES}`),
    ],
  ];
  for (const [name, edit, expected] of cases) {
    void it(name, () => {
      const shape = checkPodShape(edited(edit));
      assert.equal(shape.ok, false);
      if (shape.ok) return;
      const message = renderShapeDenial(shape.problems, shape.total);
      assert.match(message, expected);
      assert.match(message, /Fix: /);
      assert.ok(message.length < 4000, `bounded message (${message.length})`);
    });
  }

  void it('never quotes a value: a secret in a malformed env value stays out of the message', () => {
    const shape = checkPodShape(
      edited((p) => (p.spec.containers[0].env = [{ name: 'P', value: { pw: 'hunter2' } }])),
    );
    assert.ok(!shape.ok);
    assert.doesNotMatch(renderShapeDenial(shape.problems), /hunter2/);
  });

  void it(`lists at most ${MAX_PROBLEMS} problems and counts the rest`, () => {
    const shape = checkPodShape(
      edited((p) => (p.spec.containers = Array.from({ length: 100_000 }, () => null))),
    );
    assert.ok(!shape.ok);
    assert.equal(shape.problems.length, MAX_PROBLEMS);
    assert.equal(shape.total, 100_000);
    assert.match(renderShapeDenial(shape.problems, shape.total), /100000 problems, the first 10 shown/);
  });
});

void describe('opt-in is read only as far as the shape allows', () => {
  const cases: [string, unknown, boolean][] = [
    ['an opted-in pod', optedInPod(), true],
    ['a plain pod', plainPod(), false],
    ['inject "True"', edited((p) => (p.metadata.annotations['token-broker.io/inject'] = 'True')), false],
    ['inject a boolean', edited((p) => (p.metadata.annotations['token-broker.io/inject'] = true)), false],
    ['annotations a list', edited((p) => (p.metadata.annotations = ['token-broker.io/inject'])), false],
    ['metadata null', edited((p) => (p.metadata = null)), false],
    ['not an object', 'pod', false],
    ['opted in with broken containers', edited((p) => (p.spec.containers = [null])), true],
  ];
  for (const [name, pod, expected] of cases) {
    void it(`${name}: ${expected ? 'opted in' : 'not opted in'}`, () => {
      assert.equal(podOptsIn(pod), expected);
      const shape = checkPodShape(pod);
      if (!shape.ok) assert.equal(shape.optedIn, expected);
    });
  }
});
