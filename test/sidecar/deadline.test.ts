import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StepTimeoutError, withDeadline } from '../../sidecar/src/deadline.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

describe('withDeadline', () => {
  it('passes a result or an error through and leaves no timer behind', async () => {
    const clock = new FakeClock();
    assert.equal(await withDeadline(Promise.resolve(7), 1_000, clock, 'x'), 7);
    await assert.rejects(withDeadline(Promise.reject(new Error('boom')), 1_000, clock, 'x'), /boom/);
    assert.equal(clock.pendingTimers(), 0);
  });

  it('rejects with a StepTimeoutError naming the step once the deadline passes', async () => {
    const clock = new FakeClock();
    const late = withDeadline(new Promise<never>(() => undefined), 2_500, clock, 'writing the files');
    const outcome = late.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await clock.advance(2_499);
    assert.equal(clock.pendingTimers(), 1, 'still waiting');
    await clock.advance(1);
    const error = await outcome;
    assert.ok(error instanceof StepTimeoutError);
    assert.equal(error.message, 'writing the files did not finish within 2.5 s');
    assert.equal(error.code, 'StepTimeout');
  });

  it('a step that fails after its deadline raises no unhandled rejection', async () => {
    const clock = new FakeClock();
    let fail!: (e: Error) => void;
    const step = new Promise<never>((_, reject) => (fail = reject));
    const guarded = withDeadline(step, 10, clock, 'x').catch(() => 'timed out');
    await clock.advance(10);
    assert.equal(await guarded, 'timed out');
    let unhandled = false;
    const onUnhandled = () => (unhandled = true);
    process.once('unhandledRejection', onUnhandled);
    fail(new Error('late'));
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onUnhandled);
    assert.equal(unhandled, false);
  });
});
