// The test provisioning (`npm test`'s pretest step): its pure decisions in tables, its shell run with a
// PATH that lacks the tools, and its requirement list kept equal to what tests, scripts, CI and the README
// say they need.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  aptInstallCommand,
  missingRequirements,
  patternExists,
  provisionPlan,
} from '../../scripts/provision-plan.ts';
import type { HostFacts, ProvisionPlan } from '../../scripts/provision-plan.ts';
import { TEST_REQUIREMENTS } from '../../scripts/test-requirements.ts';
import type { DebianRequirement, Probe } from '../../scripts/test-requirements.ts';
import { POOL_CHECK_CLASS_PATH } from '../e2e/support/pg-hikari.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

const requirement = (name: string): DebianRequirement => ({
  package: name,
  why: `${name} tests`,
  probes: [{ command: name }],
});
const PG = requirement('postgresql');
const PROM = requirement('prometheus');
const ROOT_WITH_APT: HostFacts = { isRoot: true, hasAptGet: true, hasSudo: false, hasAptLists: true };

describe('provisionPlan', () => {
  const cases: Array<[string, readonly DebianRequirement[], HostFacts, ProvisionPlan]> = [
    [
      'nothing missing: nothing to do, even without apt',
      [],
      { ...ROOT_WITH_APT, hasAptGet: false },
      { action: 'nothing' },
    ],
    [
      'root with apt and package lists: install the missing packages',
      [PG, PROM],
      ROOT_WITH_APT,
      { action: 'install', packages: ['postgresql', 'prometheus'], updateFirst: false },
    ],
    [
      'root with apt but no package lists (fresh container): apt-get update first',
      [PG],
      { ...ROOT_WITH_APT, hasAptLists: false },
      { action: 'install', packages: ['postgresql'], updateFirst: true },
    ],
    [
      'not root, sudo present: stop with the sudo command',
      [PG, PROM],
      { ...ROOT_WITH_APT, isRoot: false, hasSudo: true },
      {
        action: 'stop',
        message:
          'npm test needs missing Debian packages: postgresql (postgresql tests); prometheus (prometheus tests); ' +
          'run: sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql prometheus',
      },
    ],
    [
      'not root, no sudo: stop with the command to run as root',
      [PROM],
      { ...ROOT_WITH_APT, isRoot: false },
      {
        action: 'stop',
        message:
          'npm test needs missing Debian packages: prometheus (prometheus tests); ' +
          'as root, run: apt-get update && apt-get install -y --no-install-recommends prometheus',
      },
    ],
    [
      'root without apt-get: stop naming the Debian packages',
      [PG],
      { ...ROOT_WITH_APT, hasAptGet: false },
      {
        action: 'stop',
        message:
          'npm test needs missing Debian packages: postgresql (postgresql tests); no apt-get here: install their ' +
          'equivalents (Debian/Ubuntu: apt-get update && apt-get install -y --no-install-recommends postgresql)',
      },
    ],
  ];
  for (const [name, missing, host, expected] of cases) {
    it(name, () => assert.deepEqual(provisionPlan(missing, host), expected));
  }

  it('a stop message is one line', () => {
    const plan = provisionPlan(TEST_REQUIREMENTS, { ...ROOT_WITH_APT, isRoot: false });
    assert.equal(plan.action, 'stop');
    assert.doesNotMatch(plan.action === 'stop' ? plan.message : '', /\n/);
  });
});

describe('missingRequirements', () => {
  it('names each requirement with at least one failing probe, and only the failing probes', () => {
    const both: DebianRequirement = {
      package: 'postgresql',
      why: 'e2e',
      probes: [{ command: 'psql' }, { file: '/usr/lib/postgresql/*/bin/postgres' }],
    };
    const present = new Set(['psql', 'promtool']);
    const satisfied = (probe: Probe): boolean => 'command' in probe && present.has(probe.command);
    assert.deepEqual(
      missingRequirements([both, requirement('promtool'), requirement('openssl')], satisfied),
      [
        { requirement: both, failing: [{ file: '/usr/lib/postgresql/*/bin/postgres' }] },
        { requirement: requirement('openssl'), failing: [{ command: 'openssl' }] },
      ],
    );
  });
});

