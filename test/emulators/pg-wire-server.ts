/**
 * A PostgreSQL stand-in speaking the v3 wire protocol over TLS, written from the protocol docs and
 * sharing no code with the proxy it judges. Like an RDS instance with IAM authentication it demands
 * an SSLRequest (a plain startup is refused as by a `hostssl` line), asks for a clear-text password,
 * checks it with the verifier the test injects, then sends BackendKeyData and ReadyForQuery. It
 * answers a few simple queries and honours CancelRequest for the backend its key pair names.
 *
 * Queries: `select <n>`, `select current_user`, `select current_database()`,
 * `select pg_backend_pid()`, `select pg_sleep(<s>)` (cancellable), `begin`, `commit`.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

export interface PgWireServerOptions {
  cert: Buffer;
  key: Buffer;
  /** True when `password` lets `user` in (a test's IAM token check). */
  verifyPassword: (user: string, password: string) => boolean;
  /** Databases that exist; any name when omitted. */
  databases?: readonly string[];
  /** Refuse TLS: answer SSLRequest with N (a server with ssl = off). */
  refuseTls?: boolean;
  /**
   * Answer a startup asking for protocol 3.x (x > 0) or naming `_pq_.` options with
   * NegotiateProtocolVersion (3.0, the options unknown) before the password request, as PostgreSQL does.
   */
  negotiate?: boolean;
}

export interface LoginRecord {
  user: string;
  database: string;
  params: Record<string, string>;
  password: string;
  accepted: boolean;
}

export interface CancelRecord {
  processId: number;
  /** The key pair named a live backend, whose running query was cancelled. */
  matched: boolean;
  overTls: boolean;
}

interface Backend {
  processId: number;
  secretKey: Buffer;
  socket: TLSSocket;
  cancelRunning: (() => void) | undefined;
}

/** Cuts typed messages and startup packets out of a byte stream. */
class Reader {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private closed = false;

