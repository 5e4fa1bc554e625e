/**
 * Throwaway CA + serving certificates for tests, made by the real certs/generate.sh (so the tests
 * exercise the script the README documents). Needs openssl on PATH. Tests only.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../../certs/generate.sh', import.meta.url));

export const TEST_SERVICE = 'token-broker-webhook';
export const TEST_NAMESPACE = 'token-broker';
/** The name the test client asks for (SNI and hostname check); a SAN of every generated cert. */
export const TEST_SERVER_NAME = `${TEST_SERVICE}.${TEST_NAMESPACE}.svc`;

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

async function load(dir: string): Promise<TestCertificates> {
  const caFile = join(dir, 'ca.crt');
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const [ca, cert, key] = await Promise.all([readFile(caFile), readFile(certFile), readFile(keyFile)]);
  return { dir, caFile, certFile, keyFile, ca, cert, key };
}

/** Runs certs/generate.sh into `dir` (reusing a CA already there) and returns the files. */
export async function generateCertificates(dir: string): Promise<TestCertificates> {
  await run('bash', [SCRIPT, TEST_SERVICE, TEST_NAMESPACE, dir], { env: { ...process.env, DAYS: '2' } });
  return load(dir);
}

/** A fresh temp dir with a CA and a serving certificate; `cleanup` removes it. */
export async function makeTempCertificates(): Promise<TestCertificates & { cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'token-broker-certs-'));
  const certs = await generateCertificates(dir);
  return { ...certs, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** `token-broker webhook` flags for a server on 127.0.0.1, on a free port, with these certificates. */
export function loopbackServerArgs(certs: Pick<TestCertificates, 'certFile' | 'keyFile'>): string[] {
  return [
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--tls-cert-file',
    certs.certFile,
    '--tls-key-file',
    certs.keyFile,
  ];
}
