/**
 * Last-resort handlers for the process. An unhandled rejection or an uncaught exception means some
 * loop may have died while the servers still answer: a half-dead broker that looks alive. So the
 * process logs one line (the error's name, code and scrubbed message: no stack, no fields, which
 * may hold credentials) and exits non-zero; kubelet restarts the container, and the restart reuses
 * the still-valid files. Loads no logger library (the CLI installs it for every command).
 */
import { describeError } from './scrub.ts';

export const FATAL_EXIT_CODE = 70; // EX_SOFTWARE: an internal error, not bad input

export interface GuardedProcess {
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (error: unknown) => void): unknown;
}

export interface ProcessGuardOptions {
  /** `component` of the JSON line, as the command's own logs name it. */
  component: string;
  /** Writes one line synchronously (the process exits right after). */
  write: (line: string) => void;
  exit: (code: number) => void;
  now?: () => number;
}

/** The JSON line, in the shape of common/json-logger.ts. */
export function fatalLine(kind: string, error: unknown, component: string, now: number): string {
  return `${JSON.stringify({
    level: 'fatal',
    time: new Date(now).toISOString(),
    component,
    error: describeError(error),
    msg: `${kind}: ${describeError(error).message}; exiting so the container restarts`,
  })}\n`;
}

export function installProcessGuard(proc: GuardedProcess, options: ProcessGuardOptions): void {
  let handled = false;
  const handle = (kind: string) => (error: unknown) => {
    if (handled) return;
    handled = true;
    try {
      options.write(fatalLine(kind, error, options.component, (options.now ?? Date.now)()));
    } finally {
      options.exit(FATAL_EXIT_CODE);
    }
  };
  proc.on('unhandledRejection', handle('unhandled promise rejection'));
  proc.on('uncaughtException', handle('uncaught exception'));
}
