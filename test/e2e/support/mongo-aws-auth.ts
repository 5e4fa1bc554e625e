import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { Binary, deserialize, serialize } from 'bson';
import type { Document } from 'bson';

/**
 * The server side of the MONGODB-AWS SASL conversation, checked the way Atlas and Percona Server for
 * MongoDB do: the client signs an `sts:GetCallerIdentity` request that binds the server nonce; the server
 * rebuilds that request and lets STS verify the signature, then maps the caller's ARN to a database user.
 * Spec: mongodb/specifications source/auth/auth.md, "MONGODB-AWS".
 */

export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
/** GS2 header flag 'n': the client does not support channel binding (the only value the spec allows). */
export const GS2_FLAG_N = 110;
const NONCE_BYTES = 32;
/** The STS refusal that a signature over another nonce produces. */
export const SIGNATURE_MISMATCH = 'signature-mismatch';
/** Headers the client must have signed so the signature binds this conversation. */
const MUST_SIGN = [
  'content-length',
  'content-type',
  'host',
  'x-amz-date',
  'x-mongodb-gs2-cb-flag',
  'x-mongodb-server-nonce',
];

/** The `sts:GetCallerIdentity` request exactly as the client signed it, rebuilt by the server. */
export interface RebuiltStsRequest {
  readonly method: 'POST';
  readonly host: string;
  readonly path: '/';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * What STS answered: the caller's ARN, or why it refused. `code` is the verifier's reason
 * (signature-mismatch, credential-expired, token-mismatch, clock-skew, ...), finer than STS's error codes.
 */
export type StsAnswer =
  { readonly ok: true; readonly arn: string } | { readonly ok: false; readonly code: string };

/** Sends the rebuilt request to STS (here: the local emulator) and reports its answer. */
export type StsCallerIdentity = (request: RebuiltStsRequest) => Promise<StsAnswer>;

/** Server-side checks a test may switch off to prove that a negative case is refused by that check alone. */
export type MongoAwsCheck = 'nonce-binding' | 'arn-mapping';

export type MongoAwsRejection =
  | 'malformed-client-first'
  | 'gs2-flag'
  | 'unknown-conversation'
  | 'malformed-client-final'
  | 'headers-not-signed'
  | 'nonce-mismatch'
  | 'unmapped-arn'
  | `sts:${string}`;

export interface MongoAwsDecision {
  readonly ok: boolean;
  /** 'accepted' or the first check that refused. */
  readonly reason: 'accepted' | MongoAwsRejection;
  /** Caller ARN from STS, when STS answered. */
  readonly arn?: string;
  /** Database principal the ARN mapped to, when accepted. */
  readonly principal?: string;
  readonly accessKeyId?: string;
}

export interface MongoAwsAuthOptions {
  readonly sts: StsCallerIdentity;
  /** Host the client is told to sign for (`h`); Atlas sends sts.amazonaws.com. */
  readonly stsHost?: string;
  /** IAM user or role ARNs registered as database users (roles as `arn:aws:iam::<acct>:role/<name>`). */
  readonly allowedArns: readonly string[];
  readonly disabledChecks?: Iterable<MongoAwsCheck>;
  readonly randomBytes?: (size: number) => Buffer;
}

/** Test hooks that corrupt the server's own state, to prove a check catches it. */
export interface MongoAwsHooks {
  /** The next conversation expects a nonce different from the one it sent the client (one byte flipped). */
  tamperExpectedNonce: boolean;
}

interface Conversation {
  readonly sentNonce: Buffer;
  readonly expectedNonce: Buffer;
}

export interface SaslReply {
  readonly reply: Document;
  /** Set when the conversation ended: the decision, and the principal when accepted. */
  readonly decision?: MongoAwsDecision;
}

const AUTH_FAILED = { ok: 0, errmsg: 'Authentication failed.', code: 18, codeName: 'AuthenticationFailed' };

function bytesOf(value: unknown): Buffer | undefined {
  if (value instanceof Binary) return Buffer.from(value.buffer);
  if (value instanceof Uint8Array) return Buffer.from(value);
  return undefined;
}

function emptyPayload(): Binary {
  return new Binary(new Uint8Array(0));
}

/** `arn:aws:sts::<acct>:assumed-role/<role>/<session>` -> `arn:aws:iam::<acct>:role/<role>`; others unchanged. */
export function principalArn(callerArn: string): string {
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(callerArn);
  if (assumed === null) return callerArn;
  return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
}

/** Registered role ARNs may carry a path; the assumed-role ARN never does, so compare without it. */
function withoutRolePath(arn: string): string {
  return arn.replace(/:role\/(?:[^/]+\/)*([^/]+)$/, ':role/$1');
}

/** `AWS4-HMAC-SHA256 Credential=AKID/..., SignedHeaders=a;b, Signature=hex` -> parts. */
function parseAuthorization(value: string): { accessKeyId: string; signedHeaders: string[] } | undefined {
  const match = /Credential=([^/,\s]+)\/[^,]*,\s*SignedHeaders=([^,\s]+),\s*Signature=[0-9a-f]+$/.exec(value);
  if (match === null || !value.startsWith('AWS4-HMAC-SHA256 ')) return undefined;
  return { accessKeyId: match[1] ?? '', signedHeaders: (match[2] ?? '').split(';') };
}

export class MongoAwsAuthenticator {
  readonly hooks: MongoAwsHooks = { tamperExpectedNonce: false };
  private readonly stsHost: string;
  /** Live: add a check to switch it off for the next conversations. */
  readonly disabledChecks: Set<MongoAwsCheck>;
  private readonly random: (size: number) => Buffer;
  private readonly conversations = new Map<number, Conversation>();
  /** Nonces recently sent to clients: lets a refusal name a nonce from another conversation. */
  private readonly recentNonces: Buffer[] = [];
  private nextConversationId = 1;

