/**
 * Deadlines for steps that may never settle (a credentials endpoint that accepts the connection and
 * never answers, a hung file system). The step itself cannot be cancelled: its late result is
 * dropped, and the caller moves on with a StepTimeoutError, which error-class.ts classes `timeout`.
 */
import type { Timers } from './timers.ts';

export class StepTimeoutError extends Error {
  readonly code = 'StepTimeout';
  constructor(
    readonly step: string,
    readonly timeoutMs: number,
  ) {
    super(`${step} did not finish within ${Math.round(timeoutMs / 100) / 10} s`);
    this.name = 'StepTimeoutError';
  }
}

/** `work`, or a StepTimeoutError once `timeoutMs` has passed on `timers`; the timer never outlives the race. */
export function withDeadline<T>(
  work: Promise<T>,
  timeoutMs: number,
  timers: Pick<Timers, 'setTimeout' | 'clearTimeout'>,
  step: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = timers.setTimeout(
      () => reject(new StepTimeoutError(step, timeoutMs)),
      Math.max(0, timeoutMs),
    );
    work.then(
      (value) => {
        timers.clearTimeout(timer);
        resolve(value);
      },
      (error: Error) => {
        timers.clearTimeout(timer);
        // Passed on as it is: classification reads whatever the step threw.
        reject(error);
      },
    );
  });
}
