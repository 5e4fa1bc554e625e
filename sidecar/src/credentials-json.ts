/**
 * The AWS container-credentials JSON shape, read by the SDKs' HTTP credential provider
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI) and written to `<name>.credentials.json`.
 */
import type { TemporaryCredentials } from './identity.ts';

export interface ContainerCredentialsJson {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  /** RFC 3339 / ISO 8601 UTC, whole seconds. */
  Expiration: string;
}

export function isoSeconds(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export function toContainerCredentials(credentials: TemporaryCredentials): ContainerCredentialsJson {
  return {
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    // The SDKs require a string; long-term keys (no session) get an empty one.
    Token: credentials.sessionToken ?? '',
    Expiration: isoSeconds(credentials.expiresAt),
  };
}

export function renderCredentialsJson(credentials: TemporaryCredentials): string {
  return `${JSON.stringify(toContainerCredentials(credentials))}\n`;
}
