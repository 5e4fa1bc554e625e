/**
 * The MongoDB connection string with MONGODB-AWS credentials in it, for drivers before 7 and mongosh
 * (driver 7 takes AWS credentials only from the AWS SDK chain: use the credentials endpoint there).
 * The key id and secret are the URI's user info and the session token goes in
 * authMechanismProperties; all are percent-encoded (secrets and session tokens contain `/`, `+`, `=`).
 */
import {
  isMongoAuthOption,
  MONGO_AUTH_OPTIONS,
  passThroughMongoOption,
} from '../../contract/mongo-options.ts';
import type { MongoTarget } from '../../contract/sidecar-config.ts';
import { unsafeCharacter } from '../../contract/safe-text.ts';
import type { TemporaryCredentials } from './identity.ts';

/** Options the sidecar sets itself; a pass-through option of the same name is dropped. */
export const RESERVED_MONGO_OPTIONS = MONGO_AUTH_OPTIONS.map((o) => o.toLowerCase());

export function isReservedMongoOption(key: string): boolean {
  return isMongoAuthOption(key);
}

export class MongoUriError extends Error {
  constructor(field: string, character: string) {
    // The value is not echoed; the field names what to fix.
    super(`mongo uri: ${field} contains ${character}; fix the target's ${field}`);
    this.name = 'MongoUriError';
  }
}

function text(field: string, value: string): string {
  const bad = unsafeCharacter(value);
  if (bad !== undefined) throw new MongoUriError(field, bad);
  return encodeURIComponent(value);
}

export function renderMongoUri(target: MongoTarget, credentials: TemporaryCredentials): string {
  const userInfo = `${encodeURIComponent(credentials.accessKeyId)}:${encodeURIComponent(credentials.secretAccessKey)}`;
  const query = ['authSource=%24external', 'authMechanism=MONGODB-AWS'];
  if (credentials.sessionToken !== undefined && credentials.sessionToken !== '') {
    query.push(`authMechanismProperties=AWS_SESSION_TOKEN:${encodeURIComponent(credentials.sessionToken)}`);
  }
  // Only allow-listed options: parseSidecarConfig refuses others, and this keeps a hand-built
  // target from appending one (e.g. a second session token) after the real credentials.
  for (const [key, value] of Object.entries(target.options)) {
    if (passThroughMongoOption(key) === undefined) continue;
    query.push(`${encodeURIComponent(key)}=${text(`option ${key}`, value)}`);
  }
  return `${target.scheme}://${userInfo}@${target.hosts.join(',')}/${text('database', target.database)}?${query.join('&')}`;
}
