import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { targetState, type TargetState, type TargetStateInput } from '../../sidecar/src/target-state.ts';

const NOW = Date.UTC(2030, 0, 1);

describe('targetState', () => {
  const cases: [string, TargetStateInput, TargetState][] = [
    [
      'valid beyond the margin, last refresh ok',
      { expiresAt: NOW + 600_000, fresh: true, consecutiveFailures: 0 },
      'fresh',
    ],
    [
      'valid beyond the margin, last refresh failed',
      { expiresAt: NOW + 600_000, fresh: true, consecutiveFailures: 2 },
      'failing',
    ],
    [
      'valid but inside the margin',
      { expiresAt: NOW + 60_000, fresh: false, consecutiveFailures: 0 },
      'failing',
    ],
    ['no value after failures', { expiresAt: undefined, fresh: false, consecutiveFailures: 1 }, 'expired'],
    ['value ran out', { expiresAt: NOW - 1, fresh: false, consecutiveFailures: 0 }, 'expired'],
    ['value ends exactly now', { expiresAt: NOW, fresh: false, consecutiveFailures: 3 }, 'expired'],
    [
      'no value, nothing failed yet',
      { expiresAt: undefined, fresh: false, consecutiveFailures: 0 },
      'pending',
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(`${name}: ${expected}`, () => assert.equal(targetState(input, NOW), expected));
  }
});
