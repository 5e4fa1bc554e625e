import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  diffToJsonPatch,
  escapePointerSegment,
  type JsonPatchOperation,
} from '../../../webhook/src/injection/patch.ts';
import { applyJsonPatch, asJson } from './support.ts';

describe('escapePointerSegment (RFC 6901)', () => {
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['token-broker.io/status', 'token-broker.io~1status'],
    ['a~b', 'a~0b'],
    ['~/', '~0~1'],
    ['/~', '~1~0'],
    ['~1', '~01'],
    ['', ''],
  ];
  for (const [segment, want] of cases) {
    test(JSON.stringify(segment), () => assert.equal(escapePointerSegment(segment), want));
  }
});

describe('diffToJsonPatch', () => {
  const cases: { name: string; before: unknown; after: unknown; want: JsonPatchOperation[] }[] = [
    {
      name: 'equal documents give an empty patch',
      before: { a: [1, { b: 2 }] },
      after: { a: [1, { b: 2 }] },
      want: [],
    },
    {
      name: 'adds the annotations map when absent',
      before: { metadata: { name: 'p' } },
      after: { metadata: { name: 'p', annotations: { 'token-broker.io/status': 'injected' } } },
      want: [{ op: 'add', path: '/metadata/annotations', value: { 'token-broker.io/status': 'injected' } }],
    },
    {
      name: 'escapes "/" and "~" in keys',
      before: { metadata: { annotations: { x: '1' } } },
      after: { metadata: { annotations: { x: '1', 'a/b~c': '2' } } },
      want: [{ op: 'add', path: '/metadata/annotations/a~1b~0c', value: '2' }],
    },
    {
      name: 'removes and replaces scalars',
      before: { a: 1, b: 'x', c: true },
      after: { b: 'y', c: true },
      want: [
        { op: 'remove', path: '/a' },
        { op: 'replace', path: '/b', value: 'y' },
      ],
    },
    {
      name: 'keys holding undefined count as absent',
      before: { a: 1, u: undefined },
      after: { a: 1, v: undefined },
      want: [],
    },
    {
      name: 'a new named item is added whole, at its index',
      before: { containers: [{ name: 'app', image: 'a' }] },
      after: {
        containers: [
          { name: 'sidecar', image: 's' },
          { name: 'app', image: 'a' },
        ],
      },
      want: [{ op: 'add', path: '/containers/0', value: { name: 'sidecar', image: 's' } }],
    },
    {
      name: 'named items: remove, append and edit in place',
      before: {
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
          { name: 'C', value: '3' },
        ],
      },
      after: {
        env: [
          { name: 'A', value: '1' },
          { name: 'C', value: '4' },
          { name: 'D', value: '5' },
        ],
      },
      want: [
        { op: 'remove', path: '/env/1' },
        { op: 'add', path: '/env/-', value: { name: 'D', value: '5' } },
        { op: 'replace', path: '/env/1/value', value: '4' },
      ],
    },
    {
      name: 'reordered named items replace the array',
      before: { env: [{ name: 'A' }, { name: 'B' }] },
      after: { env: [{ name: 'B' }, { name: 'A' }] },
      want: [{ op: 'replace', path: '/env', value: [{ name: 'B' }, { name: 'A' }] }],
    },
    {
      name: 'unnamed arrays: pure insertion',
      before: { args: ['a', 'd'] },
      after: { args: ['a', 'b', 'c', 'd'] },
      want: [
        { op: 'add', path: '/args/1', value: 'b' },
        { op: 'add', path: '/args/2', value: 'c' },
      ],
    },
    {
      name: 'unnamed arrays: append',
      before: { args: ['sidecar'] },
      after: { args: ['sidecar', '--once'] },
      want: [{ op: 'add', path: '/args/-', value: '--once' }],
    },
    {
      name: 'unnamed arrays: insertion and removal replace the array',
      before: { args: ['a', 'c'] },
      after: { args: ['b', 'c', 'd'] },
      want: [{ op: 'replace', path: '/args', value: ['b', 'c', 'd'] }],
    },
    {
      name: 'unnamed arrays: pure removal',
      before: { args: ['a', 'b', 'c', 'd'] },
      after: { args: ['a', 'd'] },
      want: [
        { op: 'remove', path: '/args/1' },
        { op: 'remove', path: '/args/1' },
      ],
    },
    {
      name: 'type change replaces',
      before: { a: { b: 1 } },
      after: { a: [1] },
      want: [{ op: 'replace', path: '/a', value: [1] }],
    },
    {
      name: 'an added value is its JSON form: undefined keys dropped, undefined items null',
      before: {},
      after: { a: { b: undefined, c: [undefined, { d: 1, e: undefined }] } },
      want: [{ op: 'add', path: '/a', value: { c: [null, { d: 1 }] } }],
    },
  ];
  for (const { name, before, after, want } of cases) {
    test(name, () => {
      const patch = diffToJsonPatch(before, after);
      assert.deepEqual(patch, want);
      assert.deepEqual(applyJsonPatch(before, patch), asJson(after));
    });
  }
});

test('a "__proto__" key in an added value stays an own key and changes no prototype', () => {
  const after = JSON.parse('{"a":{"__proto__":{"polluted":true},"b":1}}') as unknown;
  const [op] = diffToJsonPatch({}, after);
  const value = op?.value as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.equal((value as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(Object.keys(value), ['__proto__', 'b']);
  assert.equal(JSON.stringify(op), '{"op":"add","path":"/a","value":{"__proto__":{"polluted":true},"b":1}}');
});

// Values shaped like Kubernetes objects: keys with "/" and "~", named lists, nulls, nesting.
const key = fc.constantFrom('a', 'b', 'name', 'x/y', 'm~n', '~1', 'token-broker.io/status', '');
const named = (value: fc.Arbitrary<unknown>) =>
  fc.uniqueArray(fc.record({ name: fc.constantFrom('app', 'env', 'sidecar', 'x/1', 'y~0', 'z'), v: value }), {
    selector: (o) => o.name,
    maxLength: 4,
  });
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
    fc.dictionary(key, tie('json'), { maxKeys: 4 }),
    fc.array(tie('json'), { maxLength: 4 }),
    named(tie('json')),
  ),
}));

test('property: applying the diff to before yields after', () => {
  fc.assert(
    fc.property(json, json, (before, after) => {
      assert.deepEqual(applyJsonPatch(before, diffToJsonPatch(before, after)), asJson(after));
    }),
    { numRuns: 500 },
  );
});

test('property: a document diffed against a mutated copy round-trips', () => {
  const doc = fc.dictionary(key, json, { maxKeys: 5 });
  fc.assert(
    fc.property(doc, key, json, (before, k, v) => {
      const after = { ...before, [k]: v };
      assert.deepEqual(applyJsonPatch(before, diffToJsonPatch(before, after)), asJson(after));
      assert.deepEqual(diffToJsonPatch(after, structuredClone(after)), []);
    }),
    { numRuns: 300 },
  );
});
