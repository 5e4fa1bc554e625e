import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SidecarConfig } from '../../../contract/sidecar-config.ts';
import type { Container, Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { makeWebIdentityToken } from '../../emulators/web-identity-token.ts';
import { containerEnv, findContainer, hostPath } from './kubelet.ts';
import type { VolumeDirs } from './kubelet.ts';
import { LOOPBACK, acceptsTcp, freePort } from './net.ts';
import { startContainerProcess } from './sidecar-process.ts';
import type { ContainerProcess } from './sidecar-process.ts';

/**
 * A pod whose annotations ask for the PostgreSQL proxy, admitted by the webhook's own core (mutatePod),
 * its sidecar run as a process with exactly the injected args and env, and its app container's env: what
 * the app may use. As in whole-chain.test.ts, each volume is a temp directory (the RDS CA ConfigMap holds
 * the test server's CA under its key), IRSA points at the STS emulator, and the sidecar's ports are free
 * loopback ports given as the webhook's defaults.
 */

const IRSA_MOUNT = '/var/run/secrets/eks.amazonaws.com/serviceaccount';

export interface ProxiedPodOptions {
  /** Temp directory for the volumes. */
  readonly dir: string;
  readonly namespace: string;
  readonly roleArn: string;
  readonly region: string;
  readonly stsUrl: string;
  /** The pod's token-broker.io/* annotations (inject is added). */
  readonly annotations: Readonly<Record<string, string>>;
  /** The CA bundle to put in the ConfigMap the rds-ca-configmap annotation names, under its key. */
  readonly caFile: string;
  readonly caKey?: string;
}

export interface ProxiedPod {
  readonly pod: Pod;
  readonly sidecarContainer: Container;
  readonly sidecar: ContainerProcess;
  /** The app container's env as the kubelet resolves it. */
  readonly appEnv: Readonly<Record<string, string>>;
  /** The shared volume (token files) on this machine. */
  readonly brokerDir: string;
  /** The config the sidecar runs with (paths mapped to this machine). */
  readonly config: SidecarConfig;
}

export async function startProxiedPod(options: ProxiedPodOptions): Promise<ProxiedPod> {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [apiPort = 0, healthPort = 0, metricsPort = 0] = ports;
  const result = mutatePod({
    pod: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'invoicing-7d9f8c6b5-pgprx',
        namespace: options.namespace,
        annotations: { 'token-broker.io/inject': 'true', ...options.annotations },
      },
      spec: {
        serviceAccountName: 'invoicing',
        containers: [
          {
            name: 'app',
            image: 'registry.example.com/invoicing:1.0.0',
            // What the EKS pod-identity webhook adds for IRSA.
            env: [
              { name: 'AWS_REGION', value: options.region },
              { name: 'AWS_ROLE_ARN', value: options.roleArn },
              { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${IRSA_MOUNT}/token` },
            ],
            volumeMounts: [{ name: 'aws-iam-token', mountPath: IRSA_MOUNT, readOnly: true }],
          },
        ],
        volumes: [
          {
            name: 'aws-iam-token',
            projected: {
              sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', path: 'token' } }],
            },
          },
        ],
      },
    },
    namespace: options.namespace,
    defaults: { ...BUILTIN_DEFAULTS, apiPort, healthPort, metricsPort },
  });
  if (result.outcome !== 'injected') {
    throw new Error(`the webhook did not inject the pod: ${JSON.stringify(result)}`);
  }
  const pod = result.pod;
  const sidecarContainer = findContainer(pod, 'token-broker');
  const appContainer = findContainer(pod, 'app');

  // Each volume the containers mount, as a directory here.
  const volumesDir = join(options.dir, 'volumes');
  const volumeDirs: Record<string, string> = {};
  for (const volume of pod.spec.volumes ?? []) {
    volumeDirs[volume.name] = join(volumesDir, volume.name);
    await mkdir(volumeDirs[volume.name] as string, { recursive: true });
  }
  await writeFile(
    join(volumeDirs['aws-iam-token'] as string, 'token'),
    makeWebIdentityToken({ expiresAt: Date.now() + 86_400_000 }),
  );
  const caVolume = (pod.spec.volumes ?? []).find((v) => v.configMap !== undefined);
  if (caVolume === undefined) throw new Error('the webhook mounted no ConfigMap with the RDS CA bundle');
  await copyFile(
    options.caFile,
    join(volumeDirs[caVolume.name] as string, options.caKey ?? 'global-bundle.pem'),
  );

  const dirs: VolumeDirs = volumeDirs;
  const env = containerEnv(pod, sidecarContainer, dirs);
  const injected = JSON.parse(env.TOKEN_BROKER_CONFIG ?? '{}') as SidecarConfig;
  const config: SidecarConfig = {
    ...injected,
    directory: hostPath(sidecarContainer, dirs, injected.directory),
    targets: injected.targets.map((target) =>
      target.kind === 'rds' && target.proxy !== undefined
        ? {
            ...target,
            proxy: { ...target.proxy, caFile: hostPath(sidecarContainer, dirs, target.proxy.caFile) },
          }
        : target,
    ),
  };
  const home = join(options.dir, 'sidecar-home');
  await mkdir(home, { recursive: true });
  const sidecar = startContainerProcess(sidecarContainer, {
    // The image's own env: no ~/.aws, no instance metadata off this machine.
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    AWS_CONFIG_FILE: '/nonexistent/token-broker-e2e/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/token-broker-e2e/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
    TOKEN_BROKER_CONFIG: JSON.stringify(config),
    AWS_ENDPOINT_URL_STS: options.stsUrl,
    // A pod has its own loopback; here the health and metrics ports stay on 127.0.0.1 too.
    TOKEN_BROKER_LISTEN_HOST: LOOPBACK,
  });
  try {
    await sidecar.waitForStartup();
    const proxyPorts = config.targets.flatMap((t) => (t.kind === 'rds' && t.proxy ? [t.proxy.port] : []));
    for (let attempt = 0; !(await Promise.all(proxyPorts.map(acceptsTcp))).every(Boolean); attempt += 1) {
      if (attempt > 100) throw new Error(`the proxies do not accept connections:\n${sidecar.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await sidecar.terminate();
    throw error;
  }
  return {
    pod,
    sidecarContainer,
    sidecar,
    appEnv: containerEnv(pod, appContainer, dirs),
    brokerDir: hostPath(sidecarContainer, dirs, injected.directory),
    config,
  };
}
