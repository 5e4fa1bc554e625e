/**
 * `token-broker status` against a real sidecar process whose STS is the emulator: one healthy target
 * and one whose role assumption is AccessDenied. Asked in-process over the unix socket and over
 * loopback HTTP, and as the CLI process itself (finding the socket from the sidecar's env).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT_UNREACHABLE, runStatus } from '../../cli/status/status-command.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { rdsTarget, SAMPLE_POD } from '../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from '../sidecar/support/http-client.ts';
import { testSidecarEnv, type TestSidecarEnv } from '../sidecar/support/sidecar-env.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../sidecar/support/sidecar-process-env.ts';
import { assertGolden } from './support/golden.ts';
import { normalizeOutput } from './support/normalize.ts';
import { issuedSecrets } from './support/doctor-setup.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SIDECAR_RUNNER = fileURLToPath(new URL('../sidecar/support/run-sidecar.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/invoicing-pod';
const DB_ROLE = 'arn:aws:iam::111122223333:role/invoicing-db-connect';
const UNTRUSTED_ROLE = 'arn:aws:iam::111122223333:role/reports-db-connect';

let sts: StsEmulator;
let t: TestSidecarEnv;
let sidecar: ChildProcess | undefined;
let sidecarEnv: Record<string, string>;
let apiPort: number;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

before(async () => {
  sts = await startStsEmulator({ region: REGION, roles: { [POD_ROLE]: {}, [DB_ROLE]: {} } });
  t = await testSidecarEnv([
    rdsTarget({ name: 'invoicing-db', roleArn: DB_ROLE }),
    rdsTarget({ name: 'reports-db', roleArn: UNTRUSTED_ROLE, user: 'reports_app' }),
  ]);
  const listen = await freeListenPorts();
  apiPort = listen.apiPort;
  sidecarEnv = {
    ...sidecarProcessEnv({ ...t.config, listen }, SAMPLE_POD),
    ...(await irsaEnv({ dir: t.dir, region: REGION, roleArn: POD_ROLE, stsUrl: sts.url })),
  };
  sidecar = spawn(process.execPath, ['--import', 'tsx', SIDECAR_RUNNER], {
    cwd: ROOT,
    env: sidecarEnv,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  // Ready to answer once the healthy target is fresh and the other has failed at least once.
  await waitFor(
    async () => {
      const r = await httpRequest({ socketPath: join(t.dir, 'broker.sock') }, 'GET', '/v1/status').catch(
        () => undefined,
      );
      if (r?.status !== 200) return false;
      const doc = JSON.parse(r.body) as {
        targets: { name: string; fresh: boolean; consecutiveFailures: number }[];
      };
      const byName = new Map(doc.targets.map((x) => [x.name, x]));
      return (
        byName.get('invoicing-db')?.fresh === true && (byName.get('reports-db')?.consecutiveFailures ?? 0) > 0
      );
    },
    'the sidecar to hold one fresh and one failing target',
    30_000,
  );
});

after(async () => {
  sidecar?.kill('SIGKILL');
  await sts.close();
  await t.cleanup();
});

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function assertNoSecrets(text: string): void {
  for (const secret of issuedSecrets(sts)) assert.ok(!text.includes(secret), 'status printed a secret');
}

describe('token-broker status against a real sidecar', { timeout: 60_000 }, () => {
  it('over the unix socket: one fresh row, one failing with access-denied and its fix, exit 1', async () => {
    const c = capture();
    const code = await runStatus(['--socket', join(t.dir, 'broker.sock')], {
      env: {},
      now: () => Date.now(),
      ...c.io,
    });
    assert.equal(code, 1, c.err());
    const text = c.out();
    assert.match(text, /^invoicing-db +rds +fresh +\d+m\d\ds +\d+s ago +-$/m);
    assert.match(text, /^reports-db +rds +expired +- +never +access-denied \(\d+x\)$/m);
    assert.match(text, /reports-db \(access-denied\): the pod's identity may not perform this call/);
    assertNoSecrets(text);
    assertGolden('status-e2e.txt', normalizeOutput(text));
  });

  it('--json over loopback HTTP: states and error class for scripts', async () => {
    const c = capture();
    const code = await runStatus(['--json', '--url', `http://127.0.0.1:${apiPort}`], {
      env: {},
      now: () => Date.now(),
      ...c.io,
    });
    assert.equal(code, 1, c.err());
    const doc = JSON.parse(c.out()) as {
      ok: boolean;
      targets: { name: string; state: string; lastErrorClass: string | null }[];
    };
    assert.equal(doc.ok, false);
    assert.deepEqual(
      doc.targets.map((x) => [x.name, x.state, x.lastErrorClass]),
      [
        ['invoicing-db', 'fresh', null],
        ['reports-db', 'expired', 'access-denied'],
      ],
    );
    assertNoSecrets(c.out());
    assertGolden('status-e2e.json.txt', normalizeOutput(c.out()));
  });

  it('the CLI process in the sidecar env finds the socket from the config, exit 1', async () => {
    const r = await runCli(['status'], sidecarEnv);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /1 of 2 target\(s\) not fresh: reports-db/);
  });

  it('the sidecar cannot be reached: names what was tried and the fix, distinct exit code', async () => {
    const missing = join(t.dir, 'no-such.sock');
    const c = capture();
    const code = await runStatus(['--socket', missing], { env: {}, now: () => Date.now(), ...c.io });
    assert.equal(code, EXIT_UNREACHABLE);
    assert.equal(c.out(), '');
    assert.match(
      c.err(),
      new RegExp(`tried unix socket ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(ENOENT\\)`),
    );
    assert.match(
      c.err(),
      /kubectl exec -n <namespace> <pod> -c token-broker -- \/nodejs\/bin\/node \/app\/dist\/cli\/main\.js status/,
    );
  });

  it('usage error: exit 2', async () => {
    const c = capture();
    assert.equal(await runStatus(['--frobnicate'], { env: {}, now: () => Date.now(), ...c.io }), 2);
    assert.match(c.err(), /unknown argument "--frobnicate"/);
  });
});
