/** One doctor check's outcome: what a senior engineer would write down after running it by hand. */

export const CHECK_STATUSES = ['PASS', 'FAIL', 'WARN', 'SKIP'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface CheckOutcome {
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** Further lines of evidence (never a secret). */
  details: string[];
  /** For FAIL and WARN: what usually fixes it. */
  fix?: string;
}

export interface CheckResult extends CheckOutcome {
  /** Stable id for scripts: `identity`, `assume-role:<target>`, ... */
  id: string;
}

export const pass = (summary: string, details: string[] = []): CheckOutcome => ({
  status: 'PASS',
  summary,
  details,
});

export const fail = (summary: string, fix: string, details: string[] = []): CheckOutcome => ({
  status: 'FAIL',
  summary,
  details,
  fix,
});

export const warn = (summary: string, fix: string, details: string[] = []): CheckOutcome => ({
  status: 'WARN',
  summary,
  details,
  fix,
});

export const skip = (summary: string, details: string[] = []): CheckOutcome => ({
  status: 'SKIP',
  summary,
  details,
});
