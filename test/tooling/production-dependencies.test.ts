// The production dependency closure of the image's runtime tree, computed from package-lock.json.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  platformSpecific,
  productionPackages,
  resolutionCandidates,
} from '../e2e/support/production-dependencies.ts';
import type { PackageLock } from '../e2e/support/production-dependencies.ts';

describe('resolutionCandidates', () => {
  it('walks up from the dependent like Node', () => {
    assert.deepEqual(resolutionCandidates('node_modules/a/node_modules/b', 'c'), [
      'node_modules/a/node_modules/b/node_modules/c',
      'node_modules/a/node_modules/c',
      'node_modules/c',
    ]);
    assert.deepEqual(resolutionCandidates('', 'c'), ['node_modules/c']);
  });
});

describe('productionPackages', () => {
  const lock: PackageLock = {
    lockfileVersion: 3,
    packages: {
      '': {
        dependencies: { a: '^1' },
        optionalDependencies: { opt: '^1' },
      },
      'node_modules/a': {
        dependencies: { b: '^2', shared: '^1' },
        optionalDependencies: { 'a-linux-arm64': '1' },
      },
      'node_modules/a/node_modules/b': { dependencies: { shared: '^1' }, peerDependencies: { peer: '*' } },
      'node_modules/b': { dev: true },
      'node_modules/shared': {},
      'node_modules/peer': {},
      'node_modules/opt': { os: ['linux'] },
      'node_modules/devonly': { dev: true, dependencies: { shared: '^1' } },
    },
  };

  it('follows dependencies, optional ones and peers, nearest copy first, and never enters dev ones', () => {
    assert.deepEqual(productionPackages(lock), [
      'node_modules/a',
      'node_modules/a/node_modules/b',
      'node_modules/opt',
      'node_modules/peer',
      'node_modules/shared',
    ]);
  });

  it('skips an optional dependency that is not in the lock (another platform) and names a missing one', () => {
    const broken: PackageLock = {
      lockfileVersion: 3,
      packages: { '': { dependencies: { gone: '1' } } },
    };
    assert.throws(() => productionPackages(broken), /"gone" \(needed by "the root"\) is not resolvable/);
  });

  it('names the platform-specific packages', () => {
    assert.deepEqual(platformSpecific(lock, productionPackages(lock)), ['node_modules/opt']);
  });

  it("matches npm's own production marks on this project's lock", () => {
    const real = JSON.parse(
      readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'),
    ) as PackageLock;
    const marked = Object.entries(real.packages)
      .filter(([path, pkg]) => path !== '' && pkg.dev !== true)
      .map(([path]) => path)
      .sort();
    assert.deepEqual(productionPackages(real), marked);
  });
});
