/**
 * One log format for the webhook and the sidecar: JSON lines with an ISO timestamp, the level as a
 * word and the component, so an SRE's log queries work on both.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './log-levels.ts';

export interface JsonLoggerOptions {
  component: string;
  level: LogLevel;
  /** Paths pino censors wherever they show up in a line (defence in depth). */
  redactPaths: string[];
  /** Where lines go; tests pass a sink. Default: stdout. */
  destination?: DestinationStream | undefined;
}

export function createJsonLogger(options: JsonLoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { component: options.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: options.redactPaths, censor: '[redacted]' },
      formatters: { level: (label: string) => ({ level: label }) },
    },
    // Synchronous stdout: the CLI calls process.exit after shutdown, and no line may be lost or reordered.
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
