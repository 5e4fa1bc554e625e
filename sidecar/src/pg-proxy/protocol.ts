/**
 * The parts of the PostgreSQL frontend/backend protocol (v3) the proxy reads or writes, as pure
 * functions over buffers: the untyped startup packets (StartupMessage, SSLRequest, GSSENCRequest,
 * CancelRequest), the typed messages of the login (Authentication*, BackendKeyData, ErrorResponse,
 * PasswordMessage) and a framer that cuts a byte stream into messages with length limits.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export const PROTOCOL_3_0 = 3 << 16;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10_000;
/** Login messages are small; anything bigger before ReadyForQuery is not a PostgreSQL server. */
export const MAX_LOGIN_MESSAGE_LENGTH = 1 << 20;
/** Protocol 3.2 allows cancel keys up to 256 bytes. */
const MAX_CANCEL_KEY_LENGTH = 256;

export const AUTH_OK = 0;
export const AUTH_CLEARTEXT_PASSWORD = 3;
export const AUTH_MD5_PASSWORD = 5;
export const AUTH_SASL = 10;

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export type StartupPacket =
  | { kind: 'ssl-request' }
  | { kind: 'gssenc-request' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'startup'; protocolVersion: number; params: Map<string, string> };

/** A whole startup packet (length included) -> what it asks for. Throws ProtocolError. */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  if (packet.length < 8 || packet.readInt32BE(0) !== packet.length) {
    throw new ProtocolError('startup packet length does not match its header');
  }
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (packet.length !== 8) throw new ProtocolError('SSLRequest/GSSENCRequest must be 8 bytes');
    return { kind: code === SSL_REQUEST_CODE ? 'ssl-request' : 'gssenc-request' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const keyLength = packet.length - 12;
    if (keyLength < 4 || keyLength > MAX_CANCEL_KEY_LENGTH) {
      throw new ProtocolError('CancelRequest has a secret key of an invalid length');
    }
    return { kind: 'cancel', processId: packet.readInt32BE(8), secretKey: Buffer.from(packet.subarray(12)) };
  }
  if (code >>> 16 !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
  }
  return { kind: 'startup', protocolVersion: code, params: parseParams(packet.subarray(8)) };
}

/** `name\0value\0...\0` -> map; the list ends with an empty name. */
function parseParams(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let at = 0;
  for (;;) {
    const [name, afterName] = readCString(body, at);
    if (name === '') {
      if (afterName !== body.length) throw new ProtocolError('bytes after the end of the startup parameters');
      return params;
    }
    const [value, afterValue] = readCString(body, afterName);
    if (params.has(name)) throw new ProtocolError(`startup parameter "${name}" given twice`);
    params.set(name, value);
    at = afterValue;
  }
}

function readCString(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  if (end === -1) throw new ProtocolError('unterminated string');
  return [buf.toString('utf8', at, end), end + 1];
}

function cstring(text: string): Buffer {
  if (text.includes('\0')) throw new ProtocolError('a protocol string cannot contain a NUL byte');
  return Buffer.from(`${text}\0`, 'utf8');
}

function untyped(code: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(code, 4);
  return Buffer.concat([head, body]);
}

export function serializeStartup(protocolVersion: number, params: ReadonlyMap<string, string>): Buffer {
  const parts = [...params].flatMap(([name, value]) => [cstring(name), cstring(value)]);
  return untyped(protocolVersion, Buffer.concat([...parts, Buffer.from([0])]));
}

export function serializeSslRequest(): Buffer {
  return untyped(SSL_REQUEST_CODE, Buffer.alloc(0));
}

export function serializeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  const pid = Buffer.alloc(4);
  pid.writeInt32BE(processId, 0);
  return untyped(CANCEL_REQUEST_CODE, Buffer.concat([pid, secretKey]));
}

/** A typed message: one type byte, then an int32 length that counts itself and the body. */
export interface Message {
  type: string;
  body: Buffer;
}

export function serializeMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

export function serializePasswordMessage(password: string): Buffer {
  return serializeMessage('p', cstring(password));
}

