/**
 * `npm run demo:sidecar [-- --seconds N]`: the README's sidecar, live, with no AWS account and no cluster.
 *
 * 1. Starts the local STS emulator (test/emulators) with a 20 s credential lifetime, so refreshes show
 *    within a minute.
 * 2. Builds a pod from the examples/ annotations (one RDS target, one Mongo target with a role), adds the
 *    IRSA env and mount as the EKS pod-identity webhook would, and runs the webhook's own `mutatePod`.
 * 3. Takes the injected sidecar container's env, maps its mounts onto a temp dir, and starts the real
 *    sidecar (`node --import tsx cli/main.ts sidecar`) as a child process, all on 127.0.0.1.
 * 4. Prints the shared directory whenever a file changes (each write is a new inode renamed over the old
 *    name), the first characters of each secret file (never a whole secret), then /metrics and /v1/status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  DEFAULT_DIRECTORY,
  FILES,
  ROUTES,
  SIDECAR_CONFIG_ENV,
  parseSidecarConfig,
  serializeSidecarConfig,
} from '../contract/sidecar-config.ts';
import { startStsEmulator } from '../test/emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../test/emulators/web-identity-token.ts';
import { freeListenPorts } from '../test/sidecar/support/sidecar-process-env.ts';
import type { Container, EnvVar, Pod } from '../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../webhook/src/injection/spec.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const REGION = 'eu-west-1';
const CREDENTIAL_LIFETIME_SECONDS = 20;
/** Refresh margin for the demo pod: with 20 s credentials the default 120 s would never be fresh. */
const REFRESH_MARGIN_SECONDS = '5';
const IRSA_TOKEN_DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
const PREVIEW_CHARS = 40;
const USAGE = 'usage: npm run demo:sidecar [-- --seconds N]   (N: 5..3600, default 45)';

function parseSeconds(argv: readonly string[]): number {
  let seconds = 45;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const value = arg === '--seconds' ? argv[++i] : arg.startsWith('--seconds=') ? arg.slice(10) : null;
    if (value === null) throw new Error(`unknown argument "${arg}"; ${USAGE}`);
    const n = Number(value);
    if (!Number.isFinite(n) || n < 5 || n > 3600) {
      throw new Error(`--seconds: "${value ?? ''}" is not a number from 5 to 3600; ${USAGE}`);
    }
    seconds = n;
  }
  return seconds;
}

const started = performance.now();
const elapsed = (): string => `+${((performance.now() - started) / 1000).toFixed(2)}s`;
const say = (line: string): void => console.log(`[${elapsed()}] ${line}`);

interface Manifest {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { template?: Pod };
}

async function loadExample(file: string): Promise<{ template: Pod; namespace: string; roleArn?: string }> {
  const text = await readFile(join(ROOT, 'examples', file), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Manifest);
  const workload = docs.find((d) => d.spec?.template);
  if (!workload?.spec?.template) throw new Error(`examples/${file}: no workload with a pod template`);
  const template = workload.spec.template;
  const saName = template.spec.serviceAccountName;
  const sa = docs.find((d) => d.kind === 'ServiceAccount' && d.metadata?.name === saName);
  const roleArn = sa?.metadata?.annotations?.['eks.amazonaws.com/role-arn'];
  return {
    template,
    namespace: workload.metadata?.namespace ?? 'default',
    ...(roleArn === undefined ? {} : { roleArn }),
  };
}

