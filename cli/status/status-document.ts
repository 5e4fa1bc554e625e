/**
 * Reads the sidecar's /v1/status answer (api-server.ts StatusDocument), checking its shape: a sidecar
 * of another release, or something else listening on the port, gives a clear error, not a crash.
 */
import type { StatusDocument, TargetStatusDocument } from '../../sidecar/src/api-server.ts';

export class StatusDocumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusDocumentError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const STRING_OR_NULL_FIELDS = [
  'expiration',
  'lastSuccess',
  'lastFailure',
  'lastErrorClass',
  'nextRefresh',
] as const;

function parseTarget(raw: unknown, index: number): TargetStatusDocument {
  const where = `targets[${index}]`;
  if (!isObject(raw)) throw new StatusDocumentError(`${where} is not an object`);
  if (typeof raw.name !== 'string') throw new StatusDocumentError(`${where}.name is not a string`);
  if (raw.kind !== 'rds' && raw.kind !== 'mongo')
    throw new StatusDocumentError(`${where}.kind is not rds or mongo`);
  if (typeof raw.fresh !== 'boolean') throw new StatusDocumentError(`${where}.fresh is not a boolean`);
  if (typeof raw.consecutiveFailures !== 'number') {
    throw new StatusDocumentError(`${where}.consecutiveFailures is not a number`);
  }
  for (const key of STRING_OR_NULL_FIELDS) {
    if (raw[key] !== null && typeof raw[key] !== 'string') {
      throw new StatusDocumentError(`${where}.${key} is neither a string nor null`);
    }
  }
  const text = (key: (typeof STRING_OR_NULL_FIELDS)[number]) => raw[key] as string | null;
  return {
    name: raw.name,
    kind: raw.kind,
    fresh: raw.fresh,
    expiration: text('expiration'),
    lastSuccess: text('lastSuccess'),
    lastFailure: text('lastFailure'),
    lastErrorClass: text('lastErrorClass'),
    consecutiveFailures: raw.consecutiveFailures,
    nextRefresh: text('nextRefresh'),
  };
}

export function parseStatusDocument(body: string): StatusDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new StatusDocumentError('the answer is not JSON');
  }
  if (!isObject(raw) || typeof raw.ready !== 'boolean' || !Array.isArray(raw.targets)) {
    throw new StatusDocumentError('the answer has no "ready" and "targets": is this a token-broker sidecar?');
  }
  return { ready: raw.ready, targets: raw.targets.map((t, i) => parseTarget(t, i)) };
}
