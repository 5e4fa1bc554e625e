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

/**
 * Reads back a `<name>.credentials.json` written earlier; undefined unless every field is present
 * and Expiration is a UTC timestamp (so its validity can be established).
 */
export function parseCredentialsJson(text: string): TemporaryCredentials | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { AccessKeyId, SecretAccessKey, Token, Expiration } = raw as Partial<
    Record<keyof ContainerCredentialsJson, unknown>
  >;
  if (
    typeof AccessKeyId !== 'string' ||
    AccessKeyId === '' ||
    typeof SecretAccessKey !== 'string' ||
    SecretAccessKey === '' ||
    typeof Token !== 'string' ||
    typeof Expiration !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(Expiration)
  ) {
    return undefined;
  }
  const expiresAt = Date.parse(Expiration);
  if (!Number.isFinite(expiresAt)) return undefined;
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    sessionToken: Token === '' ? undefined : Token,
    expiresAt,
  };
}
