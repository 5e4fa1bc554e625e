/**
 * The webhook over real HTTPS with a certificate made by certs/generate.sh, served from a directory laid
 * out like a Kubernetes Secret volume (`tls.crt -> ..data/tls.crt`, `..data -> ..<version>`), so the
 * reload test rotates the certificate the way the kubelet does: by swapping the `..data` symlink.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AdmissionReviewResponse } from '../../../webhook/src/server/admission.ts';
import { parseWebhookOptions } from '../../../webhook/src/server/options.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/src/server/serve-command.ts';
import { generateCertificates, type TestCertificates } from './support/certs.ts';
import { callHttps } from './support/https-client.ts';
import { logSink } from './support/log-sink.ts';
import { optedInPod, review } from './support/pods.ts';

function fingerprintOf(cert: Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A Secret-volume-like directory; `publish` writes a new version and swaps `..data` atomically. */
function secretVolume(dir: string) {
  let version = 0;
  const publish = async (cert: Buffer | string, key: Buffer | string) => {
    version += 1;
    const name = `..2026_01_01_00_00_0${version}`;
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'tls.crt'), cert);
    await writeFile(join(dir, name, 'tls.key'), key);
    await symlink(name, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  return { publish, certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
}

void describe('webhook over HTTPS', () => {
  let root: string;
  let first: TestCertificates;
  let second: TestCertificates;
  let volume: ReturnType<typeof secretVolume>;
  let server: WebhookServer;
  const logs = logSink();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'token-broker-https-'));
    const generated = join(root, 'generated');
    first = await generateCertificates(generated);
    // Keep copies: the second run replaces tls.* in place but keeps the CA.
    await copyFile(first.certFile, join(root, 'first.crt'));
    second = await generateCertificates(generated);
    assert.notEqual(fingerprintOf(first.cert), fingerprintOf(second.cert));
    assert.ok(first.ca.equals(second.ca), 'the CA is reused');

    const mount = join(root, 'mount');
    await mkdir(mount);
    volume = secretVolume(mount);
    await volume.publish(first.cert, first.key);
    await symlink('..data/tls.crt', volume.certFile);
    await symlink('..data/tls.key', volume.keyFile);

    const options = parseWebhookOptions(
      [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--tls-cert-file',
        volume.certFile,
        '--tls-key-file',
        volume.keyFile,
      ],
      {},
    );
    server = await startWebhookServer(options, {
      logDestination: logs,
      tlsDebounceMs: 20,
      tlsPollIntervalMs: 0,
    });
  });

  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  void it('serves /healthz and /readyz with the generated certificate', async () => {
    const health = await callHttps(server.port, first.ca, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.fingerprint, fingerprintOf(first.cert));
    assert.equal((await callHttps(server.port, first.ca, '/readyz')).status, 200);
  });

  void it('answers an AdmissionReview on POST /mutate, and /metrics counts it', async () => {
    const res = await callHttps(server.port, first.ca, '/mutate', JSON.stringify(review(optedInPod())));
    assert.equal(res.status, 200);
    const answer = JSON.parse(res.body) as AdmissionReviewResponse;
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    const metrics = await callHttps(server.port, first.ca, '/metrics');
    assert.match(metrics.body, /token_broker_webhook_admissions_total\{outcome="injected"\} 1/);
    const notAfter = new Date(new X509Certificate(first.cert).validTo).getTime() / 1000;
    assert.match(
      metrics.body,
      new RegExp(`token_broker_webhook_certificate_expiry_timestamp_seconds ${notAfter}`),
    );
  });

  void it('is not reachable by a client that does not trust the CA', async () => {
    await assert.rejects(callHttps(server.port, Buffer.from(''), '/healthz'));
  });

  void it('serves a rotated certificate without a restart (..data symlink swap)', async () => {
    await volume.publish(second.cert, second.key);
    const expected = fingerprintOf(second.cert);
    await eventually(
      async () => (await callHttps(server.port, second.ca, '/healthz')).fingerprint === expected,
      'the new cert',
    );
    assert.match(logs.text(), /TLS certificate reloaded/);
    assert.equal(
      (await callHttps(server.port, second.ca, '/mutate', JSON.stringify(review(optedInPod())))).status,
      200,
    );
  });

  void it('keeps serving the current certificate when the new pair does not match', async () => {
    const current = fingerprintOf(second.cert);
    // New certificate with the previous (wrong) key: half-rotated or broken Secret.
    await volume.publish(first.cert, second.key);
    assert.equal(server.reloader.reload(), 'rejected');
    await volume.publish('not a certificate', 'not a key');
    assert.equal(server.reloader.reload(), 'rejected');
    const res = await callHttps(server.port, second.ca, '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.fingerprint, current);
    assert.match(logs.text(), /new TLS certificate rejected; still serving the previous one/);
    assert.doesNotMatch(logs.text(), /PRIVATE KEY/);
    const metrics = await callHttps(server.port, second.ca, '/metrics');
    assert.match(metrics.body, /token_broker_webhook_tls_reloads_total\{result="rejected"\} [1-9]/);
  });

  void it('goes not-ready on close', async () => {
    const ports = server.port;
    await server.close();
    await assert.rejects(callHttps(ports, second.ca, '/healthz'));
  });
});
