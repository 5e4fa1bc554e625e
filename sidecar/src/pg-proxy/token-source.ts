/**
 * The token the proxy answers the database's password request with, fresh at that moment: the
 * target's currently published token when it stays valid beyond a small margin, else one the
 * refresher signs now (from its cached credentials, or new ones), through the same signer and the
 * same single-flight cycle as the files. The token never leaves this function except to the database.
 */
import type { TargetValue } from '../publisher.ts';
import { ProxyError } from './proxy-error.ts';

/** A login takes well under a second; the margin absorbs a slow one and small clock differences. */
export const PROXY_TOKEN_MARGIN_MS = 30_000;

/** What the proxy needs of a TargetRefresher. */
export interface TokenHolder {
  current(): TargetValue | undefined;
  /** Runs a refresh cycle now, or joins the one already running; never rejects. */
  refreshNow(): Promise<void>;
  status(): { lastErrorClass?: string | undefined };
}

/** Pure: the held value's token if it is valid for at least `marginMs` more. */
export function usableToken(
  value: TargetValue | undefined,
  now: number,
  marginMs: number,
): string | undefined {
  if (value === undefined || value.kind !== 'rds') return undefined;
  return value.expiresAt - now > marginMs ? value.token : undefined;
}

export function freshTokenSource(
  holder: TokenHolder,
  now: () => number,
  marginMs = PROXY_TOKEN_MARGIN_MS,
): () => Promise<string> {
  return async () => {
    const held = usableToken(holder.current(), now(), marginMs);
    if (held !== undefined) return held;
    await holder.refreshNow();
    const signed = usableToken(holder.current(), now(), marginMs);
    if (signed !== undefined) return signed;
    const cause = holder.status().lastErrorClass;
    throw new ProxyError(
      'no-token',
      `no RDS token valid for the next ${Math.round(marginMs / 1000)} s could be signed${cause === undefined ? '' : ` (last refresh error: ${cause})`}`,
    );
  };
}
