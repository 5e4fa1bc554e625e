/**
 * The claims of a projected service account token that explain an IRSA failure, decoded without
 * checking the signature and without keeping or printing anything else of the token.
 */

export interface WebIdentityClaims {
  audience: string[];
  subject: string | undefined;
  issuer: string | undefined;
  /** Epoch ms. */
  expiresAt: number | undefined;
}

/** Undefined when the text is not a JWT with a JSON payload. */
export function decodeWebIdentityClaims(token: string): WebIdentityClaims | undefined {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
  return {
    audience: aud.filter((a): a is string => typeof a === 'string'),
    subject: typeof p.sub === 'string' ? p.sub : undefined,
    issuer: typeof p.iss === 'string' ? p.iss : undefined,
    expiresAt: typeof p.exp === 'number' ? p.exp * 1000 : undefined,
  };
}

/** `system:serviceaccount:<namespace>:<name>`, the subject kubelet gives a ServiceAccount's token. */
export function serviceAccountOf(
  subject: string | undefined,
): { namespace: string; name: string } | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(subject ?? '');
  return m?.[1] !== undefined && m[2] !== undefined ? { namespace: m[1], name: m[2] } : undefined;
}
