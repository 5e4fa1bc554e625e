/**
 * Writes raw bytes to a server and returns everything it answers: for requests node:http's client
 * refuses to send (no Host header, malformed request lines).
 */
import { connect } from 'node:net';

export function rawHttp(
  target: { port: number; host?: string } | { socketPath: string },
  text: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket =
      'port' in target ? connect(target.port, target.host ?? '127.0.0.1') : connect(target.socketPath);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(text);
  });
}