  constructor(socket: Socket | TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  async packet(): Promise<Buffer | undefined> {
    return this.take(() => {
      if (this.buffer.length < 4) return undefined;
      const length = this.buffer.readInt32BE(0);
      if (length < 8 || length > 10_000) throw new Error('bad startup length');
      return this.cut(length);
    });
  }

  async message(): Promise<{ type: string; body: Buffer } | undefined> {
    return this.take(() => {
      if (this.buffer.length < 5) return undefined;
      const length = this.buffer.readInt32BE(1);
      const whole = this.cut(length + 1);
      return whole && { type: String.fromCharCode(whole[0] ?? 0), body: whole.subarray(5) };
    });
  }

  hasMore(): boolean {
    return this.buffer.length > 0;
  }

  private cut(length: number): Buffer | undefined {
    if (this.buffer.length < length) return undefined;
    const out = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return out;
  }

  private async take<T>(attempt: () => T | undefined): Promise<T | undefined> {
    for (;;) {
      const item = attempt();
      if (item !== undefined) return item;
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}

function msg(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const str = (s: string) => Buffer.from(`${s}\0`, 'utf8');
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
};
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
};

function errorMessage(severity: string, code: string, text: string): Buffer {
  return msg(
    'E',
    Buffer.from('S'),
    str(severity),
    Buffer.from('V'),
    str(severity),
    Buffer.from('C'),
    str(code),
    Buffer.from('M'),
    str(text),
    Buffer.from([0]),
  );
}

function rowResult(column: string, value: string): Buffer {
  const description = msg(
    'T',
    i16(1),
    str(column),
    i32(0),
    i16(0),
    i32(25), // text
    i16(-1),
    i32(-1),
    i16(0),
  );
  const valueBytes = Buffer.from(value, 'utf8');
  const row = msg('D', i16(1), i32(valueBytes.length), valueBytes);
  return Buffer.concat([description, row, msg('C', str('SELECT 1'))]);
}

export class PgWireServer {
  readonly logins: LoginRecord[] = [];
  readonly cancels: CancelRecord[] = [];
  /** Raw startup packets' kinds in arrival order, e.g. `ssl`, `startup-plain`, `cancel`. */
  readonly firstPackets: string[] = [];
  private readonly backends = new Map<number, Backend>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: PgWireServerOptions) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.handle(socket).catch(() => socket.destroy());
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Backends open now (logged-in sessions). */
  openBackends(): number {
    return this.backends.size;
  }

  /** Drops every connection (a crashed server, as the client sees it) and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(plain: Socket): Promise<void> {
    const plainReader = new Reader(plain);
    const first = await plainReader.packet();
    if (first === undefined) return;
    const code = first.readInt32BE(4);
    if (code === CANCEL_REQUEST) {
      this.firstPackets.push('cancel-plain');
      this.cancel(first, false);
      plain.end();
      return;
    }
    if (code === GSSENC_REQUEST) {
      this.firstPackets.push('gssenc');
      plain.destroy();
      return;
    }
    if (code !== SSL_REQUEST) {
      this.firstPackets.push('startup-plain');
      plain.end(errorMessage('FATAL', '28000', 'no pg_hba.conf entry for this connection, SSL off'));
      return;
    }
    this.firstPackets.push('ssl');
    if (this.options.refuseTls) {
      plain.end(Buffer.from('N'));
      return;
    }
    if (plainReader.hasMore()) {
      plain.destroy();
      return;
    }
    plain.removeAllListeners('data');
    plain.write(Buffer.from('S'));
    const socket = new TLSSocket(plain, { isServer: true, cert: this.options.cert, key: this.options.key });
    socket.on('error', () => socket.destroy());
    const reader = new Reader(socket);
    const startup = await reader.packet();
    if (startup === undefined) return;
    if (startup.readInt32BE(4) === CANCEL_REQUEST) {
      this.firstPackets.push('cancel-tls');
      this.cancel(startup, true);
      socket.end();
      return;
    }
    await this.session(socket, reader, startup);
  }

  private cancel(packet: Buffer, overTls: boolean): void {
    const processId = packet.readInt32BE(8);
    const secretKey = packet.subarray(12);
    const backend = this.backends.get(processId);
    const matched = backend !== undefined && backend.secretKey.equals(secretKey);
    this.cancels.push({ processId, matched, overTls });
    if (matched) backend.cancelRunning?.();
  }

  private async session(socket: TLSSocket, reader: Reader, startup: Buffer): Promise<void> {
    if (startup.readInt32BE(4) >>> 16 !== 3) {
      socket.end(errorMessage('FATAL', '0A000', 'unsupported frontend protocol'));
      return;
    }
    const fields = startup.subarray(8).toString('utf8').split('\0');
    const params: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length && fields[i] !== ''; i += 2) {
      params[fields[i] as string] = fields[i + 1] as string;
    }
    const user = params.user ?? '';
    const database = params.database ?? user;
    const unknownOptions = Object.keys(params).filter((k) => k.startsWith('_pq_.'));
    const minor = startup.readInt32BE(4) & 0xffff;
    if (this.options.negotiate && (minor > 0 || unknownOptions.length > 0)) {
      socket.write(msg('v', i32(3 << 16), i32(unknownOptions.length), ...unknownOptions.map(str)));
    }
    socket.write(msg('R', i32(3)));
    const password = await reader.message();
    if (password === undefined || password.type !== 'p') {
      socket.destroy();
      return;
    }
    const text = password.body.toString('utf8').replace(/\0$/, '');
    const accepted = this.options.verifyPassword(user, text);
    this.logins.push({ user, database, params, password: text, accepted });
    if (!accepted) {
      socket.end(errorMessage('FATAL', '28P01', `password authentication failed for user "${user}"`));
      return;
    }
    if (this.options.databases !== undefined && !this.options.databases.includes(database)) {
      socket.write(msg('R', i32(0)));
      socket.end(errorMessage('FATAL', '3D000', `database "${database}" does not exist`));
      return;
    }
    const backend: Backend = {
      processId: randomInt(1000, 2 ** 31 - 1),
      secretKey: randomBytes(4),
      socket,
      cancelRunning: undefined,
    };
    this.backends.set(backend.processId, backend);
    socket.on('close', () => this.backends.delete(backend.processId));
    socket.write(
      Buffer.concat([
        msg('R', i32(0)),
        msg('S', str('server_version'), str('16.4')),
        msg('S', str('client_encoding'), str('UTF8')),
        msg('S', str('standard_conforming_strings'), str('on')),
        msg('S', str('integer_datetimes'), str('on')),
        msg('K', i32(backend.processId), backend.secretKey),
        msg('Z', Buffer.from('I')),
      ]),
    );
    let status = 'I';
    for (;;) {
      const m = await reader.message();
      if (m === undefined || m.type === 'X') {
        socket.end();
        return;
      }
      if (m.type !== 'Q') {
        socket.write(errorMessage('ERROR', '0A000', `message "${m.type}" not supported by the emulator`));
        socket.write(msg('Z', Buffer.from(status)));
        continue;
      }
      const query = m.body.toString('utf8').replace(/\0$/, '').trim().replace(/;$/, '');
      const out = await this.query(backend, query, user, database);
      if (/^begin$/i.test(query)) status = 'T';
      if (/^(commit|rollback)$/i.test(query)) status = 'I';
      if (socket.destroyed) return;
      socket.write(Buffer.concat([out, msg('Z', Buffer.from(status))]));
    }
  }

  private async query(backend: Backend, query: string, user: string, database: string): Promise<Buffer> {
    let match: RegExpMatchArray | null;
    if ((match = /^select (\d+)$/i.exec(query))) return rowResult('?column?', match[1] as string);
    if (/^select current_user$/i.test(query)) return rowResult('current_user', user);
    if (/^select current_database\(\)$/i.test(query)) return rowResult('current_database', database);
    if (/^select pg_backend_pid\(\)$/i.test(query))
      return rowResult('pg_backend_pid', String(backend.processId));
    if (/^(begin|commit|rollback)$/i.test(query)) return msg('C', str(query.toUpperCase()));
    if ((match = /^select pg_sleep\((\d+(?:\.\d+)?)\)$/i.exec(query))) {
      const cancelled = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Number(match?.[1]) * 1000);
        backend.cancelRunning = () => {
          clearTimeout(timer);
          resolve(true);
        };
        backend.socket.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      backend.cancelRunning = undefined;
      return cancelled
        ? errorMessage('ERROR', '57014', 'canceling statement due to user request')
        : rowResult('pg_sleep', '');
    }
    return errorMessage('ERROR', '42601', `syntax error: the emulator does not know "${query}"`);
  }
}
