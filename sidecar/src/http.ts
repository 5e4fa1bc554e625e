/** Small node:http helpers shared by the API, health and metrics servers. */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * On every response of every sidecar server: bodies carry credentials, so no cache may keep them, and
 * no browser may sniff a body (which can contain request text) into HTML.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
});

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
    ...headers,
    ...SECURITY_HEADERS,
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

const SHOWN_PATH_MAX = 64;

/**
 * A request path fit to quote in an error message: at most 64 characters, anything outside a plain
 * URL-path alphabet replaced by `?`, so a response never reflects markup or control characters.
 */
export function shownPath(path: string): string {
  const chars = [...path];
  const cut = chars.length > SHOWN_PATH_MAX;
  const safe = chars
    .slice(0, SHOWN_PATH_MAX)
    .map((c) => (/^[A-Za-z0-9/._~%:@+-]$/.test(c) ? c : '?'))
    .join('');
  return cut ? `${safe}...` : safe;
}

/** Connections accepted on a unix socket (listenUnix); everything else came over TCP. */
const unixConnections = new WeakSet<Socket>();

/** Whether the request came over a unix socket of ours (positive proof; TCP otherwise). */
export function viaUnixSocket(req: IncomingMessage): boolean {
  return unixConnections.has(req.socket);
}

/** Status lines node:http itself answers an unparsable request with (default: 400). */
const CLIENT_ERROR_STATUS: Readonly<Record<string, string>> = Object.freeze({
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
});

/** What node:http does on an unparsable request, plus our headers (its own answer has none). */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // Only on a fresh response: after bytes of another response, a status line would corrupt it.
  if (socket.writable && socket.bytesWritten === 0) {
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? '400 Bad Request';
    const headers = Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`HTTP/1.1 ${status}\r\n${headers.join('')}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy();
}

function newServer(handler: Handler): Server {
  // A missing Host reaches the handler, which decides (the API port refuses it) with our headers.
  const server = createServer({ requireHostHeader: false }, handler);
  // Slow clients must not hold the sidecar's few sockets.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerClientError);
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
  server.on('connection', (socket: Socket) => unixConnections.add(socket));
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
