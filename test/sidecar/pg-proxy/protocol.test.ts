import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CANCEL_REQUEST_CODE,
  MAX_STARTUP_LENGTH,
  MessageFramer,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseStartupPacket,
  PROTOCOL_3_0,
  ProtocolError,
  serializeBackendKeyData,
  serializeCancelRequest,
  serializeErrorResponse,
  serializeMessage,
  serializePasswordMessage,
  serializeSslRequest,
  serializeStartup,
} from '../../../sidecar/src/pg-proxy/protocol.ts';

/** A startup-style packet: int32 length, int32 code, then the body, written by hand. */
function packet(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(code, 4);
  return Buffer.concat([head, body]);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
};

describe('parseStartupPacket', () => {
  const cases: [string, Buffer, unknown][] = [
    ['SSLRequest', packet(80877103), { kind: 'ssl-request' }],
    ['GSSENCRequest', packet(80877104), { kind: 'gssenc-request' }],
    [
      'CancelRequest (protocol 3.0, 4-byte key)',
      packet(80877102, Buffer.concat([int32(4242), Buffer.from([1, 2, 3, 4])])),
      { kind: 'cancel', processId: 4242, secretKey: Buffer.from([1, 2, 3, 4]) },
    ],
    [
      'CancelRequest (protocol 3.2, 32-byte key)',
      packet(80877102, Buffer.concat([int32(7), Buffer.alloc(32, 9)])),
      { kind: 'cancel', processId: 7, secretKey: Buffer.alloc(32, 9) },
    ],
    [
      'StartupMessage 3.0 with parameters',
      packet(196608, Buffer.from('user\0orders_app\0database\0orders\0application_name\0job\0\0')),
      {
        kind: 'startup',
        protocolVersion: 196608,
        params: new Map([
          ['user', 'orders_app'],
          ['database', 'orders'],
          ['application_name', 'job'],
        ]),
      },
    ],
    [
      'StartupMessage 3.2',
      packet((3 << 16) | 2, Buffer.from('user\0u\0\0')),
      { kind: 'startup', protocolVersion: (3 << 16) | 2, params: new Map([['user', 'u']]) },
    ],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => assert.deepEqual(parseStartupPacket(input), want));
  }

  const bad: [string, Buffer, RegExp][] = [
    ['length header disagrees', Buffer.concat([int32(99), int32(196608)]), /length/],
    ['protocol 2', packet(2 << 16, Buffer.from('user\0u\0\0')), /unsupported frontend protocol 2\.0/],
    ['unterminated parameter list', packet(196608, Buffer.from('user\0u\0')), /unterminated/],
    ['bytes after the terminator', packet(196608, Buffer.from('user\0u\0\0x')), /after the end/],
    ['a parameter given twice', packet(196608, Buffer.from('user\0a\0user\0b\0\0')), /twice/],
    ['SSLRequest with a body', packet(80877103, Buffer.from([0])), /8 bytes/],
    [
      'CancelRequest with a short key',
      packet(CANCEL_REQUEST_CODE, Buffer.concat([int32(1), Buffer.from([1])])),
      /secret key/,
    ],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses: ${name}`, () =>
      assert.throws(
        () => parseStartupPacket(input),
        (e: Error) => e instanceof ProtocolError && message.test(e.message),
      ));
  }
});

describe('serializers write what the parsers read', () => {
  it('StartupMessage keeps the parameter order', () => {
    const params = new Map([
      ['user', 'orders_app'],
      ['database', 'orders'],
    ]);
    const bytes = serializeStartup(PROTOCOL_3_0, params);
    assert.deepEqual(bytes, packet(196608, Buffer.from('user\0orders_app\0database\0orders\0\0')));
    assert.deepEqual(parseStartupPacket(bytes), { kind: 'startup', protocolVersion: PROTOCOL_3_0, params });
  });

  it('SSLRequest and CancelRequest', () => {
    assert.deepEqual(serializeSslRequest(), Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    const cancel = serializeCancelRequest(77, Buffer.from([9, 8, 7, 6]));
    assert.deepEqual(parseStartupPacket(cancel), {
      kind: 'cancel',
      processId: 77,
      secretKey: Buffer.from([9, 8, 7, 6]),
    });
  });

  it('PasswordMessage is a NUL-terminated string after p and the length', () => {
    assert.deepEqual(serializePasswordMessage('tok'), Buffer.from([0x70, 0, 0, 0, 8, 0x74, 0x6f, 0x6b, 0]));
    assert.throws(() => serializePasswordMessage('a\0b'), ProtocolError);
  });

  it('BackendKeyData round-trips, any key length', () => {
    const key = { processId: 12345, secretKey: Buffer.alloc(32, 7) };
    const bytes = serializeBackendKeyData(key);
    assert.equal(bytes.toString('latin1', 0, 1), 'K');
    assert.deepEqual(parseBackendKeyData(bytes.subarray(5)), key);
    assert.throws(() => parseBackendKeyData(Buffer.alloc(5)), ProtocolError);
  });

  it('ErrorResponse carries severity, SQLSTATE, message and hint', () => {
    const bytes = serializeErrorResponse({ severity: 'FATAL', code: '28000', message: 'no', hint: 'fix it' });
    assert.equal(bytes.toString('latin1', 0, 1), 'E');
    assert.equal(bytes.readInt32BE(1), bytes.length - 1);
    const fields = parseErrorFields(bytes.subarray(5));
    assert.deepEqual(Object.fromEntries(fields), {
      S: 'FATAL',
      V: 'FATAL',
      C: '28000',
      M: 'no',
      H: 'fix it',
    });
  });
});

describe('parseAuthentication', () => {
  const cases: [string, Buffer, unknown][] = [
    ['AuthenticationOk', int32(0), { kind: 'ok' }],
    ['AuthenticationCleartextPassword', int32(3), { kind: 'cleartext-password' }],
    ['AuthenticationMD5Password', Buffer.concat([int32(5), Buffer.alloc(4)]), { kind: 'md5-password' }],
    [
      'AuthenticationSASL',
      Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')]),
      { kind: 'sasl', mechanisms: ['SCRAM-SHA-256'] },
    ],
    ['AuthenticationKerberosV5', int32(2), { kind: 'other', code: 2 }],
  ];
  for (const [name, body, want] of cases) it(name, () => assert.deepEqual(parseAuthentication(body), want));
  it('refuses a truncated message', () =>
    assert.throws(() => parseAuthentication(Buffer.alloc(2)), ProtocolError));
});

describe('MessageFramer', () => {
  it('cuts typed messages out of chunks split anywhere and keeps the rest', () => {
    const stream = Buffer.concat([
      serializeMessage('R', int32(0)),
      serializeMessage('S', Buffer.from('a\0b\0')),
      serializeMessage('Z', Buffer.from('I')),
      Buffer.from('tail'),
    ]);
    for (let split = 1; split < stream.length; split++) {
      const framer = new MessageFramer();
      framer.push(stream.subarray(0, split));
      const got: string[] = [];
      // 'tail' is shorter than a message header: it stays buffered.
      for (let m = framer.nextMessage(); m; m = framer.nextMessage()) got.push(m.type);
      framer.push(stream.subarray(split));
      for (let m = framer.nextMessage(); m; m = framer.nextMessage()) got.push(m.type);
      assert.deepEqual(got, ['R', 'S', 'Z'], `split at ${split}`);
      assert.equal(framer.takeRest().toString(), 'tail');
    }
  });

  it('waits for a whole startup packet', () => {
    const framer = new MessageFramer();
    const whole = serializeStartup(PROTOCOL_3_0, new Map([['user', 'u']]));
    framer.push(whole.subarray(0, 6));
    assert.equal(framer.nextStartupPacket(), undefined);
    framer.push(whole.subarray(6));
    assert.deepEqual(framer.nextStartupPacket(), whole);
  });

  it('refuses lengths beyond the limits before buffering them', () => {
    const startup = new MessageFramer();
    startup.push(int32(MAX_STARTUP_LENGTH + 1));
    assert.throws(() => startup.nextStartupPacket(), /invalid startup packet length/);
    const tls = new MessageFramer();
    // A TLS ClientHello (direct SSL) is not a startup packet.
    tls.push(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    assert.throws(() => tls.nextStartupPacket(), ProtocolError);
    const typed = new MessageFramer();
    typed.push(Buffer.concat([Buffer.from('D'), int32(2 ** 30)]));
    assert.throws(() => typed.nextMessage(), /invalid message length/);
    const negative = new MessageFramer();
    negative.push(Buffer.concat([Buffer.from('D'), int32(3)]));
    assert.throws(() => negative.nextMessage(), /invalid message length/);
  });
});
