/** One direction of the relay: every byte in order, an end passed on, and backpressure. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { forward } from '../../../sidecar/src/pg-proxy/forward.ts';

/** Two connected loopback sockets: [near, far]. */
async function socketPair(tc: TestContext): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const near = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [far] = await accepted;
  await once(near, 'connect');
  server.close();
  tc.after(() => {
    near.destroy();
    far.destroy();
  });
  return [near, far];
}

const MiB = 1024 * 1024;

describe('forward', () => {
  it('stops reading while the destination cannot take more, then delivers every byte in order and the end', async (tc) => {
    // writer -> [source] -forward-> [destination] -> reader, the reader paused at first.
    const [writer, source] = await socketPair(tc);
    const [destination, reader] = await socketPair(tc);
    reader.pause();
    let counted = 0;
    forward(source, destination, (bytes) => (counted += bytes));

    const payload = Buffer.alloc(64 * MiB);
    for (let i = 0; i < payload.length; i += 4096) payload.writeUInt32BE(i, i);
    writer.end(payload);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Without backpressure the relay reads it all and queues it in the destination's memory.
    assert.ok(counted < 32 * MiB, `relayed ${counted} bytes to a reader that takes none`);
    assert.ok(destination.writableLength < 16 * MiB, `${destination.writableLength} bytes queued`);

    const chunks: Buffer[] = [];
    reader.on('data', (chunk: Buffer) => chunks.push(chunk));
    reader.resume();
    await once(reader, 'end');
    assert.equal(counted, payload.length);
    assert.ok(Buffer.concat(chunks).equals(payload), 'the bytes arrived changed or out of order');
  });
});