  constructor(private readonly options: MongoAwsAuthOptions) {
    this.stsHost = options.stsHost ?? 'sts.amazonaws.com';
    this.disabledChecks = new Set(options.disabledChecks ?? []);
    this.random = options.randomBytes ?? nodeRandomBytes;
  }

  /** saslStart: client-first {r: 32-byte nonce, p: GS2 flag} -> server-first {s: nonce, h: STS host}. */
  start(payload: unknown): SaslReply {
    const bytes = bytesOf(payload);
    let first: Document;
    try {
      first = bytes === undefined ? {} : deserialize(bytes, { promoteBuffers: false });
    } catch {
      first = {};
    }
    const clientNonce = bytesOf(first.r);
    if (clientNonce?.length !== NONCE_BYTES) {
      return { reply: AUTH_FAILED, decision: { ok: false, reason: 'malformed-client-first' } };
    }
    if (first.p !== GS2_FLAG_N) return { reply: AUTH_FAILED, decision: { ok: false, reason: 'gs2-flag' } };

    const sentNonce = Buffer.concat([clientNonce, this.random(NONCE_BYTES)]);
    let expectedNonce = sentNonce;
    if (this.hooks.tamperExpectedNonce) {
      this.hooks.tamperExpectedNonce = false;
      expectedNonce = Buffer.from(sentNonce);
      expectedNonce[expectedNonce.length - 1] = (expectedNonce.at(-1) ?? 0) ^ 0xff;
    }
    this.recentNonces.push(sentNonce);
    if (this.recentNonces.length > 64) this.recentNonces.shift();
    const conversationId = this.nextConversationId++;
    this.conversations.set(conversationId, { sentNonce, expectedNonce });
    return {
      reply: {
        conversationId,
        done: false,
        payload: new Binary(serialize({ s: new Binary(sentNonce), h: this.stsHost })),
        ok: 1,
      },
    };
  }

  /** saslContinue: client-final {a: Authorization, d: X-Amz-Date, t?: session token} -> verdict. */
  async finish(conversationId: unknown, payload: unknown): Promise<SaslReply> {
    const conversation =
      typeof conversationId === 'number' ? this.conversations.get(conversationId) : undefined;
    if (conversation === undefined) {
      return { reply: AUTH_FAILED, decision: { ok: false, reason: 'unknown-conversation' } };
    }
    this.conversations.delete(conversationId as number);
    const decision = await this.verify(conversation, payload);
    if (!decision.ok) return { reply: AUTH_FAILED, decision };
    return { reply: { conversationId, done: true, payload: emptyPayload(), ok: 1 }, decision };
  }

  private rebuild(nonce: Buffer, final: { a: string; d: string; t: string | undefined }): RebuiltStsRequest {
    const headers: Record<string, string> = {
      Authorization: final.a,
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': String(GET_CALLER_IDENTITY_BODY.length),
      Host: this.stsHost,
      'X-Amz-Date': final.d,
      'X-MongoDB-Server-Nonce': nonce.toString('base64'),
      'X-MongoDB-GS2-CB-Flag': 'n',
    };
    if (final.t !== undefined) headers['X-Amz-Security-Token'] = final.t;
    return { method: 'POST', host: this.stsHost, path: '/', headers, body: GET_CALLER_IDENTITY_BODY };
  }

  private async verify(conversation: Conversation, payload: unknown): Promise<MongoAwsDecision> {
    const bytes = bytesOf(payload);
    let doc: Document;
    try {
      doc = bytes === undefined ? {} : deserialize(bytes, { promoteBuffers: false });
    } catch {
      doc = {};
    }
    const { a, d, t } = doc;
    if (typeof a !== 'string' || typeof d !== 'string' || (t !== undefined && typeof t !== 'string')) {
      return { ok: false, reason: 'malformed-client-final' };
    }
    const authorization = parseAuthorization(a);
    if (authorization === undefined) return { ok: false, reason: 'malformed-client-final' };
    const { accessKeyId, signedHeaders } = authorization;
    const mustSign = t === undefined ? MUST_SIGN : [...MUST_SIGN, 'x-amz-security-token'];
    if (!mustSign.every((name) => signedHeaders.includes(name))) {
      return { ok: false, reason: 'headers-not-signed', accessKeyId };
    }

    const final = { a, d, t: t as string | undefined };
    let answer = await this.options.sts(this.rebuild(conversation.expectedNonce, final));
    if (!answer.ok && answer.code === SIGNATURE_MISMATCH) {
      // Did the client sign a nonce this server sent in another conversation (or one it no longer expects)?
      for (const other of this.recentNonces) {
        if (other.equals(conversation.expectedNonce)) continue;
        const retry = await this.options.sts(this.rebuild(other, final));
        if (!retry.ok) continue;
        if (!this.disabledChecks.has('nonce-binding')) {
          return { ok: false, reason: 'nonce-mismatch', arn: retry.arn, accessKeyId };
        }
        answer = retry;
        break;
      }
    }
    if (!answer.ok) return { ok: false, reason: `sts:${answer.code}`, accessKeyId };

    const principal = principalArn(answer.arn);
    const allowed = this.options.allowedArns.some((arn) => withoutRolePath(arn) === principal);
    if (!allowed && !this.disabledChecks.has('arn-mapping')) {
      return { ok: false, reason: 'unmapped-arn', arn: answer.arn, accessKeyId };
    }
    return { ok: true, reason: 'accepted', arn: answer.arn, principal, accessKeyId };
  }
}