export type Authentication =
  | { kind: 'ok' }
  | { kind: 'cleartext-password' }
  | { kind: 'md5-password' }
  | { kind: 'sasl'; mechanisms: string[] }
  | { kind: 'other'; code: number };

export function parseAuthentication(body: Buffer): Authentication {
  if (body.length < 4) throw new ProtocolError('Authentication message too short');
  const code = body.readInt32BE(0);
  if (code === AUTH_OK) return { kind: 'ok' };
  if (code === AUTH_CLEARTEXT_PASSWORD) return { kind: 'cleartext-password' };
  if (code === AUTH_MD5_PASSWORD) return { kind: 'md5-password' };
  if (code === AUTH_SASL) {
    const mechanisms = body
      .toString('utf8', 4)
      .split('\0')
      .filter((m) => m !== '');
    return { kind: 'sasl', mechanisms };
  }
  return { kind: 'other', code };
}

export function serializeAuthentication(code: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeInt32BE(code, 0);
  return serializeMessage('R', body);
}

export interface BackendKey {
  processId: number;
  secretKey: Buffer;
}

export function parseBackendKeyData(body: Buffer): BackendKey {
  if (body.length < 8 || body.length > 4 + MAX_CANCEL_KEY_LENGTH) {
    throw new ProtocolError('BackendKeyData has an invalid length');
  }
  return { processId: body.readInt32BE(0), secretKey: Buffer.from(body.subarray(4)) };
}

export function serializeBackendKeyData(key: BackendKey): Buffer {
  const pid = Buffer.alloc(4);
  pid.writeInt32BE(key.processId, 0);
  return serializeMessage('K', Buffer.concat([pid, key.secretKey]));
}

/** The fields of an ErrorResponse/NoticeResponse the proxy writes or reads. */
export interface ErrorFields {
  severity: 'ERROR' | 'FATAL';
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

export function serializeErrorResponse(fields: ErrorFields): Buffer {
  const parts: Buffer[] = [];
  const add = (tag: string, value: string | undefined) => {
    if (value !== undefined) parts.push(Buffer.from(tag, 'latin1'), cstring(value));
  };
  add('S', fields.severity);
  add('V', fields.severity);
  add('C', fields.code);
  add('M', fields.message);
  add('D', fields.detail);
  add('H', fields.hint);
  return serializeMessage('E', Buffer.concat([...parts, Buffer.from([0])]));
}

/** ErrorResponse body -> its fields by one-letter tag (`C` SQLSTATE, `M` message, ...). */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const tag = String.fromCharCode(body[at] as number);
    const [value, next] = readCString(body, at + 1);
    fields.set(tag, value);
    at = next;
  }
  return fields;
}

/**
 * Cuts a byte stream into messages. Feed it chunks with push(); take complete startup packets or
 * typed messages out; whatever is left after the login is handed to the relay with takeRest().
 */
export class MessageFramer {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** The next whole startup packet, or undefined until it has arrived. */
  nextStartupPacket(): Buffer | undefined {
    if (this.buffer.length < 4) return undefined;
    const length = this.buffer.readInt32BE(0);
    if (length < 8 || length > MAX_STARTUP_LENGTH) {
      throw new ProtocolError(`invalid startup packet length ${length}`);
    }
    return this.take(length);
  }

  /** The next whole typed message, or undefined until it has arrived. */
  nextMessage(maxLength = MAX_LOGIN_MESSAGE_LENGTH): Message | undefined {
    if (this.buffer.length < 5) return undefined;
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > maxLength) {
      throw new ProtocolError(`invalid message length ${length}`);
    }
    const raw = this.take(length + 1);
    if (raw === undefined) return undefined;
    return { type: String.fromCharCode(raw[0] as number), body: raw.subarray(5) };
  }

  /** Everything buffered and not yet taken. */
  takeRest(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  private take(length: number): Buffer | undefined {
    if (this.buffer.length < length) return undefined;
    const out = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return out;
  }
}
