// JWT-shaped web identity tokens like the ones kubelet projects for IRSA. The emulator does not check
// the JWT signature (it has no OIDC keys); it reads `sub`, `aud`, `iss` and `exp` the way STS would.
import { randomBytes } from 'node:crypto';

export interface WebIdentityClaims {
  subject?: string;
  audience?: string;
  issuer?: string;
  /** epoch ms */
  expiresAt?: number;
  /** epoch ms */
  issuedAt?: number;
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** Builds a JWT-shaped token (random signature) carrying the given claims. */
export function makeWebIdentityToken(claims: WebIdentityClaims = {}): string {
  const payload: Record<string, unknown> = {
    iss: claims.issuer ?? 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE',
    sub: claims.subject ?? 'system:serviceaccount:default:default',
    aud: [claims.audience ?? 'sts.amazonaws.com'],
  };
  if (claims.issuedAt !== undefined) payload['iat'] = Math.floor(claims.issuedAt / 1000);
  if (claims.expiresAt !== undefined) payload['exp'] = Math.floor(claims.expiresAt / 1000);
  return [
    b64url(JSON.stringify({ alg: 'RS256', kid: 'emulator' })),
    b64url(JSON.stringify(payload)),
    b64url(randomBytes(32)),
  ].join('.');
}

/** Claims of a JWT-shaped token, or undefined when the token is not a JWT. */
export function readWebIdentityClaims(token: string): WebIdentityClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const claims: WebIdentityClaims = {};
  if (typeof p['sub'] === 'string') claims.subject = p['sub'];
  const rawAud: unknown = p['aud'];
  const aud: unknown = Array.isArray(rawAud) ? (rawAud as unknown[])[0] : rawAud;
  if (typeof aud === 'string') claims.audience = aud;
  if (typeof p['iss'] === 'string') claims.issuer = p['iss'];
  if (typeof p['exp'] === 'number') claims.expiresAt = p['exp'] * 1000;
  if (typeof p['iat'] === 'number') claims.issuedAt = p['iat'] * 1000;
  return claims;
}
