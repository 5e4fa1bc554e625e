/**
 * One client connection through the proxy: read the client's startup (answering SSLRequest and
 * GSSENCRequest with `N`: the leg inside the pod stays on loopback), refuse any user but the target's,
 * open verified TLS to the database, log in as the target's user with the client's database and
 * parameters, answer the clear-text password request with a token fresh at that moment, hand the
 * client the rest of the login with the backend key replaced by one the proxy issued, then relay
 * bytes both ways with backpressure. Every failure before the relay reaches the client as a FATAL
 * ErrorResponse naming the class and the fix; every wait has a deadline.
 */
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { RdsTarget } from '../../../contract/sidecar-config.ts';
import { PROXY_ERROR_HINTS } from '../error-class.ts';
import { describeError, type Logger } from '../log.ts';
import { forwardCancel, type CancelKeys } from './cancel.ts';
import { forward } from './forward.ts';
import type { ProxyMetrics } from './metrics.ts';
import {
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseStartupPacket,
  ProtocolError,
  serializeBackendKeyData,
  serializeMessage,
  serializePasswordMessage,
  serializeStartup,
  type BackendKey,
  type Message,
  type StartupPacket,
} from './protocol.ts';
import { asProxyError, errorResponseFor, ProxyError } from './proxy-error.ts';
import { SocketClosedError, SocketReader } from './socket-reader.ts';
import { openUpstream, type UpstreamEndpoint } from './upstream.ts';

export interface ProxyTimeouts {
  /** From accept to the client's StartupMessage. */
  startupMs: number;
  /** From the StartupMessage to the database's ReadyForQuery (TCP, TLS, token, login). */
  loginMs: number;
  /** A forwarded CancelRequest, connection included. */
  cancelMs: number;
}

export const DEFAULT_PROXY_TIMEOUTS: ProxyTimeouts = Object.freeze({
  startupMs: 10_000,
  loginMs: 20_000,
  cancelMs: 10_000,
});

export interface SessionDeps {
  target: RdsTarget;
  /** Where the database is: the target's host and port (tests may point elsewhere). */
  upstream: { host: string; port: number };
  /** The TLS context trusting the CA bundle only (ca-bundle.ts); re-read now and then. */
  loadCa: () => Promise<SecureContext>;
  /** A token valid now (token-source.ts); rejects with a ProxyError `no-token`. */
  token: () => Promise<string>;
  keys: CancelKeys;
  metrics: ProxyMetrics;
  logger: Logger;
  timeouts: ProxyTimeouts;
  now: () => number;
}

/** Protocol 3.0 and 3.2 clients send at most one SSLRequest and one GSSENCRequest first. */
const MAX_NEGOTIATIONS = 2;
const ANSWER_NO = Buffer.from('N', 'latin1');
/** Messages the database may send before AuthenticationOk that are the client's business. */
const BEFORE_LOGIN_PASS_THROUGH = new Set(['v', 'N']);

/** Runs the connection to its end; never rejects. */
export async function runSession(client: Socket, deps: SessionDeps): Promise<void> {
  client.setNoDelay(true);
  const reader = new SocketReader(client, 'the client');
  let startup: StartupPacket;
  try {
    startup = await readStartup(client, reader, deps.timeouts.startupMs);
  } catch (error) {
    if (error instanceof ProtocolError) {
      fail(client, deps, new ProxyError('client-protocol', error.message));
    } else {
      client.destroy();
    }
    return;
  }
  if (startup.kind === 'cancel') {
    reader.release();
    await cancel(client, startup, deps);
    return;
  }
  if (startup.kind !== 'startup') {
    fail(client, deps, new ProxyError('client-protocol', 'expected a StartupMessage'));
    return;
  }
  await login(client, reader, startup, deps);
}

async function readStartup(client: Socket, reader: SocketReader, timeoutMs: number): Promise<StartupPacket> {
  const timer = setTimeout(() => client.destroy(), timeoutMs);
  try {
    for (let negotiations = 0; ; negotiations++) {
      const packet = parseStartupPacket(await reader.startupPacket());
      if (packet.kind !== 'ssl-request' && packet.kind !== 'gssenc-request') return packet;
      if (negotiations >= MAX_NEGOTIATIONS) throw new ProtocolError('too many SSLRequest/GSSENCRequest');
      // Bytes sent before our `N` would be read as if after it: a client must wait for the answer.
      if (reader.buffered()) throw new ProtocolError('data sent before the answer to the SSLRequest');
      client.write(ANSWER_NO);
    }
  } finally {
    clearTimeout(timer);
  }
}

