import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { LOOPBACK } from './net.ts';

/**
 * A loopback container-credentials endpoint of the shape the AWS SDK reads through
 * AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (what ECS and EKS Pod
 * Identity serve, and what the sidecar serves at /v1/credentials/<name>). The test decides which
 * credentials it hands out; the sidecar takes this place in the whole-chain test.
 */

export interface ServedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

export interface ContainerCredentialsEndpoint {
  /** Value for AWS_CONTAINER_CREDENTIALS_FULL_URI. */
  readonly url: string;
  /** Credentials served from now on. */
  set(credentials: ServedCredentials): void;
  /** Requests answered with credentials, and requests refused (bad or missing Authorization). */
  readonly served: () => number;
  readonly refused: () => number;
  close(): Promise<void>;
}

export async function startContainerCredentials(options: {
  /** The Authorization header value the SDK must send (the content of the token file). */
  readonly authToken: string;
  readonly path?: string;
}): Promise<ContainerCredentialsEndpoint> {
  const path = options.path ?? '/v1/credentials/app';
  const expected = Buffer.from(options.authToken);
  let current: ServedCredentials | undefined;
  let served = 0;
  let refused = 0;

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const presented = Buffer.from(request.headers.authorization ?? '');
    const authorized = presented.length === expected.length && timingSafeEqual(presented, expected);
    if (request.method !== 'GET' || request.url !== path || !authorized) {
      refused += 1;
      response.writeHead(authorized ? 404 : 401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: authorized ? 'not found' : 'missing or wrong Authorization' }));
      return;
    }
    if (current === undefined) {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: 'no credentials yet' }));
      return;
    }
    served += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        AccessKeyId: current.accessKeyId,
        SecretAccessKey: current.secretAccessKey,
        Token: current.sessionToken,
        Expiration: current.expiration.toISOString(),
      }),
    );
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('container-credentials: no TCP address');
  return {
    url: `http://${LOOPBACK}:${address.port}${path}`,
    set: (credentials) => {
      current = credentials;
    },
    served: () => served,
    refused: () => refused,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
