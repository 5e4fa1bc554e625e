/**
 * The MongoDB connection string with MONGODB-AWS credentials in it, for drivers before 7 and mongosh
 * (driver 7 takes AWS credentials only from the AWS SDK chain: use the credentials endpoint there).
 * The key id and secret are the URI's user info and the session token goes in
 * authMechanismProperties; all are percent-encoded (secrets and session tokens contain `/`, `+`, `=`).
 */
import type { MongoTarget } from '../../contract/sidecar-config.ts';
import type { TemporaryCredentials } from './identity.ts';

/** Options the sidecar sets itself; a pass-through option of the same name is dropped. */
export const RESERVED_MONGO_OPTIONS = ['authsource', 'authmechanism', 'authmechanismproperties'] as const;

export function isReservedMongoOption(key: string): boolean {
  return (RESERVED_MONGO_OPTIONS as readonly string[]).includes(key.toLowerCase());
}

export function renderMongoUri(target: MongoTarget, credentials: TemporaryCredentials): string {
  const userInfo = `${encodeURIComponent(credentials.accessKeyId)}:${encodeURIComponent(credentials.secretAccessKey)}`;
  const query = ['authSource=%24external', 'authMechanism=MONGODB-AWS'];
  if (credentials.sessionToken !== undefined && credentials.sessionToken !== '') {
    query.push(`authMechanismProperties=AWS_SESSION_TOKEN:${encodeURIComponent(credentials.sessionToken)}`);
  }
  for (const [key, value] of Object.entries(target.options)) {
    if (isReservedMongoOption(key)) continue;
    query.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  }
  return `${target.scheme}://${userInfo}@${target.hosts.join(',')}/${encodeURIComponent(target.database)}?${query.join('&')}`;
}
