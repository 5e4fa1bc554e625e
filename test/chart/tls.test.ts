/**
 * The three TLS modes (values.tls.mode). For `helm`, the generated pair is checked the way the API
 * server uses it: a real TLS handshake on loopback that trusts only the caBundle and asks for the
 * Service's DNS name.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type Server } from 'node:tls';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { ISecret } from 'kubernetes-models/v1';
import { loadTlsPair } from '../../webhook/src/server/tls.ts';
import { NAMESPACE, findOne, kinds, render, renderRun, type K8sObject } from './support/helm.ts';

const SERVICE = 'token-broker-webhook';
const SERVICE_HOST = `${SERVICE}.${NAMESPACE}.svc`;

function caBundleOf(objects: K8sObject[]): string | undefined {
  const config = findOne<IMutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
  return config.webhooks?.[0]?.clientConfig.caBundle;
}

function tlsVolumeOf(objects: K8sObject[]) {
  const spec = findOne<IDeployment>(objects, 'Deployment').spec?.template.spec;
  const volume = spec?.volumes?.find((v) => v.name === 'tls');
  const mount = spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'tls');
  return { secret: volume?.secret, mount };
}

function decode(secret: ISecret, key: string): Buffer {
  const value = secret.data?.[key];
  assert.ok(value, `Secret data has ${key}`);
  return Buffer.from(value, 'base64');
}

/**
 * TLS handshake against a loopback server holding the pair, as the API server makes it: trust `ca`
 * only, ask for `servername`. Resolves with Node's verification error code, undefined when trusted.
 */
async function handshake(server: Server, ca: Buffer, servername: string): Promise<string | undefined> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    // rejectUnauthorized false only so the error code can be read; authorized is checked by the caller.
    const socket = connect({ host: '127.0.0.1', port, ca, servername, rejectUnauthorized: false }, () => {
      const error = socket.authorized ? undefined : socket.authorizationError;
      socket.end();
      resolve(error ? ((error as NodeJS.ErrnoException).code ?? String(error)) : undefined);
    });
    socket.on('error', reject);
  });
}

