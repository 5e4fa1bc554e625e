/**
 * A throwaway CA and a server certificate for chosen names, made with openssl, for the PostgreSQL
 * stand-in's TLS: the proxy must verify the chain against the CA file and the name against the
 * target's host. Tests only.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServerCertificate {
  dir: string;
  caFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  cleanup: () => Promise<void>;
}

/** `subjectAltNames` as openssl writes them: `DNS:localhost`, `IP:127.0.0.1`. */
export async function makeServerCertificate(subjectAltNames: readonly string[]): Promise<ServerCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'token-broker-pg-certs-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=token-broker test RDS CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  await openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=test database',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  await writeFile(
    file('ext.cnf'),
    `subjectAltName=${subjectAltNames.join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.crt',
  );
  const [ca, cert, key] = await Promise.all([
    readFile(file('ca.crt')),
    readFile(file('server.crt')),
    readFile(file('server.key')),
  ]);
  return {
    dir,
    caFile: file('ca.crt'),
    ca,
    cert,
    key,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
