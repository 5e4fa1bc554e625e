/**
 * `npm test`'s first step (the `pretest` script): makes sure the machine has the Debian packages the tests
 * need (scripts/test-requirements.ts). As root with apt-get, it installs the missing ones (running
 * `apt-get update` first when apt has no package lists, or when the install fails on stale ones);
 * otherwise it stops at once with one line naming the exact command. `--check` only reports.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { missingRequirements, patternExists, probeLabel, provisionPlan } from './provision-plan.ts';
import type { HostFacts } from './provision-plan.ts';
import { TEST_REQUIREMENTS } from './test-requirements.ts';
import type { Probe } from './test-requirements.ts';

const APT_LISTS = '/var/lib/apt/lists';

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && isExecutableFile(join(dir, command)));
}

const fs = {
  exists: (path: string): boolean => {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  list: (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};

const satisfied = (probe: Probe): boolean =>
  'command' in probe ? onPath(probe.command) : patternExists(probe.file, fs);

function hostFacts(): HostFacts {
  return {
    isRoot: process.getuid?.() === 0,
    hasAptGet: onPath('apt-get'),
    hasSudo: onPath('sudo'),
    hasAptLists: fs.list(APT_LISTS).some((name) => name.includes('_Packages')),
  };
}

function apt(args: string[]): boolean {
  const result = spawnSync('apt-get', ['-qq', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
}

function main(): number {
  const checkOnly = process.argv.includes('--check');
  const missing = missingRequirements(TEST_REQUIREMENTS, satisfied);
  const plan = provisionPlan(
    missing.map(({ requirement }) => requirement),
    checkOnly ? { ...hostFacts(), isRoot: false } : hostFacts(),
  );
  if (plan.action === 'nothing') {
    console.log(`provision: all ${TEST_REQUIREMENTS.length} Debian packages the tests need are present`);
    return 0;
  }
  if (plan.action === 'stop') {
    console.error(`provision: ${plan.message}`);
    return 1;
  }
  console.log(`provision: installing Debian packages for the tests: ${plan.packages.join(' ')}`);
  const install = ['install', '-y', '--no-install-recommends', ...plan.packages];
  const installed =
    (plan.updateFirst ? apt(['update']) && apt(install) : apt(install)) ||
    // Stale package lists make a download fail: refresh them once and try again.
    (!plan.updateFirst && apt(['update']) && apt(install));
  const still = missingRequirements(TEST_REQUIREMENTS, satisfied);
  if (!installed || still.length > 0) {
    const detail = still
      .map(({ requirement, failing }) => `${requirement.package}: ${failing.map(probeLabel).join(', ')}`)
      .join('; ');
    console.error(
      `provision: apt-get install ${plan.packages.join(' ')} failed${detail ? `; still missing ${detail}` : ''}`,
    );
    return 1;
  }
  console.log('provision: done');
  return 0;
}

process.exitCode = main();
