import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caBundleLoader } from '../../../sidecar/src/pg-proxy/ca-bundle.ts';
import { makeServerCertificate } from './support/certs.ts';

describe('caBundleLoader', () => {
  it('keeps the parsed bundle between rechecks and takes a renewed one after', async (tc) => {
    const [first, second] = await Promise.all([
      makeServerCertificate(['DNS:localhost']),
      makeServerCertificate(['DNS:localhost']),
    ]);
    tc.after(() => Promise.all([first.cleanup(), second.cleanup()]));
    let now = 0;
    let file = first.ca;
    const reads: number[] = [];
    const load = caBundleLoader(
      '/ca.pem',
      () => now,
      60_000,
      () => {
        reads.push(now);
        return Promise.resolve(file);
      },
    );
    const a = await load();
    assert.equal(await load(), a, 'parsed again within the recheck interval');
    now = 60_000;
    assert.equal(await load(), a, 'an unchanged file gives the same context');
    file = second.ca;
    now = 90_000;
    assert.equal(await load(), a, 'read again before the interval');
    now = 120_000;
    const b = await load();
    assert.notEqual(b, a);
    assert.deepEqual(reads, [0, 60_000, 120_000]);
  });

  it('fails when the file cannot be read, so the login says why', async () => {
    const load = caBundleLoader('/nonexistent/token-broker/ca.pem', () => 0);
    await assert.rejects(load(), /ENOENT/);
  });
});
