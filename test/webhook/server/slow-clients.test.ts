/**
 * Slow and idle clients over real sockets: the webhook closes each connection within its bound instead
 * of holding it for Node's defaults (TLS handshake 120 s, headers 60 s checked every 30 s). One server
 * runs the production timeouts; another runs them shortened, for the cases that need a handshake first.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Server } from 'node:https';
import { parseWebhookOptions } from '../../../webhook/src/server/options.ts';
import { SERVER_TIMEOUTS, type ServerTimeouts } from '../../../webhook/src/server/server-timeouts.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/src/server/serve-command.ts';
import {
  loopbackServerArgs,
  makeTempCertificates,
  TEST_SERVER_NAME,
  type TestCertificates,
} from './support/certs.ts';
import { logSink } from './support/log-sink.ts';
import { plainPod, review } from './support/pods.ts';

const SHORT: ServerTimeouts = {
  handshakeMs: 300,
  headersMs: 300,
  requestMs: 600,
  idleMs: 600,
  keepAliveMs: 300,
  checkIntervalMs: 100,
};
/** Far above every bound under test, far below Node's defaults: a loaded CI machine still passes. */
const GUARD_MS = 3_000;

/** Resolves with the ms until the server closed `socket`; rejects when it is still open after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server still held the connection after ${limitMs} ms`));
    }, limitMs);
    socket.on('error', () => undefined);
    // Read whatever the server says (e.g. a 408): a paused socket would never see its end.
    socket.resume();
    socket.once('close', () => {
      clearTimeout(guard);
      resolve(Date.now() - started);
    });
  });
}

/** Writes `bytes` one at a time, `everyMs` apart, until done or the socket closes. */
function trickle(socket: Socket, bytes: Buffer, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= bytes.length) {
      clearInterval(timer);
      return;
    }
    socket.write(bytes.subarray(i, i + 1));
    i += 1;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

void describe('slow clients are cut off within bounds that fit the API server', () => {
  let certs: TestCertificates & { cleanup: () => Promise<void> };
  let production: WebhookServer;
  let short: WebhookServer;

  before(async () => {
    certs = await makeTempCertificates();
    const options = parseWebhookOptions(loopbackServerArgs(certs), {});
    production = await startWebhookServer(options, { logDestination: logSink(), tlsPollIntervalMs: 0 });
    short = await startWebhookServer(options, {
      logDestination: logSink(),
      tlsPollIntervalMs: 0,
      timeouts: SHORT,
    });
  });

  after(async () => {
    await production?.close();
    await short?.close();
    await certs?.cleanup();
  });

  const tls = (port: number): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: certs.ca, servername: TEST_SERVER_NAME }, () =>
        resolve(socket),
      );
      socket.once('error', reject);
    });

  void it('the production timeouts sit inside the API server timeout and are set on the server', () => {
    const t = SERVER_TIMEOUTS;
    // Kubernetes' default timeoutSeconds is 10 s (the chart's 5 s); no API server waits beyond 30 s.
    assert.ok(t.handshakeMs <= 10_000 && t.headersMs <= 10_000 && t.requestMs <= 10_000);
    assert.ok(t.idleMs <= 30_000 && t.keepAliveMs <= 30_000);
    assert.ok(t.headersMs <= t.requestMs, 'Node requires headersTimeout <= requestTimeout');
    assert.ok(t.checkIntervalMs <= 1_000);
    const server = production.app.server as Server;
    assert.equal(server.headersTimeout, t.headersMs);
    assert.equal(server.requestTimeout, t.requestMs);
    assert.equal(server.keepAliveTimeout, t.keepAliveMs);
    assert.equal(server.timeout, t.idleMs);
  });

  void it('closes an idle TCP connection that never starts TLS within the 5 s handshake timeout', async () => {
    const socket = tcpConnect(production.port, '127.0.0.1');
    const ms = await closedWithin(socket, SERVER_TIMEOUTS.handshakeMs + GUARD_MS);
    assert.ok(ms >= SERVER_TIMEOUTS.handshakeMs - 100, `closed after ${ms} ms, not before the bound`);
  });

  void it('closes a client that trickles its TLS handshake', async () => {
    const socket = tcpConnect(short.port, '127.0.0.1');
    // A TLS handshake record header announcing 512 bytes, then one byte every 50 ms.
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    trickle(socket, Buffer.alloc(512, 1), 50);
    await closedWithin(socket, GUARD_MS);
  });

  void it('closes a TLS client that sends no request', async () => {
    const socket = await tls(short.port);
    await closedWithin(socket, GUARD_MS);
  });

  void it('closes a TLS client that trickles its headers', async () => {
    const socket = await tls(short.port);
    socket.write('POST /mutate HTTP/1.1\r\nHost: webhook\r\n');
    trickle(socket, Buffer.from(`X-Slow: ${'a'.repeat(200)}\r\n\r\n`), 50);
    await closedWithin(socket, GUARD_MS);
  });

  void it('closes a TLS client that trickles its body', async () => {
    const socket = await tls(short.port);
    const body = Buffer.from(JSON.stringify(review(plainPod())));
    socket.write(
      `POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    trickle(socket, body, 50);
    await closedWithin(socket, GUARD_MS);
  });

  void it('answers a prompt request, then closes the idle keep-alive connection', async () => {
    const socket = await tls(short.port);
    const body = JSON.stringify(review(plainPod()));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write(
      `POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await closedWithin(socket, GUARD_MS);
    assert.match(received, /^HTTP\/1.1 200 /);
    assert.match(received, /\r\nconnection: keep-alive\r\n/i, 'the API server may reuse the connection');
    assert.match(received, /"allowed":true/);
  });
});
