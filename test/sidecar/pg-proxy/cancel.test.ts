import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelKeys } from '../../../sidecar/src/pg-proxy/cancel.ts';

/** Deterministic key material: pids from a list, secrets filled with a counter. */
function keys(pids: number[]): CancelKeys {
  let n = 0;
  return new CancelKeys({
    pid: () => pids.shift() ?? 999,
    secret: (length) => Buffer.alloc(length, ++n),
  });
}

const real = (pid: number) => ({ processId: pid, secretKey: Buffer.from([pid, pid, pid, pid]) });

describe('CancelKeys', () => {
  it('maps an issued key pair to the real one, and nothing else', () => {
    const k = keys([11, 22]);
    const a = k.issue(real(1));
    const b = k.issue(real(2));
    assert.notEqual(a.processId, 1);
    assert.deepEqual(k.lookup(a.processId, a.secretKey), real(1));
    assert.deepEqual(k.lookup(b.processId, b.secretKey), real(2));
    // A right pid with another session's secret, or the real pair, cancels nothing.
    assert.equal(k.lookup(a.processId, b.secretKey), undefined);
    assert.equal(k.lookup(1, real(1).secretKey), undefined);
    assert.equal(k.lookup(a.processId, Buffer.concat([a.secretKey, Buffer.from([0])])), undefined);
  });

  it('issues secrets as long as the database ones (protocol 3.2 keys)', () => {
    const issued = keys([5]).issue({ processId: 1, secretKey: Buffer.alloc(32, 1) });
    assert.equal(issued.secretKey.length, 32);
  });

  it('never hands out a pid in use', () => {
    const k = keys([7, 7, 8]);
    const first = k.issue(real(1));
    const second = k.issue(real(2));
    assert.equal(first.processId, 7);
    assert.equal(second.processId, 8);
  });

  it('forgets a session once released', () => {
    const k = keys([3]);
    const issued = k.issue(real(1));
    k.release(issued);
    assert.equal(k.lookup(issued.processId, issued.secretKey), undefined);
    assert.equal(k.size, 0);
  });
});
