/**
 * The sidecar as its own process with only env vars for configuration, as in a pod: the SDK finds
 * the STS emulator through AWS_ENDPOINT_URL_STS (the standard override), the IRSA identity through
 * AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN, and EKS Pod Identity through
 * AWS_CONTAINER_CREDENTIALS_FULL_URI/AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SidecarConfig } from '../../contract/sidecar-config.ts';
import {
  startContainerCredentialsEmulator,
  type ContainerCredentialsEmulator,
} from '../emulators/container-credentials-emulator.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { mongoTarget, rdsTarget, SAMPLE_POD } from '../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from './support/http-client.ts';
import { testSidecarEnv, type TestSidecarEnv } from './support/sidecar-env.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from './support/sidecar-process-env.ts';
import { verifyTargetToken } from './support/verify-target-token.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./support/run-sidecar.ts', import.meta.url));
const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/invoicing-pod';
const DB_ROLE = 'arn:aws:iam::111122223333:role/invoicing-db-connect';

const pg = rdsTarget({ name: 'invoicing-db', roleArn: DB_ROLE });
const docs = mongoTarget({ name: 'docs' });

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Children still running; killed at the end even when a test timed out before its own cleanup. */
const running = new Set<ReturnType<typeof spawn>>();

function spawnSidecar(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, ...args], {
    cwd: ROOT,
    // Only what a pod would have (see sidecarProcessEnv): no inherited AWS_* from the test machine.
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  running.add(child);
  const exited = new Promise<ChildResult>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, exited, output: () => stdout };
}

let sts: StsEmulator;
let agent: ContainerCredentialsEmulator;

before(async () => {
  sts = await startStsEmulator({ region: REGION });
});
after(async () => {
  for (const child of running) child.kill('SIGKILL');
  await agent?.close();
  await sts.close();
});

async function withPorts(
  t: TestSidecarEnv,
): Promise<{ env: Record<string, string>; ports: SidecarConfig['listen'] }> {
  const ports = await freeListenPorts();
  return { env: sidecarProcessEnv({ ...t.config, listen: ports }, SAMPLE_POD), ports };
}

const irsa = (t: TestSidecarEnv) =>
  irsaEnv({ dir: t.dir, region: REGION, roleArn: POD_ROLE, stsUrl: sts.url });

