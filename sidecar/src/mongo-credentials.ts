/**
 * MONGODB-AWS uses the AWS credentials themselves: the driver signs an sts:GetCallerIdentity request
 * with them and the server forwards it to STS. The value served for a Mongo target is the target's
 * temporary credentials (key id, secret, session token, expiry), unchanged.
 */
import type { TemporaryCredentials } from './identity.ts';

export interface MongoValue {
  readonly kind: 'mongo';
  readonly credentials: TemporaryCredentials;
  /** Epoch ms, the credentials' expiry. */
  readonly expiresAt: number;
}

export function makeMongoCredentials(credentials: TemporaryCredentials): MongoValue {
  return { kind: 'mongo', credentials, expiresAt: credentials.expiresAt };
}
