// A stand-in for the EKS Pod Identity agent: `GET /v1/credentials` with `Authorization: <service account
// token>` answers the container-credentials JSON. Credentials are minted by the STS emulator's registry,
// so anything signed with them verifies against that emulator.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { LoopbackServer } from './loopback-server.ts';
import type { StsEmulator } from './sts-emulator.ts';
import { isoSeconds } from './sts-xml.ts';

export const CONTAINER_CREDENTIALS_PATH = '/v1/credentials';

export type ContainerFaultKind =
  | 'server-error' // 500
  | 'slow' // answer after slowDelayMs
  | 'reset' // destroy the socket
  | 'malformed'; // 200 with a body that is not the credentials shape

export interface ContainerCredentialsEmulatorOptions {
  sts: StsEmulator;
  /** Role the agent hands out. Default: the STS emulator's default role. */
  roleArn?: string;
  /** The valid token is this file's current content (re-read per request, so rotation works). */
  authorizationTokenFile?: string;
  /** Fixed valid token, when no file is given. */
  authorizationToken?: string;
  /** Default 'eks-emulator-pod-<n>'. */
  sessionName?: (callNumber: number) => string;
  /** Default: the STS emulator's configured lifetime. */
  lifetimeSeconds?: number;
  /** Include AccountId in the JSON (the EKS agent does). Default true. */
  includeAccountId?: boolean;
  /** Default 10 000 ms. */
  slowDelayMs?: number;
}

export interface ContainerCallRecord {
  seq: number;
  path: string;
  /** 'ok' | 'missing-authorization' | 'bad-authorization' | 'not-found' | a fault kind */
  outcome: string;
  status?: number;
  issuedAccessKeyId?: string;
}

export interface ContainerCredentialsEmulator {
  /** Full URI for AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:<port>/v1/credentials`. */
  readonly url: string;
  readonly port: number;
  readonly calls: readonly ContainerCallRecord[];
  failNext(kind: ContainerFaultKind, count?: number): void;
  close(): Promise<void>;
}

class Agent implements ContainerCredentialsEmulator {
  url = '';
  port = 0;
  readonly calls: ContainerCallRecord[] = [];
  private readonly faults: ContainerFaultKind[] = [];
  private readonly http = new LoopbackServer((req, res) => this.handle(req, res));

  constructor(private readonly options: ContainerCredentialsEmulatorOptions) {
    if (options.authorizationTokenFile === undefined && options.authorizationToken === undefined) {
      throw new Error(
        'container-credentials emulator: set authorizationTokenFile or authorizationToken (the token clients must send)',
      );
    }
  }

  async listen(): Promise<void> {
    this.port = await this.http.listen();
    this.url = `http://127.0.0.1:${this.port}${CONTAINER_CREDENTIALS_PATH}`;
  }

  failNext(kind: ContainerFaultKind, count = 1): void {
    for (let i = 0; i < count; i++) this.faults.push(kind);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async expectedToken(): Promise<string> {
    if (this.options.authorizationTokenFile !== undefined)
      return readFile(this.options.authorizationTokenFile, 'utf8');
    return this.options.authorizationToken ?? '';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: ContainerCallRecord = {
      seq: this.calls.length + 1,
      path: req.url ?? '',
      outcome: 'pending',
    };
    this.calls.push(record);
    const reply = (status: number, outcome: string, body: unknown): void => {
      record.outcome = outcome;
      record.status = status;
      if (res.destroyed) return;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== CONTAINER_CREDENTIALS_PATH) {
      reply(404, 'not-found', { code: 'NotFound', message: `only GET ${CONTAINER_CREDENTIALS_PATH}` });
      return;
    }
    const fault = this.faults.shift();
    if (fault === 'reset') {
      record.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    if (fault === 'server-error')
      return reply(500, fault, { code: 'InternalError', message: 'injected server error' });
    if (fault === 'malformed') return reply(200, fault, '{"AccessKeyId":');
    if (fault === 'slow') {
      await this.http.sleep(this.options.slowDelayMs ?? 10_000);
      if (this.http.closed) return;
    }
    const presented = req.headers.authorization;
    if (presented === undefined || presented === '') {
      return reply(401, 'missing-authorization', {
        code: 'AccessDeniedException',
        message: 'Authorization header is required',
      });
    }
    if (presented !== (await this.expectedToken())) {
      return reply(403, 'bad-authorization', {
        code: 'AccessDeniedException',
        message: 'Authorization token is not valid',
      });
    }
    const issueInput: Parameters<StsEmulator['issueCredentials']>[0] = {
      sessionName: this.options.sessionName?.(record.seq) ?? `eks-emulator-pod-${record.seq}`,
    };
    if (this.options.roleArn !== undefined) issueInput.roleArn = this.options.roleArn;
    if (this.options.lifetimeSeconds !== undefined) issueInput.lifetimeSeconds = this.options.lifetimeSeconds;
    const c = this.options.sts.issueCredentials(issueInput);
    record.issuedAccessKeyId = c.accessKeyId;
    const body: Record<string, string> = {
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      Expiration: isoSeconds(c.expiration),
    };
    if (this.options.includeAccountId !== false) body['AccountId'] = c.accountId;
    reply(200, fault === 'slow' ? 'slow' : 'ok', body);
  }
}

/** Starts the agent on 127.0.0.1 (ephemeral port). Close it when the test ends. */
export async function startContainerCredentialsEmulator(
  options: ContainerCredentialsEmulatorOptions,
): Promise<ContainerCredentialsEmulator> {
  const agent = new Agent(options);
  await agent.listen();
  return agent;
}
