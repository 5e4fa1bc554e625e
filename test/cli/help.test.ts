/**
 * `--help` of status and doctor gives the kubectl exec line that works on the distroless image: the
 * container name injection gives the sidecar and the image's ENTRYPOINT, read from the Dockerfile.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDoctor } from '../../cli/doctor/doctor-command.ts';
import { IMAGE_ENTRYPOINT, kubectlExecLine } from '../../cli/kubectl-exec.ts';
import { runStatus } from '../../cli/status/status-command.ts';
import { SIDECAR_CONTAINER_NAME } from '../../webhook/src/injection/names.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function io() {
  const out: string[] = [];
  return {
    out,
    io: {
      env: {},
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      now: () => Date.now(),
    },
  };
}

describe('kubectl exec line', () => {
  it("runs node on the image's ENTRYPOINT script in the sidecar container", () => {
    const dockerfile = readFileSync(new URL('Dockerfile', `file://${ROOT}`), 'utf8');
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
    assert.deepEqual(JSON.parse(entrypoint), [...IMAGE_ENTRYPOINT]);
    assert.equal(SIDECAR_CONTAINER_NAME, 'token-broker');
    assert.equal(
      kubectlExecLine('status'),
      'kubectl exec -n <namespace> <pod> -c token-broker -- /nodejs/bin/node /app/dist/cli/main.js status',
    );
  });

  it('status --help and doctor --help print it, exit 0', async () => {
    const s = io();
    assert.equal(await runStatus(['--help'], s.io), 0);
    assert.ok(s.out.join('').includes(kubectlExecLine('status')));
    const d = io();
    assert.equal(await runDoctor(['--help'], d.io), 0);
    assert.ok(d.out.join('').includes(kubectlExecLine('doctor')));
  });

  it('token-broker --help lists status and doctor with the exec line', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ {2}status \[--json\]/m);
    assert.match(r.stdout, /^ {2}doctor \[--json\]/m);
    assert.ok(r.stdout.includes(kubectlExecLine('status')));
  });

  it('doctor outside the sidecar container (no TOKEN_BROKER_CONFIG): exit 2 with the exec line', async () => {
    const d = io();
    assert.equal(await runDoctor([], d.io), 2);
    assert.match(d.out.join(''), /TOKEN_BROKER_CONFIG is not set: run the doctor in the sidecar container/);
  });
});
