/**
 * The env of the sidecar run as its own process, the way a pod gives it: its config, the downward-API pod
 * identity, and from this machine nothing but PATH, so no AWS_* of the test machine reaches the SDK's
 * default chain. Shared by the process tests, the measurement script, the benchmark and the demo.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeSidecarConfig, type SidecarConfig } from '../../../contract/sidecar-config.ts';
import { freePort } from '../../e2e/support/net.ts';
import { makeWebIdentityToken } from '../../emulators/web-identity-token.ts';

/** A sidecar process reads its ports from its config, so they are picked before it starts. */
export async function freeListenPorts(): Promise<SidecarConfig['listen']> {
  return { apiPort: await freePort(), healthPort: await freePort(), metricsPort: await freePort() };
}

/** Listens on 127.0.0.1 only; HOME is the shared directory (a temp dir), not the runner's home. */
export function sidecarProcessEnv(
  config: SidecarConfig,
  pod: { name: string; namespace: string },
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: config.directory,
    TOKEN_BROKER_CONFIG: serializeSidecarConfig(config),
    TOKEN_BROKER_POD_NAME: pod.name,
    TOKEN_BROKER_POD_NAMESPACE: pod.namespace,
    TOKEN_BROKER_LISTEN_HOST: '127.0.0.1',
  };
}

/**
 * IRSA as the EKS pod-identity webhook sets it up, with STS at the emulator: writes a web identity token
 * valid for a day to `<dir>/irsa-token` and returns the AWS_* env that points the SDK at it.
 */
export async function irsaEnv(o: {
  dir: string;
  region: string;
  roleArn: string;
  stsUrl: string;
}): Promise<Record<string, string>> {
  const tokenFile = join(o.dir, 'irsa-token');
  await writeFile(tokenFile, makeWebIdentityToken({ expiresAt: Date.now() + 86_400_000 }));
  return {
    AWS_REGION: o.region,
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    AWS_ENDPOINT_URL_STS: o.stsUrl,
    AWS_ROLE_ARN: o.roleArn,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
  };
}
