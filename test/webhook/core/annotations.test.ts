import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  ANN,
  ANNOTATIONS,
  classifyAnnotation,
  editDistance,
  parseContainerList,
  parseQuantity,
  parseRefreshMargin,
  parseRunAsUser,
  parseSidecarMode,
  quantityValue,
  renderAnnotationTableMarkdown,
  suggestAnnotation,
} from '../../../webhook/src/injection/annotations.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { normalizeMarkdownTable, readAnnotationTable } from '../../../scripts/annotation-table-doc.ts';

test('the README carries exactly the annotation table rendered from code', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  assert.equal(
    normalizeMarkdownTable(readAnnotationTable(readme) ?? ''),
    normalizeMarkdownTable(renderAnnotationTableMarkdown()),
    'README.md and webhook/src/injection/annotations.ts disagree: run `npm run docs` and review the diff',
  );
});

test('the table documents the built-in defaults', () => {
  const { resources } = BUILTIN_DEFAULTS;
  const row = ANNOTATIONS.find((a) => a.keys.includes(ANN.cpuRequest));
  assert.equal(
    row?.default,
    `webhook flags, then ${resources.cpuRequest} / ${resources.cpuLimit ?? 'none'} / ${resources.memoryRequest} / ${resources.memoryLimit}`,
  );
  assert.match(ANNOTATIONS.find((a) => a.keys.includes(ANN.refreshMargin))?.default ?? '', /120 s/);
  assert.equal(BUILTIN_DEFAULTS.refreshMarginSeconds, 120);
  assert.match(ANNOTATIONS.find((a) => a.keys.includes(ANN.sidecarMode))?.default ?? '', /`native`/);
  assert.equal(BUILTIN_DEFAULTS.sidecarMode, 'native');
});

test('every exact key in ANN is in the table, and back', () => {
  const tableKeys = ANNOTATIONS.filter((a) => a.match === 'exact').flatMap((a) => a.keys);
  assert.deepEqual([...tableKeys].sort(), Object.values(ANN).sort());
});

describe('classifyAnnotation', () => {
  const cases: [string, ReturnType<typeof classifyAnnotation>][] = [
    ['token-broker.io/inject', { kind: 'exact', key: 'token-broker.io/inject' }],
    ['token-broker.io/rds-invoicing', { kind: 'rds', name: 'invoicing' }],
    ['token-broker.io/mongo-', { kind: 'mongo', name: '' }],
    ['token-broker.io/run-as-user', { kind: 'exact', key: 'token-broker.io/run-as-user' }],
    ['token-broker.io/rds', { kind: 'unknown' }],
    ['token-broker.io/Inject', { kind: 'unknown' }],
  ];
  for (const [key, want] of cases) test(key, () => assert.deepEqual(classifyAnnotation(key), want));
});

describe('suggestAnnotation', () => {
  const cases: [string, string | undefined][] = [
    ['token-broker.io/sidecar-mod', 'token-broker.io/sidecar-mode'],
    ['token-broker.io/injct', 'token-broker.io/inject'],
    ['token-broker.io/container', 'token-broker.io/containers'],
    ['token-broker.io/rsd-orders', 'token-broker.io/rds-orders'],
    ['token-broker.io/mong-orders', 'token-broker.io/mongo-orders'],
    ['token-broker.io/runAsUser', undefined],
    ['token-broker.io/completely-different', undefined],
  ];
  for (const [key, want] of cases) test(key, () => assert.equal(suggestAnnotation(key), want));
  test('editDistance', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });
});

describe('scalar parsers', () => {
  const margin: [string, number | undefined][] = [
    ['0', 0],
    ['120', 120],
    ['90s', 90],
    ['2m', 120],
    ['1m30s', 90],
    ['10m', 600],
    ['601', undefined],
    ['11m', undefined],
    ['', undefined],
    ['2 m', undefined],
    ['-1', undefined],
    ['1h', undefined],
    ['1.5m', undefined],
  ];
  for (const [value, want] of margin) {
    test(`refresh-margin ${JSON.stringify(value)}`, () => {
      const parsed = parseRefreshMargin(value);
      assert.deepEqual(parsed.ok ? parsed.value : undefined, want);
      if (!parsed.ok) assert.equal(parsed.error.annotation, ANN.refreshMargin);
    });
  }

  const uids: [string, number | undefined][] = [
    ['1000', 1000],
    ['65532', 65532],
    ['2147483647', 2147483647],
    ['2147483648', undefined],
    ['0', undefined],
    ['-5', undefined],
    ['1e3', undefined],
    ['', undefined],
  ];
  for (const [value, want] of uids) {
    test(`run-as-user ${JSON.stringify(value)}`, () => {
      const parsed = parseRunAsUser(value);
      assert.deepEqual(parsed.ok ? parsed.value : undefined, want);
    });
  }

  const quantities: [string, number | undefined][] = [
    ['10m', 0.01],
    ['0.5', 0.5],
    ['48Mi', 48 * 2 ** 20],
    ['64M', 64e6],
    ['1Gi', 2 ** 30],
    ['1e3', 1000],
    ['.5', 0.5],
    ['48MB', undefined],
    ['-1', undefined],
    ['', undefined],
    ['1 Mi', undefined],
  ];
  for (const [value, want] of quantities) {
    test(`quantity ${JSON.stringify(value)}`, () => {
      assert.equal(quantityValue(value), want);
      assert.equal(parseQuantity(value, ANN.memoryLimit).ok, want !== undefined);
    });
  }

  test('sidecar-mode', () => {
    assert.ok(parseSidecarMode('native').ok);
    assert.ok(parseSidecarMode('legacy').ok);
    assert.ok(!parseSidecarMode('Native').ok);
  });

  test('containers list', () => {
    assert.deepEqual(parseContainerList(' app , worker,app'), { ok: true, value: ['app', 'worker'] });
    assert.ok(!parseContainerList('app,,worker').ok);
    assert.ok(!parseContainerList('App').ok);
    assert.ok(!parseContainerList('').ok);
  });
});