async function cancel(
  client: Socket,
  request: Extract<StartupPacket, { kind: 'cancel' }>,
  deps: SessionDeps,
): Promise<void> {
  // PostgreSQL answers a CancelRequest with nothing, found or not; so does the proxy.
  client.destroySoon();
  const real = deps.keys.lookup(request.processId, request.secretKey);
  if (real === undefined) {
    deps.logger.info(
      { target: deps.target.name },
      'CancelRequest for no open session through the proxy: ignored',
    );
    return;
  }
  const outcome = await deps.loadCa().then(
    (secureContext) => forwardCancel({ ...deps.upstream, secureContext }, real, deps.timeouts.cancelMs),
    (error: unknown) => ({ sent: false, error }),
  );
  if (!outcome.sent) {
    deps.logger.warn(
      { target: deps.target.name, error: describeError(outcome.error) },
      `could not pass a CancelRequest to the database of target "${deps.target.name}"`,
    );
  }
}

async function login(
  client: Socket,
  reader: SocketReader,
  startup: Extract<StartupPacket, { kind: 'startup' }>,
  deps: SessionDeps,
): Promise<void> {
  const { target } = deps;
  const started = deps.now();
  const user = startup.params.get('user');
  if (user !== target.user) {
    const shown = user === undefined ? 'no user' : `user "${user}"`;
    fail(
      client,
      deps,
      new ProxyError(
        'wrong-user',
        `${shown} cannot log in through this proxy: it logs in to the database as "${target.user}" only`,
      ),
    );
    return;
  }
  const controller = new AbortController();
  let clientGone = false;
  const onClientGone = () => {
    clientGone = true;
    controller.abort();
  };
  client.once('close', onClientGone);
  const timer = setTimeout(() => controller.abort(), deps.timeouts.loginMs);
  let upstream: TLSSocket | undefined;
  let issued: BackendKey | undefined;
  let upstreamReader: SocketReader | undefined;
  try {
    const secureContext = await deps.loadCa().catch((error: unknown) => {
      throw new ProxyError(
        'upstream-tls',
        `cannot read the CA bundle ${target.proxy?.caFile ?? ''}: ${describeError(error).message}`,
      );
    });
    const endpoint: UpstreamEndpoint = { ...deps.upstream, secureContext };
    upstream = await openUpstream(endpoint, controller.signal);
    const tls = upstream;
    controller.signal.addEventListener('abort', () => tls.destroy(), { once: true });
    upstreamReader = new SocketReader(tls, 'the database');
    const params = new Map([['user', target.user]]);
    for (const [name, value] of startup.params) if (name !== 'user') params.set(name, value);
    tls.write(serializeStartup(startup.protocolVersion, params));
    issued = await loginMessages(client, tls, upstreamReader, deps, controller.signal);
  } catch (error) {
    clearTimeout(timer);
    client.off('close', onClientGone);
    upstream?.destroy();
    if (issued) deps.keys.release(issued);
    if (clientGone) return;
    fail(client, deps, loginError(error, controller.signal.aborted, deps));
    return;
  }
  clearTimeout(timer);
  client.off('close', onClientGone);
  deps.metrics.loggedIn(deps.now() - started);
  deps.logger.debug(
    { target: target.name, database: startup.params.get('database') },
    'proxied session logged in',
  );
  try {
    await relay(client, reader.release(), upstream, upstreamReader.release(), deps.metrics);
  } finally {
    deps.keys.release(issued);
  }
}

