/**
 * Sidecars of several pods for the real-Prometheus test, each the real `token-broker sidecar` in its own
 * process with only a pod's env (its config, the downward-API pod identity, IRSA pointed at the STS
 * emulator). Ports, proxy ports included, are planned before anything starts, so Prometheus's config
 * can name them and Prometheus can be scraping when the first refresh happens.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SidecarConfig, Target } from '../../../contract/sidecar-config.ts';
import type { Container } from '../../../webhook/src/injection/k8s-types.ts';
import { HEALTH_PORT_NAME, METRICS_PORT_NAME } from '../../../webhook/src/injection/names.ts';
import { sidecarConfig } from '../../fakes/sidecar-config.ts';
import { irsaEnv, sidecarProcessEnv } from '../../sidecar/support/sidecar-process-env.ts';
import { LOOPBACK, freePort } from './net.ts';
import { startContainerProcess, type ContainerProcess } from './sidecar-process.ts';

export interface FleetPodSpec {
  readonly namespace: string;
  readonly pod: string;
  /** The pod's IRSA role (AWS_ROLE_ARN). */
  readonly podRoleArn: string;
  readonly marginSeconds: number;
  /** A PostgreSQL target's `proxy.port` 0 gets a free port here (PlannedPod.spec holds it). */
  readonly targets: readonly Target[];
}

export interface PlannedPod {
  readonly spec: FleetPodSpec;
  readonly listen: SidecarConfig['listen'];
  /** `127.0.0.1:<metrics port>`, what a PodMonitor would scrape. */
  readonly metricsAddress: string;
}

export interface RunningPod extends PlannedPod {
  readonly process: ContainerProcess;
}

/** Distinct free ports for every pod and proxy (a probe may hand the same port out twice). */
export async function planFleet(specs: readonly FleetPodSpec[]): Promise<PlannedPod[]> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const planned: PlannedPod[] = [];
  for (const spec of specs) {
    const listen = { apiPort: await next(), healthPort: await next(), metricsPort: await next() };
    const targets: Target[] = [];
    for (const target of spec.targets) {
      const proxy = target.kind === 'rds' ? target.proxy : undefined;
      if (target.kind === 'rds' && proxy?.port === 0) {
        targets.push({ ...target, proxy: { ...proxy, port: await next() } });
      } else {
        targets.push(target);
      }
    }
    planned.push({
      spec: { ...spec, targets },
      listen,
      metricsAddress: `${LOOPBACK}:${listen.metricsPort}`,
    });
  }
  return planned;
}

export interface Fleet {
  readonly pods: readonly RunningPod[];
  /** Terminates every sidecar and removes their directories; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts every planned sidecar and waits for each one's liveness endpoint (the process serves, even when
 * a target fails; /readyz would never pass for a pod whose target is refused).
 */
export async function startFleet(
  planned: readonly PlannedPod[],
  sts: { readonly url: string },
  region: string,
): Promise<Fleet> {
  const pods: RunningPod[] = [];
  const dirs: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(pods.map((p) => p.process.terminate()));
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    })();
    return stopping;
  };
  try {
    for (const plan of planned) {
      const dir = await mkdtemp(join(tmpdir(), 'tb-fleet-sidecar-'));
      dirs.push(dir);
      const config = sidecarConfig({
        directory: dir,
        listen: plan.listen,
        refresh: { marginSeconds: plan.spec.marginSeconds },
        targets: [...plan.spec.targets],
      });
      const env = {
        ...sidecarProcessEnv(config, { name: plan.spec.pod, namespace: plan.spec.namespace }),
        ...(await irsaEnv({ dir, region, roleArn: plan.spec.podRoleArn, stsUrl: sts.url })),
        AWS_EC2_METADATA_DISABLED: 'true',
      };
      pods.push({ ...plan, process: startContainerProcess(sidecarContainer(plan.listen), env) });
    }
    await Promise.all(pods.map((p) => p.process.waitForStartup()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { pods, stop };
}

/** The injected container's shape as far as a process needs it: args, named ports, a startup probe. */
function sidecarContainer(listen: SidecarConfig['listen']): Container {
  return {
    name: 'token-broker',
    args: ['sidecar'],
    ports: [
      { name: HEALTH_PORT_NAME, containerPort: listen.healthPort, protocol: 'TCP' },
      { name: METRICS_PORT_NAME, containerPort: listen.metricsPort, protocol: 'TCP' },
    ],
    startupProbe: {
      httpGet: { path: '/healthz', port: HEALTH_PORT_NAME },
      periodSeconds: 1,
      failureThreshold: 30,
    },
  };
}
