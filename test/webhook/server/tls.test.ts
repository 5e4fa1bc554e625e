import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { FSWatcher } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  TlsLoadError,
  loadTlsPair,
  startCertificateReloader,
  type TlsPair,
} from '../../../webhook/src/server/tls.ts';
import { generateCertificates, makeTempCertificates, type TestCertificates } from './support/certs.ts';

type Files = Record<string, Buffer | undefined>;

function reader(files: Files) {
  return (path: string): Buffer => {
    const content = files[path];
    if (!content) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  };
}

const silent = { info: () => {}, warn: () => {} };

void describe('TLS pair loading and reload', () => {
  let a: TestCertificates & { cleanup: () => Promise<void> };
  let b: TestCertificates;
  before(async () => {
    a = await makeTempCertificates();
    const first = { cert: a.cert, key: a.key };
    b = await generateCertificates(a.dir);
    Object.assign(a, first);
  });
  after(() => a.cleanup());

  void it('loads a matching pair and describes it', () => {
    const pair = loadTlsPair('c', 'k', reader({ c: a.cert, k: a.key }));
    assert.match(pair.subject, /CN=token-broker-webhook.token-broker.svc/);
    assert.match(pair.fingerprint, /^[0-9a-f]{64}$/);
    assert.ok(pair.notAfter.getTime() > Date.now());
  });

  const cases: [string, () => Files, RegExp][] = [
    [
      'a missing cert file',
      () => ({ k: a.key }),
      /cannot read the TLS cert file c \(ENOENT\); check --tls-cert-file/,
    ],
    [
      'a missing key file',
      () => ({ c: a.cert }),
      /cannot read the TLS key file k \(ENOENT\); check --tls-key-file/,
    ],
    ['a cert that is not PEM', () => ({ c: Buffer.from('hello'), k: a.key }), /c is not a PEM certificate/],
    [
      'a key that is not PEM',
      () => ({ c: a.cert, k: Buffer.from('secret-ish bytes') }),
      /k is not an unencrypted PEM private key/,
    ],
    [
      'a key of another certificate',
      () => ({ c: a.cert, k: b.key }),
      /does not belong to the certificate in c.*replaced together/,
    ],
  ];
  for (const [name, files, message] of cases) {
    void it(`rejects ${name}`, () => {
      assert.throws(
        () => loadTlsPair('c', 'k', reader(files())),
        (error: unknown) => {
          assert.ok(error instanceof TlsLoadError);
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /PRIVATE KEY|secret-ish/);
          return true;
        },
      );
    });
  }

  void it('reloader: a change event re-reads after the debounce; equal files are "unchanged"; bad files are kept out', async () => {
    const files: Files = { '/certs/c': a.cert, '/certs/k': a.key };
    const applied: TlsPair[] = [];
    const results: string[] = [];
    const watched: string[] = [];
    const watcher = new EventEmitter() as unknown as FSWatcher & EventEmitter;
    let fire: () => void = () => {};
    watcher.close = () => {};
    const reloader = startCertificateReloader({
      certFile: '/certs/c',
      keyFile: '/certs/k',
      initial: loadTlsPair('/certs/c', '/certs/k', reader(files)),
      apply: (pair) => applied.push(pair),
      logger: silent,
      onResult: (result) => results.push(result),
      debounceMs: 5,
      pollIntervalMs: 0,
      readFile: reader(files),
      watch: (directory, listener) => {
        watched.push(directory);
        fire = listener;
        return watcher;
      },
    });
    try {
      assert.deepEqual(watched, ['/certs'], 'one watch on the shared directory');
      assert.equal(reloader.reload(), 'unchanged');
      files['/certs/c'] = b.cert;
      assert.equal(reloader.reload(), 'rejected', 'new cert with the old key');
      files['/certs/k'] = b.key;
      // Several events for one swap end in a single reload.
      fire();
      fire();
      fire();
      const deadline = Date.now() + 5000;
      while (applied.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(applied.length, 1);
      assert.ok(applied[0]?.cert.equals(b.cert));
      assert.ok(reloader.current().cert.equals(b.cert));
      assert.deepEqual(results, ['unchanged', 'rejected', 'loaded']);
    } finally {
      reloader.close();
    }
  });
});
