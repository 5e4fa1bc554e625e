/** Small node:http helpers shared by the API, health and metrics servers. */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function send(
  res: ServerResponse,
  code: number,
  body: string,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  code: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, code, `${JSON.stringify(value)}\n`, 'application/json', headers);
}

export function sendError(
  res: ServerResponse,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, code, { error: message }, headers);
}

/** The path without query string; never throws on a malformed request target. */
export function requestPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function newServer(handler: Handler): Server {
  const server = createServer(handler);
  // Slow clients must not hold the sidecar's few sockets.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

function listenOn(server: Server, args: [number, string] | [string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (args.length === 2) server.listen(args[0], args[1], done);
    else server.listen(args[0], done);
  });
}

export async function listenTcp(handler: Handler, host: string, port: number): Promise<Server> {
  const server = newServer(handler);
  await listenOn(server, [port, host]);
  return server;
}

/** What listening on `::` fails with on a host (or pod) without IPv6. */
const NO_IPV6_CODES = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Listens for kubelet and Prometheus: on `::` (dual stack: IPv6 and IPv4-mapped) by default, falling
 * back to 0.0.0.0 when the host has no IPv6. Any other host is used as given.
 */
export async function listenPublic(
  handler: Handler,
  host: string,
  port: number,
  listen: typeof listenTcp = listenTcp,
): Promise<Server> {
  try {
    return await listen(handler, host, port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (host !== '::' || code === undefined || !NO_IPV6_CODES.has(code)) throw error;
    return listen(handler, '0.0.0.0', port);
  }
}

/** The address a server is bound to (e.g. `::` or `0.0.0.0`). */
export function boundAddress(server: Server): string {
  return (server.address() as AddressInfo).address;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** Listens on a unix socket (0600), replacing a stale socket left by a previous run. */
export async function listenUnix(handler: Handler, path: string, mode = 0o600): Promise<Server> {
  try {
    const st = await lstat(path);
    if (st.isSocket()) await unlink(path);
  } catch {
    // absent: nothing to replace
  }
  const server = newServer(handler);
  await listenOn(server, [path]);
  await chmod(path, mode);
  return server;
}

/** Stops accepting, lets in-flight responses finish briefly, then drops idle keep-alive sockets. */
export function closeServer(server: Server, graceMs = 1_000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
