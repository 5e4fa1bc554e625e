/**
 * Structured JSON logs (pino). Secrets are kept out in two layers: nothing secret is passed to the
 * logger on purpose, and redaction paths plus a scrubber for error messages (which may quote a
 * presigned URL or a token from a library) catch what slips through. test/sidecar/secret-leak.test.ts
 * searches every byte of a full scenario's output for the secrets.
 */
import type { DestinationStream, Logger } from 'pino';
import { createJsonLogger } from '../../common/json-logger.ts';
import type { LogLevel } from '../../common/log-levels.ts';

export type { Logger } from 'pino';
export { describeError, scrubText } from './scrub.ts';

const SECRET_KEYS = [
  'token',
  'authToken',
  'secretAccessKey',
  'SecretAccessKey',
  'sessionToken',
  'SessionToken',
  'Token',
  'password',
  'credentials',
  'Credentials',
  'authorization',
  'Authorization',
];

export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'headers.authorization',
  'headers.Authorization',
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return createJsonLogger({
    component: 'token-broker-sidecar',
    level,
    redactPaths: REDACT_PATHS,
    destination,
  });
}