describe('patternExists', () => {
  const tree: Record<string, string[]> = {
    '/': ['usr'],
    '/usr': ['lib'],
    '/usr/lib': ['postgresql'],
    '/usr/lib/postgresql': ['13', '15'],
    '/usr/lib/postgresql/15': ['bin'],
    '/usr/lib/postgresql/15/bin': ['postgres', 'psql'],
    '/usr/lib/postgresql/13': ['lib'],
  };
  const files = new Set([
    '/usr/lib/postgresql/15/bin/postgres',
    '/usr/lib/postgresql/15/bin/psql',
    '/etc/hosts',
  ]);
  const fs = { exists: (path: string) => files.has(path), list: (dir: string) => tree[dir] ?? [] };
  const cases: Array<[string, boolean]> = [
    ['/usr/lib/postgresql/*/bin/postgres', true],
    ['/usr/lib/postgresql/*/bin/initdb', false],
    ['/usr/lib/mysql/*/bin/postgres', false],
    ['/etc/hosts', true],
    ['/etc/passwd', false],
  ];
  for (const [pattern, expected] of cases) {
    it(`${pattern} -> ${expected}`, () => assert.equal(patternExists(pattern, fs), expected));
  }
});

describe('the provisioning as npm test runs it', () => {
  it('npm test runs it first, and CI runs exactly npm test', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.pretest, 'tsx scripts/provision.ts');
    const commands = read('.ci/run')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    assert.equal(commands.at(-1), 'npm test');
    assert.ok(!commands.some((line) => /apt-get/.test(line)), '.ci/run installs packages itself again');
  });

  it('stops at once with one line naming the install command when the tools are not on PATH', () => {
    // --check never installs; PATH holds only Node, so every command probe fails.
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/provision.ts', '--check'], {
      cwd: ROOT,
      env: { PATH: dirname(process.execPath) },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /^provision: npm test needs missing Debian packages: .*prometheus \(/);
    assert.match(lines[0] ?? '', /apt-get install -y --no-install-recommends [a-z0-9 -]*prometheus/);
  });

  it('installs every package that a test, a script or the README names in an install hint', () => {
    const provided = new Set(TEST_REQUIREMENTS.map((r) => r.package));
    const sources = ['test', 'scripts', 'certs'].flatMap((dir) =>
      readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((name) => /\.(ts|sh)$/.test(name) && !name.includes('node_modules'))
        .map((name) => join(dir, name)),
    );
    const named = new Map<string, string>();
    for (const file of [...sources, 'README.md']) {
      for (const match of read(file).matchAll(
        /apt-get install((?:\s+-[-\w]+)*)((?:\s+[a-z0-9][a-z0-9.+-]+)+)/g,
      )) {
        for (const name of (match[2] ?? '').trim().split(/\s+/)) named.set(name, file);
      }
    }
    assert.ok(named.size >= 4, `only ${named.size} packages named in install hints: did the hints move?`);
    const missing = [...named].filter(([name]) => !provided.has(name));
    assert.deepEqual(missing, [], 'named in an install hint but not provisioned');
  });

  it('provisions java and every jar the HikariCP harness puts on its class path, and pgbench and socat for the bench', () => {
    const probes = TEST_REQUIREMENTS.flatMap((r) => r.probes);
    const files = new Set(probes.flatMap((probe) => ('file' in probe ? [probe.file] : [])));
    const commands = new Set(probes.flatMap((probe) => ('command' in probe ? [probe.command] : [])));
    assert.deepEqual(
      POOL_CHECK_CLASS_PATH.filter((jar) => !files.has(jar)),
      [],
      'on the class path but not probed',
    );
    assert.ok(commands.has('java'), 'the harness runs java');
    assert.ok(files.has('/usr/lib/postgresql/*/bin/pgbench'), 'npm run bench runs pgbench');
    assert.ok(commands.has('socat'), "npm run bench relays pgbench through socat for the proxy's floor");
  });

  it('the README names every package the tests need', () => {
    const readme = read('README.md');
    const tests = readme.slice(readme.indexOf('## Tests'));
    for (const { package: name } of TEST_REQUIREMENTS) assert.match(tests, new RegExp(`\`${name}\``), name);
    assert.match(aptInstallCommand(['a'], false), /^apt-get update && apt-get install/);
  });
});
