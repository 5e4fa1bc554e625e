/**
 * The database behind the real-Prometheus fleet's proxied PostgreSQL target: the TLS PostgreSQL wire
 * stand-in (test/emulators/pg-wire-server.ts) with a certificate for `localhost` from a throwaway CA,
 * taking as password only an RDS IAM token signed for its own host, port and user. Enough for the
 * sidecar's proxy to verify TLS, log in and relay a session, so the proxy series move for real.
 */
import pg from 'pg';
import { makeServerCertificate } from '../../emulators/pg-certificates.ts';
import { PgWireServer } from '../../emulators/pg-wire-server.ts';
import { LOOPBACK } from './net.ts';

/** The name the target, the certificate and the tokens use; resolves to the loopback. */
export const UPSTREAM_HOST = 'localhost';

export interface PgUpstream {
  readonly port: number;
  /** The CA bundle the proxy verifies the stand-in's certificate with. */
  readonly caFile: string;
  readonly server: PgWireServer;
  close(): Promise<void>;
}

/** An RDS IAM token as @aws-sdk/rds-signer writes it: a presigned `connect` URL without its scheme. */
export function isIamTokenFor(password: string, host: string, port: number, user: string): boolean {
  return (
    password.startsWith(`${host}:${port}/?Action=connect&DBUser=${encodeURIComponent(user)}&`) &&
    password.includes('X-Amz-Signature=')
  );
}

export async function startPgUpstream(user: string): Promise<PgUpstream> {
  const certs = await makeServerCertificate([`DNS:${UPSTREAM_HOST}`]);
  const box: { port?: number } = {};
  const server = new PgWireServer({
    cert: certs.cert,
    key: certs.key,
    verifyPassword: (login, password) =>
      login === user && box.port !== undefined && isIamTokenFor(password, UPSTREAM_HOST, box.port, user),
  });
  try {
    box.port = await server.listen();
  } catch (error) {
    await certs.cleanup();
    throw error;
  }
  const port = box.port;
  return {
    port,
    caFile: certs.caFile,
    server,
    close: async () => {
      await server.close();
      await certs.cleanup();
    },
  };
}

/** What a client that holds no password sees through the proxy on 127.0.0.1:`port`. */
export async function queryThroughProxy(
  port: number,
  user: string,
  database: string,
  sql: string,
): Promise<string> {
  const client = new pg.Client({ host: LOOPBACK, port, user, database, ssl: false });
  // A refused login also emits 'error' on the client; connect() rejects with it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query<Record<string, unknown>>(sql);
    return JSON.stringify(result.rows);
  } finally {
    await client.end();
  }
}
