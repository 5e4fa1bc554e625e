// A local AWS STS stand-in speaking the Query API (awsQuery protocol) exactly as @aws-sdk/client-sts v3
// calls it: `POST /`, form body `Action=…&Version=2011-06-15&…`, XML answers and XML errors. Signed actions
// are verified with our own SigV4 (./sigv4.ts) against the credentials this emulator issued.
import { randomBytes as nodeRandomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { LoopbackServer } from './loopback-server.ts';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS, verifySignedRequest } from './sigv4.ts';
import type { CredentialLookup, HeaderBag, SigV4Failure, SigV4FailureReason } from './sigv4.ts';
import { TokenBucket, type RateLimit } from './sts-rate-limit.ts';
import {
  CredentialRegistry,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_LIFETIME_SECONDS,
  parseRoleArn,
} from './sts-registry.ts';
import type { IssuedCredential, RandomBytes } from './sts-registry.ts';
import {
  STS_VERSION,
  assumeRoleWithWebIdentityXml,
  assumeRoleXml,
  errorXml,
  getCallerIdentityXml,
} from './sts-xml.ts';
import type { StsErrorBody } from './sts-xml.ts';
import { readWebIdentityClaims } from './web-identity-token.ts';

export type { IssuedCredential } from './sts-registry.ts';

export type StsAction = 'AssumeRole' | 'AssumeRoleWithWebIdentity' | 'GetCallerIdentity';
const ACTIONS: ReadonlySet<string> = new Set<StsAction>([
  'AssumeRole',
  'AssumeRoleWithWebIdentity',
  'GetCallerIdentity',
]);

export type StsFaultKind =
  | 'throttling' // 400 Throttling
  | 'access-denied' // 403 AccessDenied
  | 'expired-token' // 400 ExpiredTokenException (web identity token expired)
  | 'invalid-identity-token' // 400 InvalidIdentityToken
  | 'idp-communication-error' // 400 IDPCommunicationError (EKS OIDC keys unreachable)
  | 'server-error' // 500 InternalFailure
  | 'slow' // answer normally, but only after the slow delay
  | 'reset' // destroy the socket without answering
  | 'garbage'; // 200 whose body is not STS XML (truncated), as from a broken proxy

export interface RoleConfig {
  /** AssumeRole must pass exactly this ExternalId, else AccessDenied. */
  externalId?: string;
  /** Principal ARNs allowed to AssumeRole it (session ARN, role ARN, `arn:aws:iam::<acct>:root` or `*`). Absent: anyone. */
  trust?: readonly string[];
  /** The role's MaxSessionDuration (IAM default 3600). */
  maxSessionDurationSeconds?: number;
  /** false: AssumeRoleWithWebIdentity is AccessDenied for this role. Default true. */
  allowWebIdentity?: boolean;
  /** Forces the lifetime of credentials issued for this role (wins over credentialLifetimeSeconds). */
  lifetimeSeconds?: number;
}

export interface WebIdentityTokenEntry {
  token: string;
  subject?: string;
  audience?: string;
  /** epoch ms; at or after it the token gives ExpiredTokenException. */
  expiresAt?: number;
  /** Only these roles may be assumed with the token. Absent: any. */
  roles?: readonly string[];
}

export interface StsEmulatorOptions {
  /** Account used by issueCredentials' default role. Default 111122223333. */
  accountId?: string;
  /**
   * Allow-list of web identity tokens. Absent: any token of 4+ characters is accepted (a JWT-shaped
   * token's `exp` is still honoured). Present (even empty): only these.
   */
  acceptedWebIdentityTokens?: ReadonlyArray<string | WebIdentityTokenEntry>;
  /** Known roles. Absent: any well-formed role ARN may be assumed. Present: others are AccessDenied. */
  roles?: Record<string, RoleConfig>;
  /** Clock in epoch ms. Default Date.now. The HTTP Date header follows it, so the SDK corrects skew like with AWS. */
  now?: () => number;
  /** Forces the lifetime of every issued credential whose role sets none (otherwise DurationSeconds, default 3600). */
  credentialLifetimeSeconds?: number;
  /** SigV4 header-date tolerance; Infinity disables. Default 300. */
  maxClockSkewSeconds?: number;
  /** When set, signed requests must be scoped to this region (like a regional endpoint). */
  region?: string;
  /** Delay of the 'slow' fault. Default 10 000 ms. */
  slowDelayMs?: number;
  /** Source of key material. Default crypto.randomBytes. */
  randomBytes?: RandomBytes;
  /** Throttles every action above this rate (400 Throttling, like real STS), on the `now` clock. */
  rateLimit?: RateLimit;
}