/** The invoicing pod template plus the Atlas example's Mongo target: one RDS and one Mongo target. */
async function demoPod(): Promise<{ pod: Pod; namespace: string; roleArn: string }> {
  const invoicing = await loadExample('invoicing-rds-postgres.yaml');
  const atlas = await loadExample('atlas-mongo-app.yaml');
  const mongo = Object.entries(atlas.template.metadata?.annotations ?? {}).find(([k]) =>
    k.startsWith('token-broker.io/mongo-'),
  );
  if (!mongo) throw new Error('examples/atlas-mongo-app.yaml: no token-broker.io/mongo-<name> annotation');
  const pod = structuredClone(invoicing.template);
  pod.apiVersion = 'v1';
  pod.kind = 'Pod';
  pod.metadata = {
    ...pod.metadata,
    generateName: 'invoicing-7c9f8d6b5-',
    annotations: {
      ...pod.metadata?.annotations,
      [mongo[0]]: mongo[1],
      'token-broker.io/refresh-margin': REFRESH_MARGIN_SECONDS,
    },
  };
  const roleArn = invoicing.roleArn ?? 'arn:aws:iam::111122223333:role/passwordless-rds-db';
  // What the EKS pod-identity webhook adds for IRSA before ours copies it into the sidecar.
  for (const c of pod.spec.containers) {
    c.env = [
      ...(c.env ?? []),
      { name: 'AWS_ROLE_ARN', value: roleArn },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${IRSA_TOKEN_DIR}/token` },
    ];
    c.volumeMounts = [
      ...(c.volumeMounts ?? []),
      { name: 'aws-iam-token', mountPath: IRSA_TOKEN_DIR, readOnly: true },
    ];
  }
  pod.spec.volumes = [
    ...(pod.spec.volumes ?? []),
    { name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
  ];
  return { pod, namespace: invoicing.namespace, roleArn };
}

function findSidecar(pod: Pod): Container {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const sidecar = all.find((c) => c.name === 'token-broker');
  if (!sidecar) throw new Error('the webhook injected no "token-broker" container');
  return sidecar;
}

interface Entry {
  mode: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

function modeString(mode: number, isSocket: boolean, isDir: boolean): string {
  const type = isSocket ? 's' : isDir ? 'd' : '-';
  const bits = ['r', 'w', 'x'];
  let out = type;
  for (let i = 8; i >= 0; i--) out += mode & (1 << i) ? bits[(8 - i) % 3] : '-';
  return out;
}

async function snapshot(dir: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    const s = await lstat(join(dir, name)).catch(() => undefined);
    if (!s) continue; // a temp file renamed away between readdir and lstat
    out.set(name, {
      mode: modeString(s.mode, s.isSocket(), s.isDirectory()),
      size: s.size,
      mtimeMs: s.mtimeMs,
      ino: s.ino,
    });
  }
  return out;
}

/** The first characters of a secret file, never the whole secret (the auth token is short: show less). */
function preview(name: string, content: string): string {
  const oneLine = content.replace(/\n/g, '⏎');
  const n = name === FILES.authToken ? Math.min(8, Math.floor(oneLine.length / 4)) : PREVIEW_CHARS;
  return `${oneLine.slice(0, Math.min(n, Math.floor(oneLine.length / 2)))}…`;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Prints the directory when it changed; `tempNames` are the temp files fs.watch saw since last time. */
class DirectoryWatcher {
  private previous = new Map<string, Entry>();
  private readonly tempNames = new Set<string>();
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly t0Ms: number,
  ) {}

  start(): void {
    this.watcher = watch(this.dir, (_event, name) => {
      if (name && /^\..+\.tmp$/.test(name)) this.tempNames.add(name);
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.check(), 40);
    });
    // fs.watch may coalesce events; a slow poll makes sure no change goes unseen.
    this.poll = setInterval(() => this.check(), 1000);
  }

  stop(): Promise<void> {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    return this.running;
  }

  private check(): void {
    this.running = this.running.then(() => this.print()).catch((e: unknown) => console.error(e));
  }

  private async print(): Promise<void> {
    const now = await snapshot(this.dir);
    const changes = new Map<string, string>();
    for (const [name, e] of now) {
      const before = this.previous.get(name);
      if (!before) changes.set(name, 'new');
      else if (before.ino !== e.ino) changes.set(name, `replaced: inode ${before.ino} -> ${e.ino}`);
      else if (before.mtimeMs !== e.mtimeMs || before.size !== e.size) changes.set(name, 'modified in place');
    }
    const gone: string[] = [];
    for (const [name, e] of this.previous) {
      if (now.has(name)) continue;
      changes.set(name, 'removed');
      // A temp file whose inode now carries a real name was renamed over it: the atomic write.
      const heir = [...now].find(([, n]) => n.ino === e.ino)?.[0];
      gone.push(heir ? `${name} (inode ${e.ino}) was renamed to ${heir}` : `${name} removed`);
    }
    this.previous = now;
    if (changes.size === 0) return;
    const temps = [...this.tempNames];
    this.tempNames.clear();
    const count = (prefix: string) => [...changes.values()].filter((c) => c.startsWith(prefix)).length;
    say(`${this.dir}: ${count('new')} new, ${count('replaced')} replaced, ${count('removed')} removed`);
    console.log('    mode         size  mtime      inode     name');
    for (const [name, e] of now) {
      const rel = `+${((e.mtimeMs - this.t0Ms) / 1000).toFixed(2)}s`;
      const change = changes.get(name);
      console.log(
        `    ${e.mode}  ${String(e.size).padStart(5)}  ${rel.padEnd(9)}  ${String(e.ino).padEnd(8)}  ${name.padEnd(26)}${change ? `  <- ${change}` : ''}`,
      );
    }
    for (const line of gone) console.log(`    ${line}`);
    for (const name of [...changes.keys()].filter((n) => changes.get(n) !== 'removed')) {
      if (name === FILES.socket || name.endsWith('.tmp')) continue;
      const content = await readFile(join(this.dir, name), 'utf8').catch(() => undefined);
      if (content !== undefined) console.log(`      ${name}: ${preview(name, content)}`);
    }
    if (temps.length > 0) {
      console.log(
        `      written via temp files (create, fsync, rename over the name): ${temps.slice(0, 6).join(', ')}${temps.length > 6 ? ', ...' : ''}`,
      );
    }
  }
}

function relayLogs(child: ChildProcess): void {
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        const fields = ['target', 'expiresAt', 'nextRefreshAt', 'errorClass', 'reason']
          .filter((k) => entry[k] !== undefined)
          .map((k) => `${k}=${String(entry[k])}`);
        say(`sidecar log: ${String(entry.msg)}${fields.length ? `  (${fields.join(' ')})` : ''}`);
      } catch {
        say(`sidecar: ${line}`);
      }
    });
  }
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => say(`sidecar stderr: ${line}`));
  }
}

async function main(): Promise<number> {
  const seconds = parseSeconds(process.argv.slice(2));
  const tmp = await mkdtemp(join(tmpdir(), 'tb-demo-'));
  const sts = await startStsEmulator({
    region: REGION,
    credentialLifetimeSeconds: CREDENTIAL_LIFETIME_SECONDS,
  });
  let child: ChildProcess | undefined;
  let watcher: DirectoryWatcher | undefined;
  const killChild = () => child?.kill('SIGKILL');
  process.on('exit', killChild);
  try {
    say(`STS emulator on ${sts.url} (every credential lives ${CREDENTIAL_LIFETIME_SECONDS} s)`);

    const { pod, namespace, roleArn } = await demoPod();
    const result = mutatePod({
      pod,
      namespace,
      defaults: BUILTIN_DEFAULTS,
      serviceAccount: {
        name: pod.spec.serviceAccountName ?? 'default',
        annotations: { 'eks.amazonaws.com/role-arn': roleArn },
      },
    });
    if (result.outcome !== 'injected') {
      throw new Error(`mutatePod did not inject: ${JSON.stringify(result)}`);
    }
    for (const w of result.warnings) say(`webhook warning: ${w}`);
    const sidecar = findSidecar(result.pod);
    say(
      `mutatePod injected "${sidecar.name}" (${sidecar.restartPolicy === 'Always' ? 'native sidecar init container' : 'container'}), ${result.patch.length} patch operations`,
    );

    // Every mount of the sidecar becomes a directory under tmp; paths in env follow.
    const mounts = (sidecar.volumeMounts ?? []).map((m) => ({ from: m.mountPath, to: join(tmp, m.name) }));
    const mapPath = (p: string): string => {
      const m = mounts.find((x) => p === x.from || p.startsWith(`${x.from}/`));
      return m ? m.to + p.slice(m.from.length) : p;
    };
    for (const m of mounts) await mkdir(m.to, { recursive: true });
    const podName = `${pod.metadata?.generateName ?? 'demo-'}x7k2q`;
    const env: Record<string, string> = {};
    for (const e of sidecar.env ?? ([] as EnvVar[])) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (e.value !== undefined) env[e.name] = mapPath(e.value);
      else if (field === 'metadata.name') env[e.name] = podName;
      else if (field === 'metadata.namespace') env[e.name] = namespace;
      else throw new Error(`sidecar env ${e.name}: no local value for ${JSON.stringify(e.valueFrom)}`);
    }
    const raw = env[SIDECAR_CONFIG_ENV];
    if (raw === undefined) throw new Error(`the injected sidecar has no ${SIDECAR_CONFIG_ENV}`);
    const config = parseSidecarConfig(raw);
    const directory = mapPath(config.directory);
    if (directory === config.directory) throw new Error(`no mount for ${DEFAULT_DIRECTORY} in the sidecar`);
    const listen = await freeListenPorts();
    env[SIDECAR_CONFIG_ENV] = serializeSidecarConfig({ ...config, directory, listen });
    const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE;
    if (tokenFile === undefined) throw new Error('the sidecar did not get AWS_WEB_IDENTITY_TOKEN_FILE');
    await mkdir(dirname(tokenFile), { recursive: true });
    await writeFile(tokenFile, makeWebIdentityToken({ expiresAt: Date.now() + 86_400_000 }));
    for (const t of config.targets) {
      say(
        `target "${t.name}": ${t.kind}${t.kind === 'rds' ? ` ${t.engine} ${t.user}@${t.host}` : ` ${t.scheme}://${t.hosts.join(',')}/${t.database}`}, ${t.roleArn ? `assumes ${t.roleArn}` : `signs as the pod's role ${roleArn}`}`,
      );
    }
    say(
      `${config.directory} -> ${directory}; api 127.0.0.1:${listen.apiPort}, health :${listen.healthPort}, metrics :${listen.metricsPort}`,
    );

    const t0Ms = Date.now();
    watcher = new DirectoryWatcher(directory, t0Ms);
    await mkdir(directory, { recursive: true });
    watcher.start();
    child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sidecar', '--log-level', 'info'], {
      cwd: ROOT,
      env: {
        ...env,
        PATH: process.env.PATH ?? '',
        HOME: tmp,
        AWS_ENDPOINT_URL_STS: sts.url,
        TOKEN_BROKER_LISTEN_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C reaches only this script, which then stops the sidecar itself.
      detached: true,
    });
    relayLogs(child);
    say(`sidecar started (pid ${child.pid ?? '?'}): node --import tsx cli/main.ts sidecar`);
    const exited = new Promise<number | null>((r) => child?.on('exit', (code) => r(code)));
    let childGone = false;
    void exited.then(() => (childGone = true));

    // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and relayed by tsx), and a
    // second signal without a listener would kill it before the cleanup below.
    const stopEarly = new Promise<string>((resolve) => {
      process.on('SIGINT', () => resolve('Ctrl-C'));
      process.on('SIGTERM', () => resolve('SIGTERM'));
    });
    let readyTimer: NodeJS.Timeout | undefined;
    const ready = (async () => {
      for (;;) {
        const r = await get(listen.healthPort, '/readyz').catch(() => ({ status: 0 }));
        if (r.status === 200) return say('GET /readyz: 200 (every target fresh)');
        await new Promise((resolve) => (readyTimer = setTimeout(resolve, 100)));
      }
    })();
    let endTimer: NodeJS.Timeout | undefined;
    const why = await Promise.race([
      new Promise<string>((r) => (endTimer = setTimeout(() => r(`${seconds} s elapsed`), seconds * 1000))),
      stopEarly,
      exited.then((code) => `the sidecar exited early with code ${String(code)}`),
    ]);
    clearTimeout(endTimer);
    clearTimeout(readyTimer);
    void ready.catch(() => undefined);
    say(`stopping: ${why}`);
    await watcher.stop();

    if (!childGone) {
      const metrics = await get(listen.metricsPort, '/metrics').catch(() => undefined);
      console.log('\n--- GET /metrics (token_broker_* lines) ---');
      console.log(
        (metrics?.body ?? '(no answer)')
          .split('\n')
          .filter((l) => l.startsWith('token_broker_'))
          .join('\n'),
      );
      const status = await get(listen.apiPort, ROUTES.status).catch(() => undefined);
      console.log(`\n--- GET ${ROUTES.status} ---`);
      console.log(status ? JSON.stringify(JSON.parse(status.body), null, 2) : '(no answer)');
    }
    const calls = new Map<string, number>();
    for (const c of sts.calls)
      calls.set(`${c.action} ${c.outcome}`, (calls.get(`${c.action} ${c.outcome}`) ?? 0) + 1);
    console.log('\n--- STS emulator calls ---');
    for (const [k, n] of calls) console.log(`${String(n).padStart(4)}  ${k}`);

    if (!childGone) child.kill('SIGTERM');
    const killTimer = setTimeout(() => child?.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(killTimer);
    say(`sidecar exited with code ${String(code)}`);
    return why.startsWith('the sidecar exited') ? 1 : 0;
  } finally {
    await watcher?.stop();
    killChild();
    await sts.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo:sidecar: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
