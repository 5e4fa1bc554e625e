/**
 * `<name>.token.meta.json`, written after each `<name>.token`: until when the sidecar trusted that
 * token. The token carries only its own X-Amz-Date and X-Amz-Expires, not the expiry of the
 * credentials that signed it (often sooner) nor the clock offset to AWS; a restarted sidecar reads
 * this instead of trusting the token for its full 15 minutes. It names the token by a SHA-256 of it,
 * so a crash between the two writes (a new token beside the old record) is detected: such a token
 * is not reused. No secret is in it.
 */
import { createHash } from 'node:crypto';

export const tokenMetaFileName = (targetName: string): string => `${targetName}.token.meta.json`;

interface TokenMetaJson {
  tokenSha256: string;
  /** RFC 3339 UTC, milliseconds: the end of the token's validity on this node's clock. */
  expiresAt: string;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function renderTokenMeta(token: string, expiresAt: number): string {
  const meta: TokenMetaJson = { tokenSha256: digest(token), expiresAt: new Date(expiresAt).toISOString() };
  return `${JSON.stringify(meta)}\n`;
}

/** The recorded expiry of exactly this token; undefined when the record is absent, damaged or for another token. */
export function tokenMetaExpiry(text: string | undefined, token: string): number | undefined {
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { tokenSha256, expiresAt } = raw as Partial<Record<keyof TokenMetaJson, unknown>>;
  if (tokenSha256 !== digest(token) || typeof expiresAt !== 'string') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiresAt)) return undefined;
  const ms = Date.parse(expiresAt);
  return Number.isFinite(ms) ? ms : undefined;
}
