import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { Long, deserialize, serialize } from 'bson';
import type { Document } from 'bson';
import { LOOPBACK } from './net.ts';
import { MongoAwsAuthenticator } from './mongo-aws-auth.ts';
import type {
  MongoAwsAuthOptions,
  MongoAwsCheck,
  MongoAwsDecision,
  MongoAwsHooks,
} from './mongo-aws-auth.ts';

/**
 * A minimal MongoDB server on the wire (no mongod here): enough of the protocol for the real `mongodb`
 * drivers to connect, authenticate with MONGODB-AWS, `ping` and run one `find`. Not a database.
 */

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const MSG_CHECKSUM_PRESENT = 1;
const MSG_MORE_TO_COME = 2;
const HEADER_BYTES = 16;
const MAX_MESSAGE_BYTES = 48_000_000;
/** MongoDB 7.0; within what driver 6 (8..27) and driver 7 (9..29) accept, and >= 9 as MONGODB-AWS needs. */
const MAX_WIRE_VERSION = 21;

/** Commands served without authentication, as mongod does with access control on. */
const OPEN_COMMANDS = new Set([
  'hello',
  'ismaster',
  'saslstart',
  'saslcontinue',
  'ping',
  'buildinfo',
  'endsessions',
]);

export interface MongoWireOptions extends MongoAwsAuthOptions {
  /** Database and collection that `find` serves. */
  readonly database: string;
  readonly collection: string;
  /** Documents `find` returns (filters are ignored). */
  readonly documents: readonly Document[];
}

export interface CommandRecord {
  readonly connectionId: number;
  readonly command: string;
  readonly database: string;
  /** The principal the connection had authenticated as when the command ran. */
  readonly principal: string | undefined;
  readonly ok: boolean;
}

export interface MongoWireServer {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for a `mongodb://` URI. */
  readonly address: string;
  /** Every completed MONGODB-AWS conversation, in order. */
  readonly decisions: readonly MongoAwsDecision[];
  /** Every command, in order (handshakes included). */
  readonly commands: readonly CommandRecord[];
  readonly hooks: MongoAwsHooks;
  /** Live: server-side checks switched off (to prove a refusal is down to that check alone). */
  readonly disabledChecks: Set<MongoAwsCheck>;
  close(): Promise<void>;
}

interface Request {
  readonly requestId: number;
  readonly opCode: number;
  readonly body: Document;
  /** OP_MSG with moreToCome: the client expects no reply. */
  readonly noReply: boolean;
}

function cString(buffer: Buffer, offset: number): { value: string; next: number } {
  const end = buffer.indexOf(0, offset);
  if (end === -1) throw new Error('unterminated cstring');
  return { value: buffer.toString('utf8', offset, end), next: end + 1 };
}

function bsonAt(buffer: Buffer, offset: number): { doc: Document; next: number } {
  const size = buffer.readInt32LE(offset);
  return {
    doc: deserialize(buffer.subarray(offset, offset + size), { promoteBuffers: false }),
    next: offset + size,
  };
}

/** Parses OP_MSG (body section + document sequences folded into the body) and legacy OP_QUERY. */
function parseRequest(message: Buffer): Request {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  if (opCode === OP_MSG) {
    const flags = message.readUInt32LE(HEADER_BYTES);
    const end = message.length - (flags & MSG_CHECKSUM_PRESENT ? 4 : 0);
    let offset = HEADER_BYTES + 4;
    let body: Document = {};
    const sequences: Record<string, Document[]> = {};
    while (offset < end) {
      const kind = message.readUInt8(offset);
      offset += 1;
      if (kind === 0) {
        ({ doc: body, next: offset } = bsonAt(message, offset));
      } else if (kind === 1) {
        const sectionEnd = offset + message.readInt32LE(offset);
        const id = cString(message, offset + 4);
        const docs: Document[] = [];
        for (let at = id.next; at < sectionEnd;) {
          const parsed = bsonAt(message, at);
          docs.push(parsed.doc);
          at = parsed.next;
        }
        sequences[id.value] = docs;
        offset = sectionEnd;
      } else {
        throw new Error(`OP_MSG section kind ${kind} is not defined`);
      }
    }
    return { requestId, opCode, body: { ...body, ...sequences }, noReply: (flags & MSG_MORE_TO_COME) !== 0 };
  }
  if (opCode === OP_QUERY) {
    const collection = cString(message, HEADER_BYTES + 4);
    const { doc } = bsonAt(message, collection.next + 8);
    const query = (doc.$query as Document | undefined) ?? doc;
    return { requestId, opCode, body: { ...query, $db: collection.value.split('.')[0] }, noReply: false };
  }
  throw new Error(`opCode ${opCode} is not supported by this stand-in`);
}