void describe('tls.mode=helm (default)', () => {
  const objects = render();
  const secret = findOne<ISecret>(objects, 'Secret');
  const ca = decode(secret, 'ca.crt');
  const cert = decode(secret, 'tls.crt');
  const key = decode(secret, 'tls.key');
  let server: Server;

  before(async () => {
    server = createServer({ cert, key }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('renders a kubernetes.io/tls Secret with the serving pair and its CA', () => {
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.equal(secret.metadata?.name, `${SERVICE}-tls`);
    assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });

  it('puts the same CA into the webhook caBundle', () => {
    assert.equal(caBundleOf(objects), secret.data?.['ca.crt']);
  });

  it('issues the serving certificate from that CA for <svc>.<ns>.svc and its short names', () => {
    const leaf = new X509Certificate(cert);
    const authority = new X509Certificate(ca);
    assert.ok(leaf.checkIssued(authority), 'issued by the CA');
    assert.ok(leaf.verify(authority.publicKey), 'signed by the CA key');
    assert.equal(authority.ca, true);
    const sans = (leaf.subjectAltName ?? '').split(', ').sort();
    assert.deepEqual(sans, [
      `DNS:${SERVICE}`,
      `DNS:${SERVICE}.${NAMESPACE}`,
      `DNS:${SERVICE_HOST}`,
      `DNS:${SERVICE_HOST}.cluster.local`,
    ]);
    assert.equal(leaf.checkHost(SERVICE_HOST), SERVICE_HOST);
  });

  it('is a pair the webhook itself accepts (key matches, Node can serve it)', () => {
    const files: Record<string, Buffer> = { '/tls/tls.crt': cert, '/tls/tls.key': key };
    const pair = loadTlsPair('/tls/tls.crt', '/tls/tls.key', (path) => {
      const content = files[path];
      if (!content) throw new Error(`unexpected read of ${path}`);
      return content;
    });
    assert.ok(pair.notAfter.getTime() > Date.now() + 300 * 86_400_000, 'valid for about a year');
  });

  it('passes a TLS handshake that trusts only the caBundle and asks for the Service name', async () => {
    const bundle = Buffer.from(caBundleOf(objects) ?? '', 'base64');
    assert.equal(await handshake(server, bundle, SERVICE_HOST), undefined);
    assert.equal(await handshake(server, bundle, `${SERVICE}.elsewhere.svc`), 'ERR_TLS_CERT_ALTNAME_INVALID');
    // Another render makes another CA, which must not be trusted.
    const otherCa = Buffer.from(caBundleOf(render()) ?? '', 'base64');
    assert.equal(await handshake(server, otherCa, SERVICE_HOST), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('mounts only tls.crt and tls.key (never the CA key) read-only at /etc/token-broker/tls', () => {
    const { secret: volume, mount } = tlsVolumeOf(objects);
    assert.equal(volume?.secretName, `${SERVICE}-tls`);
    assert.deepEqual(volume?.items, [
      { key: 'tls.crt', path: 'tls.crt' },
      { key: 'tls.key', path: 'tls.key' },
    ]);
    assert.equal(mount?.mountPath, '/etc/token-broker/tls');
    assert.equal(mount?.readOnly, true);
  });

  it('names the release namespace and cluster domain in the certificate', () => {
    const other = render({ namespace: 'payments', set: { 'tls.clusterDomain': 'corp.local' } });
    const leaf = new X509Certificate(decode(findOne<ISecret>(other, 'Secret'), 'tls.crt'));
    assert.match(leaf.subjectAltName ?? '', new RegExp(`DNS:${SERVICE}\\.payments\\.svc\\.corp\\.local`));
    assert.equal(leaf.checkHost(`${SERVICE}.payments.svc`), `${SERVICE}.payments.svc`);
    assert.equal(leaf.checkHost(SERVICE_HOST), undefined);
  });
});

void describe('tls.mode=cert-manager', () => {
  it('creates a self-signed CA chain and a serving Certificate, and asks the cainjector for the caBundle', () => {
    const objects = render({ set: { 'tls.mode': 'cert-manager' } });
    assert.ok(!kinds(objects).includes('Secret'), 'cert-manager writes the Secret');
    const config = findOne<IMutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
    assert.equal(config.metadata?.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${SERVICE}`);
    assert.equal(caBundleOf(objects), undefined);

    const selfSigned = findOne(objects, 'Issuer', `${SERVICE}-selfsigned`);
    assert.deepEqual(selfSigned.spec, { selfSigned: {} });
    const caCert = findOne(objects, 'Certificate', `${SERVICE}-ca`);
    assert.equal((caCert.spec as { isCA: boolean }).isCA, true);
    const caIssuer = findOne(objects, 'Issuer', `${SERVICE}-ca`);
    assert.deepEqual(caIssuer.spec, { ca: { secretName: `${SERVICE}-ca` } });

    const serving = findOne(objects, 'Certificate', SERVICE).spec as {
      secretName: string;
      dnsNames: string[];
      issuerRef: unknown;
      usages: string[];
    };
    assert.equal(serving.secretName, `${SERVICE}-tls`);
    assert.ok(serving.dnsNames.includes(SERVICE_HOST));
    assert.ok(serving.usages.includes('server auth'));
    assert.deepEqual(serving.issuerRef, { name: `${SERVICE}-ca`, kind: 'Issuer', group: 'cert-manager.io' });
    assert.equal(tlsVolumeOf(objects).secret?.secretName, serving.secretName);
  });

  it('uses a given issuerRef and then creates no Issuer of its own', () => {
    const objects = render({
      set: {
        'tls.mode': 'cert-manager',
        'tls.certManager.issuerRef.name': 'corp-ca',
        'tls.certManager.issuerRef.kind': 'ClusterIssuer',
      },
    });
    assert.ok(!kinds(objects).includes('Issuer'));
    const serving = findOne(objects, 'Certificate').spec as { issuerRef: unknown };
    assert.deepEqual(serving.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer' });
  });
});

void describe('tls.mode=secret', () => {
  const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString(
    'base64',
  );

  it('mounts the named Secret and uses the given caBundle, generating nothing', () => {
    const objects = render({
      set: { 'tls.mode': 'secret', 'tls.secret.name': 'my-webhook-tls', 'tls.secret.caBundle': caBundle },
    });
    assert.ok(!kinds(objects).includes('Secret'));
    assert.ok(!kinds(objects).includes('Certificate'));
    assert.equal(caBundleOf(objects), caBundle);
    assert.equal(tlsVolumeOf(objects).secret?.secretName, 'my-webhook-tls');
  });

  it('fails with the value to set when the Secret name or the caBundle is missing', () => {
    const noName = renderRun({ set: { 'tls.mode': 'secret', 'tls.secret.caBundle': caBundle } });
    assert.notEqual(noName.status, 0);
    assert.match(noName.stderr, /tls\.secret\.name is required with tls\.mode=secret/);
    const noCa = renderRun({ set: { 'tls.mode': 'secret', 'tls.secret.name': 'my-webhook-tls' } });
    assert.notEqual(noCa.status, 0);
    assert.match(noCa.stderr, /tls\.secret\.caBundle is required with tls\.mode=secret/);
  });
});
