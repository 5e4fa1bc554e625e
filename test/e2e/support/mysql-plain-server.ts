import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { LOOPBACK } from './net.ts';

/**
 * A MySQL server that offers no TLS: it sends a protocol-10 handshake without the CLIENT_SSL capability
 * and records every byte a client sends back. A client that requires TLS must hang up without sending
 * anything: the RDS IAM token is a clear-text password.
 */

const CAPABILITIES =
  0x00000001 | // LONG_PASSWORD
  0x00000200 | // PROTOCOL_41
  0x00002000 | // TRANSACTIONS
  0x00008000 | // SECURE_CONNECTION
  0x00020000 | // MULTI_RESULTS
  0x00080000; // PLUGIN_AUTH (no 0x800 SSL)

function handshake(): Buffer {
  const salt = Buffer.from('abcdefghijklmnopqrst');
  const payload = Buffer.concat([
    Buffer.from([10]), // protocol version
    Buffer.from('10.11.0-plain\0'),
    Buffer.from([1, 0, 0, 0]), // connection id
    salt.subarray(0, 8),
    Buffer.from([0]),
    Buffer.from([CAPABILITIES & 0xff, (CAPABILITIES >> 8) & 0xff]),
    Buffer.from([33]), // utf8_general_ci
    Buffer.from([2, 0]), // status: autocommit
    Buffer.from([(CAPABILITIES >> 16) & 0xff, (CAPABILITIES >> 24) & 0xff]),
    Buffer.from([21]), // auth data length
    Buffer.alloc(10),
    salt.subarray(8),
    Buffer.from([0]),
    Buffer.from('mysql_native_password\0'),
  ]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, 0]);
  return Buffer.concat([header, payload]);
}

export interface PlainMysqlServer {
  readonly host: string;
  readonly port: number;
  /** Everything clients sent, all connections together. */
  received(): Buffer;
  close(): Promise<void>;
}

export async function startPlainMysqlServer(): Promise<PlainMysqlServer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.write(handshake());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  return {
    host: LOOPBACK,
    port: (server.address() as AddressInfo).port,
    received: () => Buffer.concat(chunks),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
