/**
 * A fake credential source for the sidecar's refresher and main: issues credentials with a chosen
 * lifetime on an injected clock, records each call, and fails on demand with AWS-shaped errors.
 * Secrets contain `/`, `+` and `=` like real ones, and are unique per call so leaks are findable.
 */
import type { CredentialFetcher, TemporaryCredentials } from '../../sidecar/src/identity.ts';
import type { RdsSigner } from '../../sidecar/src/rds-token.ts';

export interface AwsLikeError extends Error {
  $metadata?: { httpStatusCode?: number };
  code?: string;
}

export function awsError(name: string, message: string, status = 400): AwsLikeError {
  const e = new Error(message) as AwsLikeError;
  e.name = name;
  e.$metadata = { httpStatusCode: status };
  return e;
}

export function nodeError(code: string, message: string): AwsLikeError {
  const e = new Error(message) as AwsLikeError;
  e.code = code;
  return e;
}

export const FAKE_ERRORS = {
  throttling: () => awsError('Throttling', 'Rate exceeded', 400),
  accessDenied: () => awsError('AccessDenied', 'Not authorized to perform sts:AssumeRole', 403),
  network: () => nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'),
};

export class FakeCredentialSource {
  readonly calls: number[] = [];
  readonly issued: TemporaryCredentials[] = [];
  private failures: (() => Error)[] = [];
  private failing: (() => Error) | undefined;
  private held: { resolve: () => void; promise: Promise<void> } | undefined;

  constructor(
    private readonly now: () => number,
    public lifetimeMs = 3600_000,
    private readonly label = 'FAKE',
  ) {}

  /** The next `count` calls throw `make()`. */
  failNext(make: () => Error, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(make);
  }

  /** Every call throws `make()` until failUntilCleared(undefined). */
  failAlways(make: (() => Error) | undefined): void {
    this.failing = make;
  }

  /** Calls wait until release() (to observe a refresh in flight). */
  hold(): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.held = { resolve, promise };
  }

  release(): void {
    const h = this.held;
    this.held = undefined;
    h?.resolve();
  }

  readonly fetch: CredentialFetcher = async () => {
    this.calls.push(this.now());
    if (this.held) await this.held.promise;
    const fail = this.failures.shift() ?? this.failing;
    if (fail) throw fail();
    const n = this.issued.length + 1;
    const id = String(n).padStart(6, '0');
    const creds: TemporaryCredentials = {
      accessKeyId: `ASIA${this.label}${id}`.slice(0, 20).padEnd(20, 'X'),
      secretAccessKey: `s3cr3t/${this.label}+${id}=Zm9vYmFyYmF6cXV4`,
      sessionToken: `IQoJb3JpZ2luX2Vj/${this.label}+${id}+session/token==`,
      expiresAt: this.now() + this.lifetimeMs,
    };
    this.issued.push(creds);
    return creds;
  };
}

/**
 * A deterministic RDS "signer": a presigned `connect` URL shaped like the SDK's (credential scope,
 * X-Amz-Date on `now`, X-Amz-Expires 900), whose signature names the credentials it was signed with.
 */
export function fakeRdsSigner(
  calls: { keyId: string; at?: number }[] = [],
  now: () => number = () => Date.now(),
): RdsSigner {
  return (p) => {
    const at = now();
    calls.push({ keyId: p.credentials.accessKeyId, at });
    const amzDate = new Date(Math.floor(at / 1000) * 1000).toISOString().replace(/[-:]|\.000/g, '');
    const scope = `${p.credentials.accessKeyId}/${amzDate.slice(0, 8)}/${p.region}/rds-db/aws4_request`;
    const sig = Buffer.from(`${p.credentials.secretAccessKey}|${calls.length}`).toString('hex').slice(0, 64);
    const query = [
      'Action=connect',
      `DBUser=${encodeURIComponent(p.username)}`,
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      `X-Amz-Credential=${encodeURIComponent(scope)}`,
      `X-Amz-Date=${amzDate}`,
      'X-Amz-Expires=900',
      `X-Amz-Security-Token=${encodeURIComponent(p.credentials.sessionToken ?? '')}`,
      `X-Amz-Signature=${sig}`,
      'X-Amz-SignedHeaders=host',
    ];
    return Promise.resolve(`${p.hostname}:${p.port}/?${query.join('&')}`);
  };
}