// A hung child fails the suite at the timeout instead of hanging the run.
describe('sidecar process', { timeout: 60_000 }, () => {
  it('--once with IRSA env: AWS_ENDPOINT_URL_STS is honoured, files written, exit 0', async () => {
    const t = await testSidecarEnv([pg, docs]);
    const { env } = await withPorts(t);
    const before = sts.calls.length;
    const r = await spawnSidecar(['--once'], { ...env, ...(await irsa(t)) }).exited;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const token = await readFile(join(t.dir, 'invoicing-db.token'), 'utf8');
    const v = verifyTargetToken(token, pg, sts, REGION);
    assert.ok(v.ok, v.ok ? '' : v.message);
    const actions = sts.calls.slice(before).map((c) => `${c.action}:${c.outcome}`);
    assert.ok(
      actions.includes('AssumeRoleWithWebIdentity:ok') && actions.includes('AssumeRole:ok'),
      actions.join(','),
    );
    for (const f of ['pgpass', 'docs.credentials.json', 'docs.uri', 'auth-token']) await stat(join(t.dir, f));
    await t.cleanup();
  });

  it('--once with EKS Pod Identity env: credentials come from the container endpoint', async () => {
    const t = await testSidecarEnv([docs]);
    const { env } = await withPorts(t);
    const agentToken = join(t.dir, 'eks-pod-identity-token');
    await writeFile(agentToken, 'pod-identity-sa-token');
    agent = await startContainerCredentialsEmulator({
      sts,
      authorizationTokenFile: agentToken,
      roleArn: POD_ROLE,
    });
    const r = await spawnSidecar(['--once'], {
      ...env,
      AWS_REGION: REGION,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: agent.url,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: agentToken,
    }).exited;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const json = JSON.parse(await readFile(join(t.dir, 'docs.credentials.json'), 'utf8')) as Record<
      string,
      string
    >;
    assert.equal(sts.credentialFor(json.AccessKeyId!)?.source, 'issueCredentials');
    assert.ok(agent.calls.some((c) => c.outcome === 'ok'));
    await t.cleanup();
  });

  it('--once rides out an STS throttle at pod start: retried, exit 0', async () => {
    const t = await testSidecarEnv([pg]);
    const { env } = await withPorts(t);
    sts.failNext('throttling', 2, { action: 'AssumeRole' });
    const r = await spawnSidecar(['--once'], { ...env, ...(await irsa(t)) }).exited;
    sts.clearFaults();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /"errorClass":"throttling"/);
    await stat(join(t.dir, 'invoicing-db.token'));
    await t.cleanup();
  });

  it('--once exits 1 with a clear message when STS keeps denying access', async () => {
    const t = await testSidecarEnv([pg]);
    const { env } = await withPorts(t);
    sts.failNext('access-denied', 1_000, { action: 'AssumeRole' });
    const argv = ['--once', '--once-timeout', '1'];
    const r = await spawnSidecar(argv, { ...env, ...(await irsa(t)) }).exited;
    sts.clearFaults();
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /no credentials for target \\"invoicing-db\\" after \d+ attempt\(s\) in 1 s \(access-denied\)/,
    );
    await t.cleanup();
  });

  it('long-running: ready with a token quickly, status on the socket, SIGTERM exits 0 promptly', async () => {
    const t = await testSidecarEnv([pg, docs]);
    const { env, ports } = await withPorts(t);
    const started = performance.now();
    const sc = spawnSidecar(['--log-level', 'info'], { ...env, ...(await irsa(t)) });
    try {
      await waitFor(
        () => stat(join(t.dir, 'invoicing-db.token')).catch(() => undefined),
        'first token file',
        20_000,
      );
      const firstTokenMs = performance.now() - started;
      await waitFor(
        async () =>
          (await httpRequest({ port: ports.healthPort }, 'GET', '/readyz').catch(() => ({ status: 0 })))
            .status === 200,
        'ready',
      );
      const status = await httpRequest({ socketPath: join(t.dir, 'broker.sock') }, 'GET', '/v1/status');
      assert.equal((JSON.parse(status.body) as { ready: boolean }).ready, true);
      const metrics = (await httpRequest({ port: ports.metricsPort }, 'GET', '/metrics')).body;
      const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1]);
      console.log(
        `process (tsx): spawn to first token ${firstTokenMs.toFixed(0)} ms, RSS ${(rss / 2 ** 20).toFixed(1)} MiB`,
      );
      const stopAt = performance.now();
      sc.child.kill('SIGTERM');
      const r = await sc.exited;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const stopMs = performance.now() - stopAt;
      assert.ok(stopMs < 5_000, `exit took ${stopMs} ms`);
      assert.match(r.stdout, /"reason":"SIGTERM"/);
    } finally {
      sc.child.kill('SIGKILL');
      await t.cleanup();
    }
  });

  it('SIGTERM while a refresh waits on STS: exits 0 at once, no temp file left', async () => {
    const t = await testSidecarEnv([pg]);
    const { env } = await withPorts(t);
    const before = sts.calls.length;
    sts.failNext('slow', 1, { action: 'AssumeRoleWithWebIdentity', delayMs: 20_000 });
    const sc = spawnSidecar([], { ...env, ...(await irsa(t)) });
    try {
      await waitFor(
        () => sts.calls.slice(before).some((c) => c.outcome === 'pending'),
        'an STS call in flight',
        20_000,
      );
      const stopAt = performance.now();
      sc.child.kill('SIGTERM');
      const r = await sc.exited;
      sts.clearFaults();
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const stopMs = performance.now() - stopAt;
      assert.ok(stopMs < 5_000, `exit took ${stopMs} ms with STS still answering`);
      assert.match(r.stdout, /"reason":"SIGTERM"/);
      assert.deepEqual(
        (await readdir(t.dir)).filter((f) => f.endsWith('.tmp')),
        [],
        'no temp file left',
      );
    } finally {
      sc.child.kill('SIGKILL');
      await t.cleanup();
    }
  });
});
