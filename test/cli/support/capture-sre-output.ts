/**
 * Prints, as Markdown, real `token-broker status` and `token-broker doctor` output from runs against
 * the STS emulator (loopback only): a healthy and a failing case each. For the README's "For SREs"
 * section: `node --import tsx test/cli/support/capture-sre-output.ts > out.md`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Target } from '../../../contract/sidecar-config.ts';
import { startStsEmulator } from '../../emulators/sts-emulator.ts';
import { mongoTarget, rdsTarget, SAMPLE_POD } from '../../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from '../../sidecar/support/http-client.ts';
import { testSidecarEnv } from '../../sidecar/support/sidecar-env.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from '../../sidecar/support/sidecar-process-env.ts';
import { DB_ROLE, doctorSetup, POD_ROLE, REGION, startTcpListener } from './doctor-setup.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SIDECAR = fileURLToPath(new URL('../../sidecar/support/run-sidecar.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../../cli/main.ts', import.meta.url));
const UNTRUSTED_ROLE = 'arn:aws:iam::111122223333:role/reports-db-connect';

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

const sts = await startStsEmulator({ region: REGION, roles: { [POD_ROLE]: {}, [DB_ROLE]: {} } });
const db = await startTcpListener();
const sections: string[] = [];
const block = (title: string, command: string, r: { code: number | null; out: string }) =>
  sections.push(
    `#### ${title}\n\n\`\`\`console\n$ ${command}\n${r.out.trimEnd()}\n$ echo $?\n${r.code}\n\`\`\`\n`,
  );

async function statusCase(
  title: string,
  targets: Target[],
  settled: (doc: StatusDoc) => boolean,
): Promise<void> {
  const t = await testSidecarEnv(targets);
  const listen = await freeListenPorts();
  const env = {
    ...sidecarProcessEnv({ ...t.config, listen }, SAMPLE_POD),
    ...(await irsaEnv({ dir: t.dir, region: REGION, roleArn: POD_ROLE, stsUrl: sts.url })),
  };
  const sidecar = spawn(process.execPath, ['--import', 'tsx', SIDECAR], { cwd: ROOT, env, stdio: 'ignore' });
  try {
    await waitFor(
      async () => {
        const r = await httpRequest({ socketPath: join(t.dir, 'broker.sock') }, 'GET', '/v1/status').catch(
          () => undefined,
        );
        return r?.status === 200 && settled(JSON.parse(r.body) as StatusDoc);
      },
      'the sidecar to settle',
      30_000,
    );
    block(title, 'node --import tsx cli/main.ts status', await cli(['status'], env));
  } finally {
    sidecar.kill('SIGKILL');
    await t.cleanup();
  }
}

interface StatusDoc {
  targets: { name: string; fresh: boolean; consecutiveFailures: number }[];
}

const healthyDb = rdsTarget({ name: 'invoicing-db', roleArn: DB_ROLE });
try {
  await statusCase('status: healthy', [healthyDb, mongoTarget({ name: 'docs' })], (d) =>
    d.targets.every((x) => x.fresh),
  );
  await statusCase(
    'status: one target failing (AccessDenied on its role)',
    [healthyDb, rdsTarget({ name: 'reports-db', roleArn: UNTRUSTED_ROLE, user: 'reports_app' })],
    (d) => d.targets.some((x) => x.fresh) && d.targets.some((x) => x.consecutiveFailures > 0),
  );
  for (const [title, role] of [
    ['doctor: healthy', DB_ROLE],
    ['doctor: the target role does not trust the pod (AccessDenied)', UNTRUSTED_ROLE],
  ] as const) {
    const setup = await doctorSetup({
      stsUrl: sts.url,
      targets: () => [
        rdsTarget({ host: '127.0.0.1', port: db.port, roleArn: role }),
        mongoTarget({ scheme: 'mongodb', hosts: [`127.0.0.1:${db.port}`] }),
      ],
    });
    block(
      title,
      'node --import tsx cli/main.ts doctor',
      await cli(['doctor'], { PATH: process.env.PATH ?? '', ...setup.env }),
    );
    await setup.cleanup();
  }
} finally {
  await db.close();
  await sts.close();
}
process.stdout.write(sections.join('\n'));
