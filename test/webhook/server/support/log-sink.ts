/** A pino destination that keeps every line, so tests can read what was logged (and what was not). */
import type { DestinationStream } from 'pino';

export interface LogSink extends DestinationStream {
  lines: string[];
  entries(): Record<string, unknown>[];
  text(): string;
}

export function logSink(): LogSink {
  const lines: string[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(line);
    },
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join(''),
  };
}
