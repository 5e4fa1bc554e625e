/** One HTTPS request to the webhook on 127.0.0.1, trusting only `ca` and verifying TEST_SERVER_NAME. */
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { TEST_SERVER_NAME } from './certs.ts';

export interface HttpsReply {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
}

/** GET, or POST of a JSON `body`. */
export function callHttps(port: number, ca: Buffer, path: string, body?: string): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body === undefined ? 'GET' : 'POST',
        ca,
        servername: TEST_SERVER_NAME,
        // A fresh TLS handshake per call, so a rotated certificate shows at once.
        agent: false,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const fingerprint =
          res.socket && 'getPeerCertificate' in res.socket
            ? (res.socket as TLSSocket).getPeerCertificate().fingerprint256
            : '';
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), fingerprint }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