function frame(opCode: number, responseTo: number, payload: Buffer, requestId: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeInt32LE(HEADER_BYTES + payload.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(opCode, 12);
  return Buffer.concat([header, payload]);
}

function encodeReply(request: Request, reply: Document, requestId: number): Buffer {
  const doc = Buffer.from(serialize(reply));
  if (request.opCode === OP_MSG) {
    const prefix = Buffer.alloc(5); // flagBits 0, section kind 0
    return frame(OP_MSG, request.requestId, Buffer.concat([prefix, doc]), requestId);
  }
  const prefix = Buffer.alloc(20); // responseFlags, cursorID (int64), startingFrom
  prefix.writeInt32LE(1, 16); // numberReturned
  return frame(OP_REPLY, request.requestId, Buffer.concat([prefix, doc]), requestId);
}

export async function startMongoWire(options: MongoWireOptions): Promise<MongoWireServer> {
  const auth = new MongoAwsAuthenticator(options);
  const decisions: MongoAwsDecision[] = [];
  const commands: CommandRecord[] = [];
  const sockets = new Set<Socket>();
  let nextConnectionId = 1;
  let nextResponseId = 1;

  const handshake = (body: Document, connectionId: number): Document => {
    const reply: Document = {
      helloOk: true,
      ismaster: true,
      isWritablePrimary: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId,
      minWireVersion: 0,
      maxWireVersion: MAX_WIRE_VERSION,
      readOnly: false,
      ok: 1,
    };
    if (typeof body.saslSupportedMechs === 'string') reply.saslSupportedMechs = ['MONGODB-AWS'];
    return reply;
  };

  const execute = async (
    body: Document,
    connection: { id: number; principal: string | undefined },
  ): Promise<Document> => {
    const name = Object.keys(body)[0] ?? '';
    const lower = name.toLowerCase();
    const database = typeof body.$db === 'string' ? body.$db : '';
    if (!OPEN_COMMANDS.has(lower) && connection.principal === undefined) {
      return { ok: 0, errmsg: `command ${name} requires authentication`, code: 13, codeName: 'Unauthorized' };
    }
    switch (lower) {
      case 'hello':
      case 'ismaster':
        return handshake(body, connection.id);
      case 'saslstart': {
        if (body.mechanism !== 'MONGODB-AWS' || database !== '$external') {
          return { ok: 0, errmsg: 'Authentication failed.', code: 18, codeName: 'AuthenticationFailed' };
        }
        const { reply, decision } = auth.start(body.payload);
        if (decision !== undefined) decisions.push(decision);
        return reply;
      }
      case 'saslcontinue': {
        const { reply, decision } = await auth.finish(body.conversationId, body.payload);
        if (decision !== undefined) decisions.push(decision);
        if (decision?.ok === true) connection.principal = decision.principal;
        return reply;
      }
      case 'ping':
      case 'endsessions':
        return { ok: 1 };
      case 'buildinfo':
        return { version: '7.0.0', versionArray: [7, 0, 0, 0], maxBsonObjectSize: 16 * 1024 * 1024, ok: 1 };
      case 'find': {
        const hit = database === options.database && body.find === options.collection;
        return {
          cursor: {
            firstBatch: hit ? [...options.documents] : [],
            id: Long.ZERO,
            ns: `${database}.${String(body.find)}`,
          },
          ok: 1,
        };
      }
      case 'killcursors':
        return { cursorsKilled: [], cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [], ok: 1 };
      default:
        return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: 'CommandNotFound' };
    }
  };

  const serve = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const connection = { id: nextConnectionId++, principal: undefined as string | undefined };
    let pending = Buffer.alloc(0);
    // Requests on one connection are answered in order, like mongod.
    let queue: Promise<void> = Promise.resolve();

    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32LE(0);
        if (size < HEADER_BYTES || size > MAX_MESSAGE_BYTES) {
          socket.destroy();
          return;
        }
        if (pending.length < size) return;
        const message = pending.subarray(0, size);
        pending = pending.subarray(size);
        queue = queue.then(async () => {
          let request: Request;
          try {
            request = parseRequest(message);
          } catch {
            socket.destroy();
            return;
          }
          const reply = await execute(request.body, connection);
          commands.push({
            connectionId: connection.id,
            command: Object.keys(request.body)[0] ?? '',
            database: typeof request.body.$db === 'string' ? request.body.$db : '',
            principal: connection.principal,
            ok: reply.ok === 1,
          });
          if (!request.noReply && !socket.destroyed)
            socket.write(encodeReply(request, reply, nextResponseId++));
        });
      }
    });
  };

  const server: Server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('mongo-wire: server has no TCP address');

  return {
    host: LOOPBACK,
    port: address.port,
    address: `${LOOPBACK}:${address.port}`,
    decisions,
    commands,
    hooks: auth.hooks,
    disabledChecks: auth.disabledChecks,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