export interface StsCallRecord {
  seq: number;
  /** Emulator clock (epoch ms) when the request arrived. */
  at: number;
  action: string;
  roleArn?: string;
  sessionName?: string;
  durationSeconds?: number;
  externalId?: string;
  /** Signing key of the caller (signed actions). */
  accessKeyId?: string;
  /** Region from the caller's credential scope (signed actions). */
  signingRegion?: string;
  webIdentityToken?: string;
  /** Access key id of the credential this call issued. */
  issuedAccessKeyId?: string;
  fault?: StsFaultKind;
  /** 'ok', an STS error code (e.g. 'AccessDenied'), 'reset', or 'pending' while a slow call waits. */
  outcome: string;
  status?: number;
}

export interface ForwardedStsRequest {
  /** Default POST. */
  method?: string;
  /** Host the client signed for, e.g. sts.amazonaws.com or sts.eu-west-1.amazonaws.com. Default: headers.host or url. */
  host?: string;
  /** Alternative to host + path, e.g. https://sts.amazonaws.com/ */
  url?: string;
  /** Default '/'. */
  path?: string;
  headers: HeaderBag;
  body?: string | Uint8Array;
  /** Lowercase header names that must be signed (MONGODB-AWS: x-mongodb-server-nonce, x-mongodb-gs2-cb-flag). */
  requiredSignedHeaders?: readonly string[];
}

export type GetCallerIdentityFailureReason = SigV4FailureReason | 'not-sts-host' | 'not-get-caller-identity';

export type GetCallerIdentityVerification =
  | {
      ok: true;
      arn: string;
      account: string;
      userId: string;
      accessKeyId: string;
      credential: IssuedCredential;
    }
  | { ok: false; reason: GetCallerIdentityFailureReason; message: string; accessKeyId?: string };

export interface FailNextOptions {
  /** Only calls of this action consume the fault. Default: any action. */
  action?: StsAction;
  /** 'slow' only: delay for this fault instead of slowDelayMs. */
  delayMs?: number;
}

export interface IssueCredentialsInput {
  /** Default `arn:aws:iam::<accountId>:role/emulator-role`. */
  roleArn?: string;
  /** Default `emulator-<n>`. */
  sessionName?: string;
  /** Default: the configured lifetime, else 3600. */
  lifetimeSeconds?: number;
}

export interface StsEmulator {
  /** `http://127.0.0.1:<port>`: pass as the SDK client's `endpoint` or AWS_ENDPOINT_URL_STS. */
  readonly url: string;
  readonly port: number;
  /** Every HTTP call, in arrival order (live array). */
  readonly calls: readonly StsCallRecord[];
  /** Every verifyGetCallerIdentity call (live array). */
  readonly forwardedCalls: readonly { at: number; accessKeyId?: string; outcome: string }[];
  close(): Promise<void>;
  failNext(kind: StsFaultKind, count?: number, options?: FailNextOptions): void;
  clearFaults(): void;
  setCredentialLifetimeSeconds(seconds: number | undefined): void;
  credentialFor(accessKeyId: string): IssuedCredential | undefined;
  /** credentialFor, shaped for the verifiers in sigv4.ts / rds-token.ts. */
  readonly lookup: CredentialLookup;
  /** Mint a credential directly (no HTTP call recorded), e.g. for a container-credentials agent. */
  issueCredentials(input?: IssueCredentialsInput): IssuedCredential;
  revokeCredentials(accessKeyId: string): boolean;
  /** Adds a token to the allow-list (in accept-any mode this switches to an allow-list of just this token). */
  acceptWebIdentityToken(entry: string | WebIdentityTokenEntry): void;
  /** Removes a token: it then gives InvalidIdentityToken (in accept-any mode this switches to an empty allow-list). */
  revokeWebIdentityToken(token: string): void;
  /** Adds/replaces a role; only when started with options.roles (explicit role list). */
  setRole(roleArn: string, config: RoleConfig): void;
  /** Check a GetCallerIdentity request a client signed for STS (as a MongoDB server would forward it), without network. */
  verifyGetCallerIdentity(request: ForwardedStsRequest): GetCallerIdentityVerification;
}

