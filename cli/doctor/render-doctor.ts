/** What `token-broker doctor` prints: a pure function of the results and the time. */
import { CHECK_STATUSES, type CheckResult } from './check-result.ts';
import { doctorExitCode } from './run-checks.ts';

export const DOCTOR_JSON_VERSION = 'token-broker.io/doctor/v1';

const INDENT = '      ';

export function renderDoctorText(results: readonly CheckResult[], now: number): string {
  const lines = [`token-broker doctor at ${new Date(now).toISOString()}`, ''];
  for (const r of results) {
    lines.push(`${r.status.padEnd(4)}  ${r.id}: ${r.summary}`);
    for (const d of r.details) lines.push(`${INDENT}${d}`);
    if (r.fix !== undefined) lines.push(`${INDENT}fix: ${r.fix}`);
  }
  const counts = CHECK_STATUSES.map((s) => `${results.filter((r) => r.status === s).length} ${s}`).join(', ');
  lines.push('', `${counts}: ${doctorExitCode(results) === 0 ? 'no failure' : 'FAILED'}`);
  return `${lines.join('\n')}\n`;
}

export function renderDoctorJson(results: readonly CheckResult[], now: number): string {
  const doc = {
    apiVersion: DOCTOR_JSON_VERSION,
    checkedAt: new Date(now).toISOString(),
    ok: doctorExitCode(results) === 0,
    checks: results.map((r) => ({
      id: r.id,
      status: r.status,
      summary: r.summary,
      details: r.details,
      fix: r.fix ?? null,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
