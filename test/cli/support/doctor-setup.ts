/**
 * A sidecar container's env and shared directory for `token-broker doctor`, with IRSA pointed at the
 * STS emulator (loopback only) and a TCP listener standing in for the database.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeSidecarConfig, type SidecarConfig, type Target } from '../../../contract/sidecar-config.ts';
import { makeWebIdentityToken } from '../../emulators/web-identity-token.ts';
import type { StsEmulator } from '../../emulators/sts-emulator.ts';
import { SAMPLE_POD, sidecarConfig } from '../../fakes/sidecar-config.ts';

export const REGION = 'eu-west-1';
export const POD_ROLE = 'arn:aws:iam::111122223333:role/invoicing-pod';
export const DB_ROLE = 'arn:aws:iam::111122223333:role/invoicing-db-connect';
export const SERVICE_ACCOUNT_SUBJECT = 'system:serviceaccount:billing:invoicing';

export interface DoctorSetup {
  /** The temp directory holding everything of this set-up. */
  root: string;
  config: SidecarConfig;
  env: Record<string, string>;
  webIdentityToken: string;
  cleanup(): Promise<void>;
}

export async function doctorSetup(o: {
  stsUrl: string;
  targets: (dir: string) => Target[];
  /** Epoch ms; default a day from now. */
  webIdentityExpiresAt?: number;
}): Promise<DoctorSetup> {
  const root = await mkdtemp(join(tmpdir(), 'tb-doctor-'));
  const directory = join(root, 'shared');
  await mkdir(directory);
  await chmod(directory, 0o700);
  await writeFile(join(directory, 'auth-token'), 'auth-token-of-the-test', { mode: 0o600 });
  const config = sidecarConfig({ directory, targets: o.targets(directory) });
  const webIdentityToken = makeWebIdentityToken({
    subject: SERVICE_ACCOUNT_SUBJECT,
    expiresAt: o.webIdentityExpiresAt ?? Date.now() + 86_400_000,
  });
  const tokenFile = join(root, 'irsa-token');
  await writeFile(tokenFile, webIdentityToken);
  const env = {
    TOKEN_BROKER_CONFIG: serializeSidecarConfig(config),
    TOKEN_BROKER_POD_NAME: SAMPLE_POD.name,
    TOKEN_BROKER_POD_NAMESPACE: SAMPLE_POD.namespace,
    AWS_REGION: REGION,
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    AWS_ENDPOINT_URL_STS: o.stsUrl,
    AWS_ROLE_ARN: POD_ROLE,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
  };
  return { root, config, env, webIdentityToken, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** A loopback TCP listener that accepts and closes: the database's port, as far as TCP goes. */
export async function startTcpListener(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the TCP listener has no port');
  return { port: address.port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Every secret the emulator issued: key ids, secret keys, session tokens. */
export function issuedSecrets(sts: StsEmulator): string[] {
  return sts.calls.flatMap((c) => {
    const issued = c.issuedAccessKeyId === undefined ? undefined : sts.credentialFor(c.issuedAccessKeyId);
    return issued === undefined ? [] : [issued.accessKeyId, issued.secretAccessKey, issued.sessionToken];
  });
}