const ROLE_SESSION_NAME = /^[\w+=,.@-]*$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]*$/;
const MAX_BODY_BYTES = 1 << 20;
const STS_HOST = /^sts(?:\.([a-z]{2}(?:-[a-z]+)+-\d))?\.amazonaws\.com(?:\.cn)?$/;

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly body: StsErrorBody,
  ) {
    super(body.message);
  }
}

const sender = (status: number, code: string, message: string): StsError =>
  new StsError(status, { type: 'Sender', code, message });

function validationError(field: string, value: string | undefined, constraint: string): StsError {
  const shown = value === undefined ? 'null' : `'${value}'`;
  return sender(
    400,
    'ValidationError',
    `1 validation error detected: Value ${shown} at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

function faultError(kind: StsFaultKind, action: string, roleArn: string | undefined, now: number): StsError {
  switch (kind) {
    case 'throttling':
      return sender(400, 'Throttling', 'Rate exceeded');
    case 'access-denied':
      return sender(
        403,
        'AccessDenied',
        `Not authorized to perform sts:${action} on resource: ${roleArn ?? '*'}`,
      );
    case 'expired-token': {
      const sec = Math.floor(now / 1000);
      return sender(
        400,
        'ExpiredTokenException',
        `Token expired: current date/time ${sec} must be before the expiration date/time${sec - 1}`,
      );
    }
    case 'invalid-identity-token':
      return sender(
        400,
        'InvalidIdentityToken',
        "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
      );
    case 'idp-communication-error':
      return sender(400, 'IDPCommunicationError', "Couldn't contact the identity provider");
    case 'server-error':
      return new StsError(500, {
        type: 'Receiver',
        code: 'InternalFailure',
        message: 'An internal error occurred',
      });
    case 'slow':
    case 'reset':
    case 'garbage':
      throw new Error(`fault ${kind} has no error body`);
  }
}

function authError(f: SigV4Failure): StsError {
  switch (f.reason) {
    case 'missing-authentication':
      return sender(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    case 'malformed':
    case 'unsupported-algorithm':
    case 'unsigned-required-header':
    case 'bad-expires':
      return sender(400, 'IncompleteSignature', f.message);
    case 'unknown-access-key':
    case 'missing-security-token':
    case 'token-mismatch':
      return sender(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    case 'credential-expired':
      return sender(403, 'ExpiredToken', 'The security token included in the request is expired');
    case 'wrong-scope':
    case 'clock-skew':
    case 'expired':
      return sender(403, 'SignatureDoesNotMatch', f.message);
    case 'signature-mismatch':
      return sender(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
  }
}

interface Fault {
  kind: StsFaultKind;
  action?: StsAction;
  delayMs?: number;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

class Emulator implements StsEmulator {
  url = '';
  port = 0;
  readonly calls: StsCallRecord[] = [];
  readonly forwardedCalls: { at: number; accessKeyId?: string; outcome: string }[] = [];
  readonly lookup: CredentialLookup = (id) => this.registry.get(id);

  private readonly registry: CredentialRegistry;
  private readonly now: () => number;
  private readonly accountId: string;
  private readonly roles: Map<string, RoleConfig> | undefined;
  private tokens: Map<string, WebIdentityTokenEntry> | undefined;
  private lifetimeOverride: number | undefined;
  private readonly faults: Fault[] = [];
  private readonly rateLimit: TokenBucket | undefined;
  private readonly http = new LoopbackServer((req, res) => this.handle(req, res));
  private seq = 0;
  private directIssued = 0;

  constructor(private readonly options: StsEmulatorOptions) {
    this.registry = new CredentialRegistry(options.randomBytes ?? nodeRandomBytes);
    this.now = options.now ?? Date.now;
    this.accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    this.roles = options.roles ? new Map(Object.entries(options.roles)) : undefined;
    if (options.acceptedWebIdentityTokens) {
      this.tokens = new Map();
      for (const entry of options.acceptedWebIdentityTokens) this.acceptWebIdentityToken(entry);
    }
    this.lifetimeOverride = options.credentialLifetimeSeconds;
    this.rateLimit = options.rateLimit ? new TokenBucket(options.rateLimit, this.now) : undefined;
  }

  async listen(): Promise<void> {
    this.port = await this.http.listen();
    this.url = `http://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  failNext(kind: StsFaultKind, count = 1, options: FailNextOptions = {}): void {
    for (let i = 0; i < count; i++) this.faults.push({ kind, ...options });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  setCredentialLifetimeSeconds(seconds: number | undefined): void {
    this.lifetimeOverride = seconds;
  }

  credentialFor(accessKeyId: string): IssuedCredential | undefined {
    return this.registry.get(accessKeyId);
  }

  issueCredentials(input: IssueCredentialsInput = {}): IssuedCredential {
    this.directIssued += 1;
    return this.registry.issue({
      roleArn: input.roleArn ?? `arn:aws:iam::${this.accountId}:role/emulator-role`,
      sessionName: input.sessionName ?? `emulator-${this.directIssued}`,
      lifetimeSeconds: input.lifetimeSeconds ?? this.lifetimeOverride ?? DEFAULT_LIFETIME_SECONDS,
      now: this.now(),
      source: 'issueCredentials',
    });
  }

  revokeCredentials(accessKeyId: string): boolean {
    return this.registry.revoke(accessKeyId);
  }

  acceptWebIdentityToken(entry: string | WebIdentityTokenEntry): void {
    const e = typeof entry === 'string' ? { token: entry } : entry;
    this.tokens ??= new Map();
    this.tokens.set(e.token, e);
  }

  revokeWebIdentityToken(token: string): void {
    this.tokens ??= new Map();
    this.tokens.delete(token);
  }

  setRole(roleArn: string, config: RoleConfig): void {
    if (!this.roles)
      throw new Error(
        'setRole: start the emulator with options.roles (even {}) to switch to an explicit role list',
      );
    this.roles.set(roleArn, config);
  }

  verifyGetCallerIdentity(request: ForwardedStsRequest): GetCallerIdentityVerification {
    const at = this.now();
    const result = this.verifyForwarded(request);
    const record: { at: number; accessKeyId?: string; outcome: string } = {
      at,
      outcome: result.ok ? 'ok' : result.reason,
    };
    if (result.accessKeyId !== undefined) record.accessKeyId = result.accessKeyId;
    this.forwardedCalls.push(record);
    return result;
  }

  private verifyForwarded(request: ForwardedStsRequest): GetCallerIdentityVerification {
    const url = request.url === undefined ? undefined : new URL(request.url);
    const headerHost = Object.entries(request.headers).find(([n]) => n.toLowerCase() === 'host')?.[1];
    const host = (
      request.host ??
      url?.host ??
      (typeof headerHost === 'string' ? headerHost : '')
    ).toLowerCase();
    const m = STS_HOST.exec(host);
    if (!m) {
      return {
        ok: false,
        reason: 'not-sts-host',
        message: `host "${host}" is not an STS endpoint (sts.amazonaws.com or sts.<region>.amazonaws.com)`,
      };
    }
    const region = m[1] ?? 'us-east-1';
    const method = (request.method ?? 'POST').toUpperCase();
    const path = request.path ?? (url ? `${url.pathname}${url.search}` : '/');
    const body = request.body === undefined ? '' : Buffer.from(request.body).toString('utf8');
    const params = new URLSearchParams(method === 'GET' ? (path.split('?')[1] ?? '') : body);
    if (params.get('Action') !== 'GetCallerIdentity' || params.get('Version') !== STS_VERSION) {
      return {
        ok: false,
        reason: 'not-get-caller-identity',
        message: `request is not Action=GetCallerIdentity&Version=${STS_VERSION}`,
      };
    }
    const headers: HeaderBag = {};
    for (const [n, v] of Object.entries(request.headers)) if (n.toLowerCase() !== 'host') headers[n] = v;
    headers['host'] = host;
    const verifyOptions = {
      lookup: this.lookup,
      now: this.now(),
      maxClockSkewSeconds: this.options.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS,
      expectedService: 'sts',
      expectedRegion: region,
      ...(request.requiredSignedHeaders ? { requiredSignedHeaders: request.requiredSignedHeaders } : {}),
    };
    const v = verifySignedRequest({ method, path, headers, body: request.body }, verifyOptions);
    if (!v.ok) return v;
    const credential = this.registry.get(v.accessKeyId)!;
    return {
      ok: true,
      arn: credential.arn,
      account: credential.accountId,
      userId: credential.userId,
      accessKeyId: v.accessKeyId,
      credential,
    };
  }

  // ------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const at = this.now();
    const record: StsCallRecord = { seq: ++this.seq, at, action: '', outcome: 'pending' };
    this.calls.push(record);
    const requestId = randomUUID();
    const wirePath = req.url ?? '/';
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      const contentType = String(req.headers['content-type'] ?? '');
      if (req.headers['smithy-protocol'] !== undefined || /json|cbor/i.test(contentType)) {
        throw sender(
          400,
          'UnsupportedProtocol',
          `this STS emulator speaks awsQuery only; got content-type "${contentType}" smithy-protocol "${String(req.headers['smithy-protocol'] ?? '')}"`,
        );
      }
      const params = new URLSearchParams(wirePath.split('?')[1] ?? '');
      for (const name of [...params.keys()]) if (name.startsWith('X-Amz-')) params.delete(name);
      if (method === 'POST')
        for (const [n, v] of new URLSearchParams(body.toString('utf8'))) params.append(n, v);
      const action = params.get('Action') ?? '';
      record.action = action;
      this.fillRecord(record, params);
      if ((wirePath.split('?')[0] ?? '/') !== '/')
        throw sender(404, 'NotFound', `no resource at ${wirePath.split('?')[0]}; STS answers on /`);
      if (action === '') throw sender(400, 'MissingAction', 'Missing Action');
      if (!ACTIONS.has(action) || params.get('Version') !== STS_VERSION) {
        throw sender(
          400,
          'InvalidAction',
          `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`,
        );
      }
      if (this.rateLimit && !this.rateLimit.tryTake()) {
        throw faultError('throttling', action, record.roleArn, at);
      }
      const fault = this.takeFault(action as StsAction);
      if (fault) {
        record.fault = fault.kind;
        if (fault.kind === 'reset') {
          record.outcome = 'reset';
          req.socket.destroy();
          return;
        }
        if (fault.kind === 'garbage') {
          record.outcome = 'garbage';
          record.status = 200;
          this.send(
            res,
            200,
            `<${action}Response xmlns="https://sts.amazonaws.com/doc/${STS_VERSION}/"><${action}Res`,
            requestId,
          );
          return;
        }
        if (fault.kind === 'slow') {
          await this.http.sleep(fault.delayMs ?? this.options.slowDelayMs ?? 10_000);
          if (this.http.closed) return;
        } else {
          throw faultError(fault.kind, action, record.roleArn, at);
        }
      }
      let xml: string;
      if (action === 'AssumeRoleWithWebIdentity')
        xml = this.assumeRoleWithWebIdentity(params, record, requestId);
      else {
        const caller = this.authenticate(method, wirePath, req.headers, body, record);
        xml =
          action === 'AssumeRole'
            ? this.assumeRole(params, caller, record, requestId)
            : getCallerIdentityXml(caller, requestId);
      }
      record.outcome = 'ok';
      record.status = 200;
      this.send(res, 200, xml, requestId);
    } catch (e) {
      if (!(e instanceof StsError)) throw e;
      record.outcome = e.body.code;
      record.status = e.status;
      this.send(res, e.status, errorXml(e.body, requestId), requestId);
    }
  }

  private send(res: ServerResponse, status: number, xml: string, requestId: string): void {
    if (res.destroyed) return;
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amzn-requestid': requestId,
      date: new Date(this.now()).toUTCString(),
    });
    res.end(xml);
  }

  private takeFault(action: StsAction): Fault | undefined {
    const i = this.faults.findIndex((f) => f.action === undefined || f.action === action);
    return i === -1 ? undefined : this.faults.splice(i, 1)[0];
  }

  private fillRecord(record: StsCallRecord, params: URLSearchParams): void {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    const duration = params.get('DurationSeconds');
    const externalId = params.get('ExternalId');
    const token = params.get('WebIdentityToken');
    if (roleArn !== null) record.roleArn = roleArn;
    if (sessionName !== null) record.sessionName = sessionName;
    if (duration !== null && /^\d+$/.test(duration)) record.durationSeconds = Number(duration);
    if (externalId !== null) record.externalId = externalId;
    if (token !== null) record.webIdentityToken = token;
  }

  private authenticate(
    method: string,
    wirePath: string,
    headers: IncomingMessage['headers'],
    body: Buffer,
    record: StsCallRecord,
  ): IssuedCredential {
    const verifyOptions = {
      lookup: this.lookup,
      now: this.now(),
      maxClockSkewSeconds: this.options.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS,
      expectedService: 'sts',
      ...(this.options.region !== undefined ? { expectedRegion: this.options.region } : {}),
    };
    const v = verifySignedRequest({ method, path: wirePath, headers, body }, verifyOptions);
    if (v.accessKeyId !== undefined) record.accessKeyId = v.accessKeyId;
    if (!v.ok) throw authError(v);
    record.signingRegion = v.region;
    return this.registry.get(v.accessKeyId)!;
  }

  private validateCommon(params: URLSearchParams): {
    roleArn: string;
    sessionName: string;
    duration: number | undefined;
  } {
    const roleArn = params.get('RoleArn') ?? undefined;
    if (roleArn === undefined) throw validationError('roleArn', undefined, 'Member must not be null');
    if (roleArn.length < 20 || roleArn.length > 2048)
      throw validationError('roleArn', roleArn, 'Member must have length greater than or equal to 20');
    if (!parseRoleArn(roleArn)) throw sender(400, 'ValidationError', `${roleArn} is invalid`);
    const sessionName = params.get('RoleSessionName') ?? undefined;
    if (sessionName === undefined)
      throw validationError('roleSessionName', undefined, 'Member must not be null');
    if (!ROLE_SESSION_NAME.test(sessionName)) {
      throw validationError(
        'roleSessionName',
        sessionName,
        'Member must satisfy regular expression pattern: [\\w+=,.@-]*',
      );
    }
    if (sessionName.length < 2)
      throw validationError(
        'roleSessionName',
        sessionName,
        'Member must have length greater than or equal to 2',
      );
    if (sessionName.length > 64)
      throw validationError(
        'roleSessionName',
        sessionName,
        'Member must have length less than or equal to 64',
      );
    const rawDuration = params.get('DurationSeconds') ?? undefined;
    let duration: number | undefined;
    if (rawDuration !== undefined) {
      duration = Number(rawDuration);
      if (!/^\d+$/.test(rawDuration))
        throw validationError('durationSeconds', rawDuration, 'Member must be an integer');
      if (duration < 900)
        throw validationError(
          'durationSeconds',
          rawDuration,
          'Member must have value greater than or equal to 900',
        );
      if (duration > 43200)
        throw validationError(
          'durationSeconds',
          rawDuration,
          'Member must have value less than or equal to 43200',
        );
    }
    return { roleArn, sessionName, duration };
  }

  private roleConfig(roleArn: string): RoleConfig | undefined {
    if (!this.roles) return {};
    return this.roles.get(roleArn);
  }

  private assumeRole(
    params: URLSearchParams,
    caller: IssuedCredential,
    record: StsCallRecord,
    requestId: string,
  ): string {
    const { roleArn, sessionName, duration } = this.validateCommon(params);
    const externalId = params.get('ExternalId') ?? undefined;
    if (
      externalId !== undefined &&
      (externalId.length < 2 || externalId.length > 1224 || !EXTERNAL_ID.test(externalId))
    ) {
      throw validationError(
        'externalId',
        externalId,
        'Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*',
      );
    }
    const denied = sender(
      403,
      'AccessDenied',
      `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
    );
    const role = this.roleConfig(roleArn);
    if (!role) throw denied;
    if (role.trust) {
      const root = `arn:aws:iam::${caller.accountId}:root`;
      if (!role.trust.some((p) => p === '*' || p === caller.arn || p === caller.roleArn || p === root))
        throw denied;
    }
    if (role.externalId !== undefined && externalId !== role.externalId) throw denied;
    // Every caller here is an assumed-role session, so AWS's role-chaining 1 hour cap always applies.
    if (duration !== undefined && duration > 3600) {
      throw sender(
        400,
        'ValidationError',
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      );
    }
    if (duration !== undefined && duration > (role.maxSessionDurationSeconds ?? 3600)) {
      throw sender(
        400,
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }
    const lifetime = Math.min(
      role.lifetimeSeconds ?? this.lifetimeOverride ?? duration ?? DEFAULT_LIFETIME_SECONDS,
      3600,
    );
    const issued = this.registry.issue({
      roleArn,
      sessionName,
      lifetimeSeconds: lifetime,
      now: this.now(),
      source: 'AssumeRole',
      chained: true,
      parentAccessKeyId: caller.accessKeyId,
    });
    record.issuedAccessKeyId = issued.accessKeyId;
    return assumeRoleXml(issued, requestId, params.get('SourceIdentity') ?? undefined);
  }

  private assumeRoleWithWebIdentity(
    params: URLSearchParams,
    record: StsCallRecord,
    requestId: string,
  ): string {
    const { roleArn, sessionName, duration } = this.validateCommon(params);
    const token = params.get('WebIdentityToken') ?? undefined;
    if (token === undefined) throw validationError('webIdentityToken', undefined, 'Member must not be null');
    if (token.length < 4 || token.length > 20000) {
      throw validationError('webIdentityToken', '***', 'Member must have length greater than or equal to 4');
    }
    const now = this.now();
    const entry = this.tokens ? this.tokens.get(token) : { token };
    if (!entry) {
      throw sender(
        400,
        'InvalidIdentityToken',
        'The web identity token provided is not accepted by the identity provider configured for this emulator',
      );
    }
    const claims = readWebIdentityClaims(token);
    const expiresAt = entry.expiresAt ?? claims?.expiresAt;
    if (expiresAt !== undefined && now >= expiresAt) {
      throw sender(
        400,
        'ExpiredTokenException',
        `Token expired: current date/time ${Math.floor(now / 1000)} must be before the expiration date/time${Math.floor(expiresAt / 1000)}`,
      );
    }
    const role = this.roleConfig(roleArn);
    if (!role || role.allowWebIdentity === false || (entry.roles && !entry.roles.includes(roleArn))) {
      throw sender(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    }
    if (duration !== undefined && duration > (role.maxSessionDurationSeconds ?? 3600)) {
      throw sender(
        400,
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }
    const issued = this.registry.issue({
      roleArn,
      sessionName,
      lifetimeSeconds: role.lifetimeSeconds ?? this.lifetimeOverride ?? duration ?? DEFAULT_LIFETIME_SECONDS,
      now,
      source: 'AssumeRoleWithWebIdentity',
    });
    record.issuedAccessKeyId = issued.accessKeyId;
    const issuer =
      claims?.issuer ?? 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
    return assumeRoleWithWebIdentityXml(
      issued,
      {
        subject: entry.subject ?? claims?.subject ?? 'system:serviceaccount:default:default',
        audience: entry.audience ?? claims?.audience ?? 'sts.amazonaws.com',
        provider: `arn:aws:iam::${issued.accountId}:oidc-provider/${issuer.replace(/^https:\/\//, '')}`,
      },
      requestId,
    );
  }
}

/** Starts an STS emulator on 127.0.0.1 (ephemeral port). Close it when the test ends. */
export async function startStsEmulator(options: StsEmulatorOptions = {}): Promise<StsEmulator> {
  const emulator = new Emulator(options);
  await emulator.listen();
  return emulator;
}
