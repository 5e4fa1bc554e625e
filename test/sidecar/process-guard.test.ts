import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FATAL_EXIT_CODE, installProcessGuard } from '../../sidecar/src/process-guard.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { mongoTarget, SAMPLE_POD } from '../fakes/sidecar-config.ts';
import { testSidecarEnv } from './support/sidecar-env.ts';
import { freeListenPorts, irsaEnv, sidecarProcessEnv } from './support/sidecar-process-env.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./support/reject-later.ts', import.meta.url));
const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY';

function guarded() {
  const proc = new EventEmitter();
  const lines: string[] = [];
  const exits: number[] = [];
  installProcessGuard(proc, {
    component: 'token-broker-sidecar',
    write: (line) => lines.push(line),
    exit: (code) => exits.push(code),
    now: () => Date.UTC(2030, 0, 1),
  });
  return { proc, lines, exits };
}

describe('process guard', () => {
  it('an unhandled rejection logs one scrubbed JSON line and exits non-zero', () => {
    const { proc, lines, exits } = guarded();
    const error = new Error(`refresh lost: postgres://app:${SECRET}@db/app?X-Amz-Signature=${SECRET}`);
    proc.emit('unhandledRejection', error);
    assert.deepEqual(exits, [FATAL_EXIT_CODE]);
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.level, 'fatal');
    assert.equal(line.component, 'token-broker-sidecar');
    assert.match(String(line.msg), /^unhandled promise rejection: refresh lost/);
    assert.ok(!lines[0]!.includes(SECRET), lines[0]);
    assert.ok(!lines[0]!.includes('at '), 'no stack trace');
  });

  it('an uncaught exception does the same; a second fatal event while exiting adds nothing', () => {
    const { proc, lines, exits } = guarded();
    proc.emit('uncaughtException', new TypeError('x is not a function'));
    proc.emit('unhandledRejection', 'later');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /"msg":"uncaught exception: x is not a function/);
    assert.deepEqual(exits, [FATAL_EXIT_CODE]);
  });
});

describe('the token-broker binary with the guard installed', { timeout: 60_000 }, () => {
  let sts: StsEmulator;
  before(async () => {
    sts = await startStsEmulator({ region: 'eu-west-1' });
  });
  after(() => sts.close());

  it('sidecar: an unhandled rejection exits non-zero with one line that holds no secret', async () => {
    const t = await testSidecarEnv([mongoTarget()]);
    const ports = await freeListenPorts();
    const env = {
      ...sidecarProcessEnv({ ...t.config, listen: ports }, SAMPLE_POD),
      ...(await irsaEnv({
        dir: t.dir,
        region: 'eu-west-1',
        roleArn: 'arn:aws:iam::111122223333:role/app',
        stsUrl: sts.url,
      })),
      TB_TEST_REJECT_AFTER_MS: '1500',
      TB_TEST_SECRET: SECRET,
    };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', PRELOAD, 'cli/main.ts', 'sidecar'],
      {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    try {
      assert.equal(code, FATAL_EXIT_CODE, stdout + stderr);
      assert.ok(stdout.includes('token-broker sidecar started'), 'it was running');
      const fatal = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.level === 'fatal');
      assert.equal(fatal.length, 1, stdout);
      assert.match(String(fatal[0]!.msg), /unhandled promise rejection: lost a refresh/);
      assert.ok(!(stdout + stderr).includes(SECRET), 'the secret in the message is scrubbed');
      assert.equal(stderr, '', 'nothing else (no stack trace) is printed');
    } finally {
      await t.cleanup();
    }
  });
});
