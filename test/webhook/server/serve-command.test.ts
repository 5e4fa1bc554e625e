/**
 * `token-broker webhook` end to end: the real binary (cli/main.ts) as a process over HTTPS, stopped by
 * SIGTERM; and the exit codes for bad options and unusable certificates, in process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { runWebhookServer } from '../../../webhook/src/server/serve-command.ts';
import { freePort } from '../../e2e/support/net.ts';
import { makeTempCertificates, type TestCertificates } from './support/certs.ts';
import { callHttps } from './support/https-client.ts';
import { optedInPod, review } from './support/pods.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      signals: process,
    },
  };
}

let certs: TestCertificates & { cleanup: () => Promise<void> };
before(async () => {
  certs = await makeTempCertificates();
});
after(() => certs.cleanup());

void describe('token-broker webhook', () => {
  void it('runs as a process over HTTPS, answers admissions, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cli/main.ts', 'webhook', '--host', '127.0.0.1'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Env as the chart would set it; no KUBERNETES_SERVICE_HOST, so no ServiceAccount lookup.
        env: {
          PATH: process.env.PATH,
          TOKEN_BROKER_WEBHOOK_PORT: String(port),
          TOKEN_BROKER_TLS_CERT_FILE: certs.certFile,
          TOKEN_BROKER_TLS_KEY_FILE: certs.keyFile,
          TOKEN_BROKER_WEBHOOK_SHUTDOWN_DELAY: '0',
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await callHttps(port, certs.ca, '/readyz').then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(ready, `webhook did not become ready: ${stderr}`);
      const res = await callHttps(port, certs.ca, '/mutate', JSON.stringify(review(optedInPod())));
      assert.equal(res.status, 200);
      assert.match(res.body, /"patchType":"JSONPatch"/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    const messages = lines.map((l) => l.msg);
    assert.ok(messages.includes('webhook listening (HTTPS)'), messages.join());
    assert.ok(messages.includes('admission'));
    assert.ok(messages.includes('stopped'));
  });

  void it('bad options: exit 2 with every problem on stderr', async () => {
    const { io: fake, out } = io();
    const code = await runWebhookServer(['--port', 'x'], { TOKEN_BROKER_SIDECAR_MODE: 'sideways' }, fake);
    assert.equal(code, 2);
    assert.match(out.stderr, /--port="x"/);
    assert.match(out.stderr, /TOKEN_BROKER_SIDECAR_MODE="sideways"/);
  });

  void it('unusable certificate files: exit 1 naming the file', async () => {
    const { io: fake, out } = io();
    const code = await runWebhookServer(
      [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--tls-cert-file',
        certs.certFile,
        '--tls-key-file',
        '/nonexistent/tls.key',
      ],
      {},
      fake,
    );
    assert.equal(code, 1);
    assert.match(out.stderr, /cannot read the TLS key file \/nonexistent\/tls.key \(ENOENT\)/);
  });

  void it('--help prints every flag and exits 0', async () => {
    const { io: fake, out } = io();
    assert.equal(await runWebhookServer(['--help'], {}, fake), 0);
    assert.match(out.stdout, /--tls-cert-file/);
    assert.match(out.stdout, /TOKEN_BROKER_SIDECAR_IMAGE/);
  });
});
