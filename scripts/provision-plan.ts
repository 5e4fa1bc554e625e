import type { DebianRequirement, Probe } from './test-requirements.ts';

/**
 * Pure decisions of the test provisioning: which requirements are missing, given what the machine has,
 * and what to do about it. The shell (scripts/provision.ts) probes the machine and carries the plan out.
 */

export interface HostFacts {
  readonly isRoot: boolean;
  readonly hasAptGet: boolean;
  readonly hasSudo: boolean;
  /** Whether apt has package lists at all (a fresh container has none until `apt-get update`). */
  readonly hasAptLists: boolean;
}

export type ProvisionPlan =
  | { readonly action: 'nothing' }
  | { readonly action: 'install'; readonly packages: readonly string[]; readonly updateFirst: boolean }
  | { readonly action: 'stop'; readonly message: string };

export function probeLabel(probe: Probe): string {
  return 'command' in probe ? `${probe.command} on PATH` : probe.file;
}

/** Requirements with at least one probe failing, each with its failing probes. */
export function missingRequirements(
  requirements: readonly DebianRequirement[],
  satisfied: (probe: Probe) => boolean,
): Array<{ requirement: DebianRequirement; failing: Probe[] }> {
  return requirements
    .map((requirement) => ({ requirement, failing: requirement.probes.filter((probe) => !satisfied(probe)) }))
    .filter(({ failing }) => failing.length > 0);
}

export function aptInstallCommand(packages: readonly string[], sudo: boolean): string {
  const prefix = sudo ? 'sudo ' : '';
  return `${prefix}apt-get update && ${prefix}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

export function provisionPlan(missing: readonly DebianRequirement[], host: HostFacts): ProvisionPlan {
  if (missing.length === 0) return { action: 'nothing' };
  const packages = missing.map((requirement) => requirement.package);
  if (host.isRoot && host.hasAptGet) return { action: 'install', packages, updateFirst: !host.hasAptLists };
  const needs = missing.map((requirement) => `${requirement.package} (${requirement.why})`).join('; ');
  const how = !host.hasAptGet
    ? `no apt-get here: install their equivalents (Debian/Ubuntu: ${aptInstallCommand(packages, false)})`
    : host.hasSudo
      ? `run: ${aptInstallCommand(packages, true)}`
      : `as root, run: ${aptInstallCommand(packages, false)}`;
  return { action: 'stop', message: `npm test needs missing Debian packages: ${needs}; ${how}` };
}

/** Expands a file probe's pattern (`*` = one path segment) against a directory listing; true if any exists. */
export function patternExists(
  pattern: string,
  fs: { exists(path: string): boolean; list(dir: string): readonly string[] },
): boolean {
  const segments = pattern.split('/').filter((segment) => segment !== '');
  let candidates = ['/'];
  for (const segment of segments) {
    const next: string[] = [];
    for (const dir of candidates) {
      const base = dir === '/' ? '' : dir;
      if (segment === '*') {
        for (const entry of fs.list(dir)) next.push(`${base}/${entry}`);
      } else {
        next.push(`${base}/${segment}`);
      }
    }
    candidates = next;
  }
  return candidates.some((path) => fs.exists(path));
}
