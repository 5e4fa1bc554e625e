/**
 * A real Prometheus server (Debian's `prometheus` package) on 127.0.0.1 for one test: its config checked
 * by promtool first, a temp TSDB, and a small client for the HTTP API answers the tests read (instant
 * queries, rules, alerts, scrape targets). A missing binary fails with the command that installs it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstallCommand } from '../../../scripts/provision-plan.ts';
import { LOOPBACK, freePort } from './net.ts';
import { pollUntil } from './prometheus-poll.ts';

const INSTALL_HINT = `install Debian's "prometheus" package (server and promtool): ${aptInstallCommand(['prometheus'], false)} (npm test's pretest step, scripts/provision.ts, does this when it runs as root)`;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** One series of an instant vector. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface RuleState {
  readonly name: string;
  readonly type: 'alerting' | 'recording';
  /** `for:` in seconds (alerting rules). */
  readonly duration?: number;
  readonly health: string;
  readonly lastError?: string;
  readonly state?: string;
}

export interface RuleGroupState {
  readonly name: string;
  readonly file: string;
  readonly rules: readonly RuleState[];
}

export interface ActiveAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: 'pending' | 'firing' | 'inactive';
  readonly value: string;
}

export interface ScrapeTarget {
  readonly labels: Readonly<Record<string, string>>;
  readonly scrapeUrl: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Instant query; an API error (PromQL that does not parse, a bad function) throws with its text. */
  query(expr: string): Promise<Sample[]>;
  rules(): Promise<RuleGroupState[]>;
  alerts(): Promise<ActiveAlert[]>;
  targets(): Promise<ScrapeTarget[]>;
  /** Everything the server logged so far. */
  log(): string;
  /** SIGTERM (SIGKILL after a grace period) and removal of its temp dir; safe to call twice. */
  stop(): Promise<void>;
}

interface ApiEnvelope<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

/** `promtool check config` on the file; a mistake fails with promtool's own text. */
export function checkPrometheusConfig(configFile: string, promtool = 'promtool'): void {
  const run = spawnSync(promtool, ['check', 'config', configFile], { encoding: 'utf8' });
  const error: NodeJS.ErrnoException | undefined = run.error;
  if (error?.code === 'ENOENT') {
    throw new Error(`${promtool} is not on PATH: ${INSTALL_HINT}`);
  }
  if (run.error) throw run.error;
  if (run.status !== 0) {
    throw new Error(`promtool check config ${configFile} failed:\n${run.stdout}${run.stderr}`);
  }
}

async function apiGet<T>(url: string, path: string, params: Record<string, string> = {}): Promise<T> {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(`${url}${path}${query === '' ? '' : `?${query}`}`, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as ApiEnvelope<T>;
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(
      `Prometheus ${path}${params.query === undefined ? '' : ` ${params.query}`}: ${body.errorType ?? response.status}: ${body.error ?? 'no data'}`,
    );
  }
  return body.data;
}

/**
 * Writes `configYaml` to a temp dir, checks it with promtool, and starts Prometheus on a free loopback
 * port with its TSDB in that dir. Files the config names (rule files, CA files) must exist already.
 */
export async function startPrometheus(options: {
  configYaml: string;
  /** Extra files written beside prometheus.yml before the check (e.g. `rules.yaml`), by name. */
  files?: Readonly<Record<string, string>>;
  /** Command names, for a test of the missing-binary message. Default the Debian package's. */
  commands?: { readonly prometheus?: string; readonly promtool?: string };
}): Promise<PrometheusServer & { readonly dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-prometheus-'));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  const configFile = join(dir, 'prometheus.yml');
  try {
    for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), text);
    await writeFile(configFile, options.configYaml);
    checkPrometheusConfig(configFile, options.commands?.promtool);
  } catch (error) {
    await removeDir();
    throw error;
  }
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const command = options.commands?.prometheus ?? 'prometheus';
  const child = spawn(
    command,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${LOOPBACK}:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // Never outlive the test process (a CI timeout's signal included).
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let spawnError: NodeJS.ErrnoException | undefined;
  let exitedWith: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
      resolve();
    });
    child.once('exit', (code, signal) => {
      exitedWith = `code ${code}, signal ${signal}`;
      process.removeListener('exit', killOnExit);
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitedWith === undefined && spawnError === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      await removeDir();
    })();
    return stopping;
  };

  try {
    await pollUntil(
      async () => {
        if (spawnError?.code === 'ENOENT') throw new Error(`${command} is not on PATH: ${INSTALL_HINT}`);
        if (spawnError !== undefined) throw spawnError;
        if (exitedWith !== undefined) throw new Error(`prometheus exited (${exitedWith}):\n${output}`);
        const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
          (r) => r.ok,
          () => false,
        );
        return ready ? true : undefined;
      },
      { what: `prometheus ready on ${url}`, timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    dir,
    query: async (expr) => {
      const data = await apiGet<{ resultType: string; result: unknown }>(url, '/api/v1/query', {
        query: expr,
      });
      if (data.resultType === 'scalar') {
        const [, value] = data.result as [number, string];
        return [{ metric: {}, value: Number(value) }];
      }
      if (data.resultType !== 'vector')
        throw new Error(`${expr}: a ${data.resultType}, not an instant vector`);
      return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
        metric: s.metric,
        value: Number(s.value[1]),
      }));
    },
    rules: async () => (await apiGet<{ groups: RuleGroupState[] }>(url, '/api/v1/rules')).groups,
    alerts: async () => (await apiGet<{ alerts: ActiveAlert[] }>(url, '/api/v1/alerts')).alerts,
    targets: async () =>
      (await apiGet<{ activeTargets: ScrapeTarget[] }>(url, '/api/v1/targets', { state: 'active' }))
        .activeTargets,
    log: () => output,
    stop,
  };
}
