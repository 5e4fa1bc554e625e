/**
 * Measures the sidecar process against the local STS emulator (not a test; prints figures):
 * spawn to first token file, spawn to /readyz 200, RSS after start (from /metrics) and after 5 s idle,
 * SIGTERM to exit.
 *
 *   node --import tsx test/sidecar/support/measure-sidecar.ts [path/to/compiled/sidecar/src/main.js]
 *   MEASURE_NODE_OPTIONS="--max-semi-space-size=1" node --import tsx test/sidecar/support/measure-sidecar.ts ...
 *
 * With a compiled main.js (npm run build -> dist/sidecar/src/main.js) it runs plain node, as the image
 * does; without, it runs the TypeScript sources through tsx (slower start, more memory).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startStsEmulator } from '../../emulators/sts-emulator.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from './http-client.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from './sidecar-process-env.ts';

const compiled = process.argv[2];
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGION = 'eu-west-1';

const sts = await startStsEmulator({ region: REGION });
const dir = await mkdtemp(join(tmpdir(), 'tb-measure-'));
const listen = await freeListenPorts();
const config = sidecarConfig({
  directory: dir,
  listen,
  targets: [
    rdsTarget({
      name: 'db',
      host: 'db.cluster-x.eu-west-1.rds.amazonaws.com',
      database: 'app',
      user: 'app',
      roleArn: 'arn:aws:iam::111122223333:role/db',
    }),
    mongoTarget({ name: 'docs' }),
  ],
});
const args = compiled
  ? [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(pathToFileURL(resolve(compiled)).href)}); process.exit(await m.runSidecar([], process.env));`,
    ]
  : ['--import', 'tsx', fileURLToPath(new URL('./run-sidecar.ts', import.meta.url))];
const env = {
  ...sidecarProcessEnv(config, { name: 'measure-pod', namespace: 'default' }),
  // e.g. MEASURE_NODE_OPTIONS="--max-semi-space-size=1" to compare V8 settings
  ...(process.env.MEASURE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.MEASURE_NODE_OPTIONS } : {}),
  ...(await irsaEnv({ dir, region: REGION, roleArn: 'arn:aws:iam::111122223333:role/pod', stsUrl: sts.url })),
};
const started = performance.now();
const child = spawn(process.execPath, args, {
  cwd: ROOT,
  env,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
try {
  await waitFor(() => stat(join(dir, 'db.token')).catch(() => undefined), 'first token', 30_000);
  const firstToken = performance.now() - started;
  await waitFor(
    async () =>
      (await httpRequest({ port: listen.healthPort }, 'GET', '/readyz').catch(() => ({ status: 0 })))
        .status === 200,
    'ready',
    30_000,
  );
  const ready = performance.now() - started;
  const rss = async () => {
    const body = (await httpRequest({ port: listen.metricsPort }, 'GET', '/metrics')).body;
    return Number(/^process_resident_memory_bytes (\d+)/m.exec(body)?.[1]) / 2 ** 20;
  };
  const cpu = async () => {
    const body = (await httpRequest({ port: listen.metricsPort }, 'GET', '/metrics')).body;
    return Number(/^process_cpu_seconds_total (\S+)/m.exec(body)?.[1]);
  };
  const rssStart = await rss();
  const cpu0 = await cpu();
  await new Promise((r) => setTimeout(r, 5_000));
  const rssIdle = await rss();
  // Anonymous memory is what the container really holds; file-backed pages (node binary, modules) are shared and reclaimable.
  const procStatus = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(procStatus)?.[1]) / 1024;
  const cpuIdle = ((await cpu()) - cpu0) / 5;
  const stopAt = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  const stopMs = performance.now() - stopAt;
  console.log(
    JSON.stringify({
      runtime: compiled ? 'node (compiled)' : 'node + tsx',
      spawnToFirstTokenMs: Math.round(firstToken),
      spawnToReadyMs: Math.round(ready),
      rssAfterStartMiB: Number(rssStart.toFixed(1)),
      rssAfter5sIdleMiB: Number(rssIdle.toFixed(1)),
      rssAnonMiB: Number(kib('RssAnon').toFixed(1)),
      rssFileMiB: Number(kib('RssFile').toFixed(1)),
      idleCpuCores: Number(cpuIdle.toFixed(4)),
      sigtermToExitMs: Math.round(stopMs),
      exitCode: code,
      stsCalls: sts.calls.map((c) => c.action),
    }),
  );
} finally {
  child.kill('SIGKILL');
  await sts.close();
  await rm(dir, { recursive: true, force: true });
}
