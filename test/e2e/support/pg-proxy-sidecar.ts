import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RdsTarget, SidecarConfig } from '../../../contract/sidecar-config.ts';
import { sidecarConfig } from '../../fakes/sidecar-config.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../../sidecar/support/sidecar-process-env.ts';
import { LOOPBACK, acceptsTcp, freePort } from './net.ts';

/**
 * `token-broker sidecar` as its own process with RDS PostgreSQL targets whose loopback proxy is on,
 * signing as an IRSA role at the STS emulator, from a config written here (no webhook): for
 * `npm run bench` (bench/pgbench.ts). The e2e test goes through the webhook (pg-proxy-pod.ts).
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ProxySidecarOptions {
  readonly stsUrl: string;
  readonly region: string;
  readonly roleArn: string;
  /** The databases as the targets name them (host, port, database, user); proxy ports are picked here. */
  readonly targets: ReadonlyArray<Pick<RdsTarget, 'name' | 'host' | 'port' | 'database' | 'user'>>;
  /** PEM bundle the database certificate is verified against (RDS: the global bundle). */
  readonly caFile: string;
  readonly refreshMarginSeconds?: number;
  /** How the entrypoint runs (node args before `sidecar`); tsx on cli/main.ts when omitted. */
  readonly entryArgs?: readonly string[];
  /** Node's whole argument list instead (e.g. the injected command's V8 flags and bundle, no `sidecar`). */
  readonly argv?: readonly string[];
}

export interface ProxySidecar {
  readonly pid: number;
  readonly config: SidecarConfig;
  /** The port on 127.0.0.1 of each target's proxy, by target name. */
  proxyPort(target: string): number;
  /** The shared directory (token files). */
  readonly dir: string;
  output(): string;
  /** The sidecar's Prometheus exposition. */
  metrics(): Promise<string>;
  /** Resident set size of the process (VmRSS), MiB. */
  rssMiB(): Promise<number>;
  /** CPU time (user + system) the process has used, seconds (Linux /proc, 10 ms ticks). */
  cpuSeconds(): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the directory. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: LOOPBACK, port, path, agent: false, timeout: 2_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function startProxySidecar(options: ProxySidecarOptions): Promise<ProxySidecar> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-e2e-pgproxy-'));
  const listen = await freeListenPorts();
  const taken = new Set(Object.values(listen));
  const proxyPorts = new Map<string, number>();
  for (const target of options.targets) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    proxyPorts.set(target.name, port);
  }
  const proxyPort = (name: string): number => {
    const port = proxyPorts.get(name);
    if (port === undefined) throw new Error(`the sidecar has no proxied target "${name}"`);
    return port;
  };
  const config = sidecarConfig({
    directory: dir,
    listen,
    refresh: { marginSeconds: options.refreshMarginSeconds ?? 120 },
    targets: options.targets.map((target) => ({
      kind: 'rds' as const,
      region: options.region,
      engine: 'postgres' as const,
      ...target,
      proxy: { port: proxyPort(target.name), caFile: options.caFile },
    })),
  });
  const env = {
    ...sidecarProcessEnv(config, { name: 'invoicing-7c9f8d6b5-pgproxy', namespace: 'billing' }),
    ...(await irsaEnv({ dir, region: options.region, roleArn: options.roleArn, stsUrl: options.stsUrl })),
    // No instance metadata lookups off this machine, no ~/.aws.
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/token-broker-e2e/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/token-broker-e2e/credentials',
  };
  const entry = options.entryArgs ?? ['--import', 'tsx', 'cli/main.ts'];
  const child = spawn(process.execPath, options.argv ?? [...entry, 'sidecar'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = once(child, 'exit').then(([code, signal]) => {
    process.removeListener('exit', killOnExit);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  let gone = false;
  void exited.then(() => (gone = true));

  const stop = async (graceMs = 10_000) => {
    if (!gone) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const exit = await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
    return exit;
  };

  // Ready: /readyz passes (first token published) and the proxy port accepts connections.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`the sidecar exited before it was ready:\n${output}`);
    }
    const ready =
      (await get(listen.healthPort, '/readyz').then(
        (reply) => reply.status === 200,
        () => false,
      )) && (await Promise.all([...proxyPorts.values()].map(acceptsTcp))).every(Boolean);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the sidecar is not ready after 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    pid: child.pid ?? -1,
    config,
    proxyPort,
    dir,
    output: () => output,
    metrics: async () => {
      const reply = await get(listen.metricsPort, '/metrics');
      if (reply.status !== 200) throw new Error(`GET /metrics: ${reply.status}`);
      return reply.body;
    },
    cpuSeconds: async () => {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    rssMiB: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
    },
    stop,
  };
}
