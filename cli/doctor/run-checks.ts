/** Runs checks in order; one whose prerequisite did not pass is skipped, never run. */
import { skip, type CheckResult } from './check-result.ts';
import type { DoctorCheck } from './doctor-checks.ts';
import type { DoctorDeps, DoctorFindings } from './doctor-deps.ts';

const PASSED = new Set(['PASS', 'WARN']);

export async function runChecks(checks: readonly DoctorCheck[], deps: DoctorDeps): Promise<CheckResult[]> {
  const found: DoctorFindings = { targetCredentials: new Map() };
  const results: CheckResult[] = [];
  const byId = new Map<string, CheckResult>();
  for (const check of checks) {
    const blocked = check.needs.filter((id) => !PASSED.has(byId.get(id)?.status ?? 'SKIP'));
    let outcome;
    if (blocked.length > 0) {
      outcome = skip(`needs ${blocked.map((id) => `"${id}"`).join(' and ')} to pass first`);
    } else {
      try {
        outcome = await check.run(deps, found);
      } catch (error) {
        // A bug in a check must not hide the others' results.
        outcome = {
          status: 'FAIL' as const,
          summary: `the check itself failed: ${error instanceof Error ? error.name : 'error'}`,
          details: [],
          fix: 'report this with the output of token-broker doctor',
        };
      }
    }
    const result = { id: check.id, ...outcome };
    results.push(result);
    byId.set(check.id, result);
  }
  return results;
}

export function doctorExitCode(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'FAIL') ? 1 : 0;
}
