/**
 * `token-broker status` rendering: a pure function of (StatusDocument, now), compared with golden
 * text (test/cli/golden/status-*.txt|json; UPDATE_GOLDEN=1 rewrites them), plus the state, duration
 * and exit-code tables behind it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAge, formatCountdown, formatDuration } from '../../cli/status/durations.ts';
import { renderStatusJson, renderStatusText, statusExitCode } from '../../cli/status/render-status.ts';
import { parseStatusDocument, StatusDocumentError } from '../../cli/status/status-document.ts';
import { targetState } from '../../cli/status/target-state.ts';
import type { StatusDocument, TargetStatusDocument } from '../../sidecar/src/api-server.ts';
import { assertGolden } from './support/golden.ts';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');

function target(overrides: Partial<TargetStatusDocument>): TargetStatusDocument {
  return {
    name: 'invoicing-db',
    kind: 'rds',
    fresh: true,
    expiration: at(12 * 60_000 + 4_000),
    lastSuccess: at(-2 * 60_000 - 56_000),
    lastFailure: null,
    lastErrorClass: null,
    consecutiveFailures: 0,
    nextRefresh: at(5 * 60_000),
    ...overrides,
  };
}

const HEALTHY: StatusDocument = {
  ready: true,
  targets: [
    target({}),
    target({
      name: 'docs',
      kind: 'mongo',
      expiration: at(52 * 60_000 + 9_000),
      lastSuccess: at(-7 * 60_000),
    }),
  ],
};

const FAILING: StatusDocument = {
  ready: false,
  targets: [
    target({}),
    target({
      name: 'reports-db',
      fresh: false,
      expiration: at(90_000),
      lastSuccess: at(-13 * 60_000 - 30_000),
      lastFailure: at(-20_000),
      lastErrorClass: 'access-denied',
      consecutiveFailures: 4,
      nextRefresh: at(40_000),
    }),
    target({
      name: 'docs',
      kind: 'mongo',
      fresh: false,
      expiration: at(-3 * 60_000 - 10_000),
      lastSuccess: at(-63 * 60_000),
      lastFailure: at(-5_000),
      lastErrorClass: 'network',
      consecutiveFailures: 31,
    }),
    target({
      name: 'audit-db',
      fresh: false,
      expiration: null,
      lastSuccess: null,
      nextRefresh: null,
    }),
  ],
};

describe('status rendering', () => {
  it('healthy: every target fresh, exit 0 (golden text and JSON)', () => {
    assert.equal(statusExitCode(HEALTHY, NOW), 0);
    assertGolden('status-healthy.txt', renderStatusText(HEALTHY, NOW));
    assertGolden('status-healthy.json.txt', renderStatusJson(HEALTHY, NOW));
  });

  it('failing, expired and pending targets, each with its usual fix, exit 1 (golden text and JSON)', () => {
    assert.equal(statusExitCode(FAILING, NOW), 1);
    const text = renderStatusText(FAILING, NOW);
    assertGolden('status-failing.txt', text);
    assertGolden('status-failing.json.txt', renderStatusJson(FAILING, NOW));
    assert.match(text, /reports-db \(access-denied\): the pod's identity may not perform this call/);
    assert.match(text, /expired 3m10s ago/);
  });

  it('a single target that is not fresh makes the exit code 1', () => {
    for (const t of FAILING.targets.slice(1)) {
      assert.equal(statusExitCode({ ready: false, targets: [target({}), t] }, NOW), 1, t.name);
    }
  });
});

describe('target state', () => {
  const cases: [string, Partial<TargetStatusDocument>, string][] = [
    ['fresh value, no failure', {}, 'fresh'],
    ['value past its expiry', { fresh: false, expiration: at(-1) }, 'expired'],
    [
      'value past its expiry while failing',
      { fresh: false, expiration: at(-1), consecutiveFailures: 3 },
      'expired',
    ],
    [
      'valid value, last refresh failed',
      { fresh: false, expiration: at(60_000), consecutiveFailures: 1 },
      'failing',
    ],
    ['valid value, inside the margin', { fresh: false, expiration: at(60_000) }, 'failing'],
    ['never succeeded, failing', { fresh: false, expiration: null, consecutiveFailures: 2 }, 'expired'],
    ['no value yet, no failure yet', { fresh: false, expiration: null, lastSuccess: null }, 'pending'],
  ];
  for (const [name, overrides, expected] of cases) {
    it(`${name}: ${expected}`, () => assert.equal(targetState(target(overrides), NOW), expected));
  }
});

describe('durations', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [999, '0s'],
    [42_000, '42s'],
    [60_000, '1m00s'],
    [12 * 60_000 + 4_000, '12m04s'],
    [3 * 3_600_000 + 7 * 60_000 + 59_000, '3h07m'],
    [2 * 86_400_000 + 4 * 3_600_000, '2d04h'],
  ];
  for (const [ms, expected] of cases)
    it(`${ms} ms: ${expected}`, () => assert.equal(formatDuration(ms), expected));

  it('countdown: time left, how long ago it expired, or -', () => {
    assert.equal(formatCountdown(NOW + 90_000, NOW), '1m30s');
    assert.equal(formatCountdown(NOW, NOW), 'expired 0s ago');
    assert.equal(formatCountdown(NOW - 3 * 60_000, NOW), 'expired 3m00s ago');
    assert.equal(formatCountdown(undefined, NOW), '-');
  });

  it('age: how long ago, or never', () => {
    assert.equal(formatAge(NOW - 5_000, NOW), '5s ago');
    assert.equal(formatAge(undefined, NOW), 'never');
  });
});

describe('status document', () => {
  it('reads what the sidecar serves', () => {
    assert.deepEqual(parseStatusDocument(JSON.stringify(FAILING)), FAILING);
  });

  const broken: [string, string][] = [
    ['not JSON', '<html>'],
    ['no targets', '{"ready":true}'],
    [
      'a target without a name',
      '{"ready":true,"targets":[{"kind":"rds","fresh":true,"consecutiveFailures":0}]}',
    ],
    [
      'an expiration that is a number',
      JSON.stringify({ ready: true, targets: [{ ...target({}), expiration: 5 }] }),
    ],
  ];
  for (const [name, body] of broken) {
    it(`refuses ${name}`, () => assert.throws(() => parseStatusDocument(body), StatusDocumentError));
  }
});