/** The database's login messages up to ReadyForQuery; returns the key pair issued to the client. */
async function loginMessages(
  client: Socket,
  upstream: TLSSocket,
  reader: SocketReader,
  deps: SessionDeps,
  signal: AbortSignal,
): Promise<BackendKey> {
  let authenticated = false;
  let issued: BackendKey | undefined;
  try {
    for (;;) {
      const message: Message = await reader.message();
      switch (message.type) {
        case 'R': {
          const auth = parseAuthentication(message.body);
          if (auth.kind === 'cleartext-password') {
            if (authenticated) throw new ProtocolError('a password request after AuthenticationOk');
            // A signing that hangs must not hold the client past the login deadline.
            const token = await untilAborted(deps.token(), signal);
            upstream.write(serializePasswordMessage(token));
          } else if (auth.kind === 'ok') {
            authenticated = true;
            client.write(serializeMessage('R', message.body));
          } else {
            throw new ProxyError(
              'upstream-auth-method',
              `the database asked for ${auth.kind === 'other' ? `authentication method ${auth.code}` : auth.kind} for user "${deps.target.user}", not the clear-text password of IAM authentication`,
            );
          }
          break;
        }
        case 'E': {
          const fields = parseErrorFields(message.body);
          const code = fields.get('C');
          if (authenticated) {
            // After the login the database speaks to the client itself (no such database, too many clients).
            client.write(serializeMessage('E', message.body));
            throw new ForwardedError(code);
          }
          throw new ProxyError(
            code?.startsWith('28') ? 'upstream-auth' : 'upstream-error',
            `the database refused the login as "${deps.target.user}": ${fields.get('M') ?? 'no message'}`,
            code,
          );
        }
        case 'K': {
          if (!authenticated || issued) throw new ProtocolError('BackendKeyData out of place');
          issued = deps.keys.issue(parseBackendKeyData(message.body));
          client.write(serializeBackendKeyData(issued));
          break;
        }
        case 'Z': {
          if (!authenticated) throw new ProtocolError('ReadyForQuery before AuthenticationOk');
          // A server that sends no BackendKeyData gets a key that cancels nothing.
          issued ??= deps.keys.issue({ processId: 0, secretKey: Buffer.alloc(4) });
          client.write(serializeMessage('Z', message.body));
          return issued;
        }
        default:
          // NegotiateProtocolVersion and NoticeResponse may come before the login; ParameterStatus after.
          if (!authenticated && !BEFORE_LOGIN_PASS_THROUGH.has(message.type)) {
            throw new ProtocolError(`unexpected message "${message.type}" before AuthenticationOk`);
          }
          client.write(serializeMessage(message.type, message.body));
      }
    }
  } catch (error) {
    if (issued) deps.keys.release(issued);
    throw error;
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new SocketClosedError('login abandoned'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The database's own ErrorResponse after the login, already passed to the client. */
class ForwardedError extends Error {
  override name = 'ForwardedError';
  constructor(readonly sqlState: string | undefined) {
    super(`the database ended the session after the login (SQLSTATE ${sqlState ?? 'unknown'})`);
  }
}

function loginError(error: unknown, aborted: boolean, deps: SessionDeps): ProxyError | ForwardedError {
  if (error instanceof ForwardedError || error instanceof ProxyError) return error;
  if (aborted) {
    return new ProxyError(
      'upstream-timeout',
      `no session from the database within ${Math.round(deps.timeouts.loginMs / 1000)} s`,
    );
  }
  if (error instanceof ProtocolError) return new ProxyError('upstream-protocol', error.message);
  if (error instanceof SocketClosedError) return new ProxyError('upstream-protocol', error.message);
  return asProxyError(error, `connecting to ${deps.upstream.host}:${deps.upstream.port}`);
}

/** Tells the client why (unless the database already did), counts and logs it, and closes. */
function fail(client: Socket, deps: SessionDeps, error: ProxyError | ForwardedError): void {
  const errorClass = error instanceof ProxyError ? error.errorClass : 'upstream-error';
  deps.metrics.loginFailed(errorClass);
  const fields = {
    target: deps.target.name,
    errorClass,
    hint: PROXY_ERROR_HINTS[errorClass],
    error: describeError(error),
  };
  const message = `a connection through the proxy of target "${deps.target.name}" got no session (${errorClass})`;
  if (errorClass === 'wrong-user' || errorClass === 'client-protocol' || errorClass === 'upstream-error') {
    deps.logger.warn(fields, message);
  } else {
    deps.logger.error(fields, message);
  }
  if (error instanceof ProxyError && client.writable) client.write(errorResponseFor(deps.target, error));
  client.destroySoon();
}

/**
 * Relays both ways until both sides are closed, with backpressure (a slow client pauses the database's
 * socket, and the other way round); an end passes on as an end, an error or an abrupt close destroys
 * the other side too.
 */
async function relay(
  client: Socket,
  clientRest: Buffer,
  upstream: TLSSocket,
  upstreamRest: Buffer,
  metrics: ProxyMetrics,
): Promise<void> {
  const closed = Promise.all([closedPromise(client), closedPromise(upstream)]);
  if (client.destroyed || upstream.destroyed) {
    client.destroy();
    upstream.destroy();
    await closed;
    return;
  }
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.once('close', () => {
    if (!upstream.writableEnded) upstream.destroy();
  });
  upstream.once('close', () => {
    if (!client.writableEnded) client.destroy();
  });
  if (clientRest.length > 0) {
    metrics.relayed('to-database', clientRest.length);
    upstream.write(clientRest);
  }
  if (upstreamRest.length > 0) {
    metrics.relayed('to-client', upstreamRest.length);
    client.write(upstreamRest);
  }
  forward(client, upstream, (bytes) => metrics.relayed('to-database', bytes));
  forward(upstream, client, (bytes) => metrics.relayed('to-client', bytes));
  await closed;
}

function closedPromise(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}
