import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleSidecarSync, SIDECAR_BUNDLE } from '../../../scripts/sidecar-bundle.ts';
import type { Container, Probe } from '../../../webhook/src/injection/k8s-types.ts';
import { LOOPBACK } from './net.ts';

/**
 * An injected container run as a local process, the way the kubelet runs it: its command and args, the
 * env the test resolved for it, and its startupProbe polled until it passes. Only the token-broker image
 * is known here: its entrypoint `token-broker` is this checkout's `cli/main.ts` run by tsx, and the
 * injected sidecar command (the image's node, its flags, `/app/dist/sidecar.cjs`) runs this Node with the
 * same flags on a bundle built from this checkout, once per test process.
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The image's ENTRYPOINT (Dockerfile: `token-broker`), as a command line in this checkout. */
const ENTRYPOINT = [process.execPath, '--import', 'tsx', 'cli/main.ts'];
/** The base image's node (distroless nodejs22), which the injected sidecar command starts. */
const IMAGE_NODE = '/nodejs/bin/node';

export interface ContainerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ContainerProcess {
  readonly pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<ContainerExit>;
  /** Port number of a named containerPort (in the pod's network namespace = loopback here). */
  port(name: string): number;
  /** Polls the startupProbe like the kubelet (HTTP 2xx/3xx passes) until it passes or its budget is spent. */
  waitForStartup(): Promise<void>;
  /** GET on a named port, body as text. */
  get(portName: string, path: string): Promise<{ status: number; body: string }>;
  /** SIGTERM, as the kubelet sends at pod deletion; resolves with the exit. */
  terminate(): Promise<ContainerExit>;
}

function httpGet(port: number, path: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: LOOPBACK, port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

let bundleDir: string | undefined;

/** dist/sidecar.cjs built from this checkout into a temporary directory, removed when the process exits. */
function checkoutSidecarBundle(): string {
  if (bundleDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'tb-sidecar-bundle-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    bundleSidecarSync(PROJECT_ROOT, join(dir, basename(SIDECAR_BUNDLE)));
    bundleDir = dir;
  }
  return join(bundleDir, basename(SIDECAR_BUNDLE));
}

/** The container's command line in this checkout (before its args). */
function localCommand(container: Container): string[] {
  if (container.command === undefined) return [...ENTRYPOINT];
  const [node, ...rest] = container.command;
  if (node !== IMAGE_NODE) {
    throw new Error(
      `container "${container.name}" runs ${String(node)}; only the image's node is known here`,
    );
  }
  return [
    process.execPath,
    ...rest.map((word) => {
      if (word === `/app/${SIDECAR_BUNDLE}`) return checkoutSidecarBundle();
      if (word.startsWith('/app/')) {
        throw new Error(
          `container "${container.name}" runs ${word}; only /app/${SIDECAR_BUNDLE} is known here`,
        );
      }
      return word;
    }),
  ];
}

export function startContainerProcess(
  container: Container,
  env: Readonly<Record<string, string>>,
): ContainerProcess {
  const [file = process.execPath, ...entryArgs] = localCommand(container);
  const child = spawn(file, [...entryArgs, ...(container.args ?? [])], {
    cwd: PROJECT_ROOT,
    env: { ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // Never outlive the test process, also when it is stopped by a signal (a CI timeout): a long-running
  // server would be left behind. The signal is raised again once the child is gone.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  const killOnSignal = (signal: NodeJS.Signals): void => {
    child.kill('SIGKILL');
    process.kill(process.pid, signal);
  };
  process.once('exit', killOnExit);
  process.once('SIGTERM', killOnSignal);
  process.once('SIGINT', killOnSignal);
  const exited = new Promise<ContainerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      process.removeListener('SIGTERM', killOnSignal);
      process.removeListener('SIGINT', killOnSignal);
      resolve({ code, signal });
    });
  });
  let exit: ContainerExit | undefined;
  void exited.then((result) => (exit = result));

  const port = (name: string): number => {
    const found = container.ports?.find((p) => p.name === name);
    if (found === undefined) throw new Error(`container "${container.name}" has no port named "${name}"`);
    return found.containerPort;
  };
  const probePort = (probe: Probe): number => {
    const target = probe.httpGet?.port;
    if (target === undefined)
      throw new Error(`container "${container.name}": the probe is not an httpGet probe`);
    return typeof target === 'number' ? target : port(target);
  };

  return {
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    port,
    get: (portName, path) => httpGet(port(portName), path),
    waitForStartup: async () => {
      const probe = container.startupProbe;
      if (probe?.httpGet === undefined)
        throw new Error(`container "${container.name}" has no httpGet startupProbe`);
      const budgetMs = (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3) * 1000;
      const deadline = Date.now() + budgetMs;
      const probeUrl = `:${probePort(probe)}${probe.httpGet.path ?? '/'}`;
      for (;;) {
        if (exit !== undefined) {
          throw new Error(
            `container "${container.name}" exited (${JSON.stringify(exit)}) before startup:\n${output}`,
          );
        }
        const status = await httpGet(probePort(probe), probe.httpGet.path ?? '/', 1_000).then(
          (reply) => reply.status,
          () => 0,
        );
        if (status >= 200 && status < 400) return;
        if (Date.now() > deadline) {
          throw new Error(
            `startupProbe ${probeUrl} still failing after ${budgetMs} ms (last ${status}):\n${output}`,
          );
        }
        // The kubelet probes every periodSeconds; a tenth of that keeps the test fast.
        await new Promise((resolve) => setTimeout(resolve, (probe.periodSeconds ?? 10) * 100));
      }
    },
    terminate: async () => {
      if (exit === undefined) child.kill('SIGTERM');
      return await exited;
    },
  };
}

/** Prometheus text exposition -> `name{labels}` -> value (samples only; HELP/TYPE lines dropped). */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined) samples.set(match[1], Number(match[2]));
  }
  return samples;
}
