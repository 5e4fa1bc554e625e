import { connect } from 'node:net';
import { deserialize, serialize } from 'bson';
import type { Document } from 'bson';

/**
 * Sends one command as an OP_MSG over a fresh TCP connection and returns the reply's body. For what no
 * real driver will send (a saslStart with another GS2 flag): the wire server's checks are tested as a
 * client reaches them, not by calling the authenticator in-process.
 */

const OP_MSG = 2013;
const HEADER_BYTES = 16;
/** A reply's body must arrive within this; the stand-in answers on loopback at once. */
const REPLY_TIMEOUT_MS = 5_000;

function encodeOpMsg(body: Document, requestId: number): Buffer {
  const doc = Buffer.from(serialize(body));
  const header = Buffer.alloc(HEADER_BYTES + 5); // + flagBits 0, section kind 0 (the body)
  header.writeInt32LE(HEADER_BYTES + 5 + doc.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(0, 8);
  header.writeInt32LE(OP_MSG, 12);
  return Buffer.concat([header, doc]);
}

function decodeOpMsg(message: Buffer): Document {
  const opCode = message.readInt32LE(12);
  if (opCode !== OP_MSG) throw new Error(`mongo-raw-command: reply opCode ${opCode}, expected OP_MSG`);
  // flagBits (4 bytes), then section kind 0 (1 byte) and the body document.
  return deserialize(message.subarray(HEADER_BYTES + 5), { promoteBuffers: false });
}

export async function runRawCommand(host: string, port: number, body: Document): Promise<Document> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let pending = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => {
      finish(() =>
        reject(new Error(`mongo-raw-command: no reply from ${host}:${port} within ${REPLY_TIMEOUT_MS} ms`)),
      );
    }, REPLY_TIMEOUT_MS);
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    socket.on('error', (error) => finish(() => reject(error)));
    socket.on('close', () => finish(() => reject(new Error('mongo-raw-command: connection closed'))));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 4 || pending.length < pending.readInt32LE(0)) return;
      const message = pending.subarray(0, pending.readInt32LE(0));
      finish(() => {
        try {
          resolve(decodeOpMsg(message));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    socket.on('connect', () => socket.write(encodeOpMsg(body, 1)));
  });
}
