// The STS emulator's memory of every credential it issued: the secret a verifier needs to recompute a
// signature, and the identity (role, session, account) a GetCallerIdentity answer reports.
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';

export const DEFAULT_ACCOUNT_ID = '111122223333';
export const DEFAULT_LIFETIME_SECONDS = 3600;

export type CredentialSource = 'AssumeRoleWithWebIdentity' | 'AssumeRole' | 'issueCredentials';

export interface IssuedCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Whole seconds, the instant printed in the STS <Expiration>. */
  expiration: Date;
  issuedAt: Date;
  /** `arn:aws:sts::<acct>:assumed-role/<RoleName>/<SessionName>` */
  arn: string;
  /** `arn:aws:iam::<acct>:role/[path/]<RoleName>` */
  roleArn: string;
  sessionName: string;
  accountId: string;
  /** `<AssumedRoleId>:<SessionName>`, as in GetCallerIdentity's UserId. */
  userId: string;
  /** Obtained with AssumeRole signed by another assumed-role session (AWS "role chaining"). */
  chained: boolean;
  source: CredentialSource;
  /** Access key id of the credential that signed the AssumeRole that minted this one. */
  parentAccessKeyId?: string;
}

export interface ParsedRoleArn {
  partition: string;
  accountId: string;
  roleName: string;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;

export function parseRoleArn(arn: string): ParsedRoleArn | undefined {
  const m = ROLE_ARN.exec(arn);
  return m ? { partition: m[1]!, accountId: m[2]!, roleName: m[3]! } : undefined;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function fromAlphabet(bytes: Uint8Array, alphabet: string): string {
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/** Stable per role, like IAM's role id: `AROA` + 17 base32 characters. */
export function roleIdFor(roleArn: string): string {
  return `AROA${fromAlphabet(createHash('sha256').update(roleArn).digest().subarray(0, 17), BASE32)}`;
}

export type RandomBytes = (size: number) => Buffer;

export interface IssueInput {
  roleArn: string;
  sessionName: string;
  lifetimeSeconds: number;
  now: number;
  source: CredentialSource;
  chained?: boolean;
  parentAccessKeyId?: string;
}

export class CredentialRegistry {
  readonly #byKey = new Map<string, IssuedCredential>();
  readonly #random: RandomBytes;

  constructor(random: RandomBytes = nodeRandomBytes) {
    this.#random = random;
  }

  issue(input: IssueInput): IssuedCredential {
    const role = parseRoleArn(input.roleArn);
    if (!role) {
      throw new Error(
        `roleArn "${input.roleArn}" is not an IAM role ARN; use arn:aws:iam::<12 digits>:role/<name>`,
      );
    }
    let accessKeyId: string;
    do accessKeyId = `ASIA${fromAlphabet(this.#random(16), BASE32)}`;
    while (this.#byKey.has(accessKeyId));
    // Real session tokens are ~1,000 characters of base64 with '+', '/' and '='; keep those so URL-encoding bugs surface.
    const sessionToken = `IQoJb3JpZ2luX2VjE${this.#random(720).toString('base64')}`;
    const issuedAt = new Date(Math.floor(input.now / 1000) * 1000);
    const credential: IssuedCredential = {
      accessKeyId,
      secretAccessKey: fromAlphabet(this.#random(40), SECRET_CHARS),
      sessionToken,
      expiration: new Date(issuedAt.getTime() + input.lifetimeSeconds * 1000),
      issuedAt,
      arn: `arn:${role.partition}:sts::${role.accountId}:assumed-role/${role.roleName}/${input.sessionName}`,
      roleArn: input.roleArn,
      sessionName: input.sessionName,
      accountId: role.accountId,
      userId: `${roleIdFor(input.roleArn)}:${input.sessionName}`,
      chained: input.chained ?? false,
      source: input.source,
    };
    if (input.parentAccessKeyId !== undefined) credential.parentAccessKeyId = input.parentAccessKeyId;
    this.#byKey.set(accessKeyId, credential);
    return credential;
  }

  get(accessKeyId: string): IssuedCredential | undefined {
    return this.#byKey.get(accessKeyId);
  }

  revoke(accessKeyId: string): boolean {
    return this.#byKey.delete(accessKeyId);
  }

  all(): IssuedCredential[] {
    return [...this.#byKey.values()];
  }
}
