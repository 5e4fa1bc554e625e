/** Loopback helpers for the benchmarks: free ports, keep-alive GET/POST, polling. */
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

export interface Reply {
  status: number;
  body: string;
}

export interface Endpoint {
  port: number;
  /** HTTPS when set: the CA to trust and the name to verify. */
  tls?: { ca: Buffer; servername: string };
  agent?: HttpAgent;
}

export function keepAliveAgent(endpoint: Omit<Endpoint, 'agent'>, maxSockets: number): HttpAgent {
  const options = { keepAlive: true, maxSockets };
  return endpoint.tls ? new HttpsAgent(options) : new HttpAgent(options);
}

export function call(
  endpoint: Endpoint,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port: endpoint.port,
      method,
      path,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      agent: endpoint.agent ?? false,
      timeout: 10_000,
      ...(endpoint.tls ? { ca: endpoint.tls.ca, servername: endpoint.tls.servername } : {}),
    };
    const req = (endpoint.tls ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls `check` until it returns something truthy, or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T>,
  what: string,
  timeoutMs: number,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
