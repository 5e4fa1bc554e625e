/**
 * The doctor's checks in the order a senior engineer runs them by hand, each naming the checks it
 * needs: a check whose prerequisite failed or was skipped is skipped, with the reason.
 */
import type { SidecarConfig } from '../../contract/sidecar-config.ts';
import type { CheckOutcome } from './check-result.ts';
import { checkAssumeRole } from './check-assume-role.ts';
import { checkClockSkew } from './check-clock-skew.ts';
import { checkDatabase } from './check-database.ts';
import { checkDirectory } from './check-directory.ts';
import { checkIdentity } from './check-identity.ts';
import { checkRdsSigning } from './check-rds-signing.ts';
import { checkSts } from './check-sts.ts';
import type { DoctorDeps, DoctorFindings } from './doctor-deps.ts';

export interface DoctorCheck {
  id: string;
  /** Ids of the checks that must PASS or WARN before this one runs. */
  needs: string[];
  run(deps: DoctorDeps, found: DoctorFindings): Promise<CheckOutcome>;
}

export function doctorChecks(config: SidecarConfig): DoctorCheck[] {
  const { targets } = config;
  return [
    { id: 'identity', needs: [], run: checkIdentity },
    { id: 'sts', needs: ['identity'], run: checkSts },
    ...targets.map((t) => ({
      id: `assume-role:${t.name}`,
      needs: ['sts'],
      run: (deps: DoctorDeps, found: DoctorFindings) => checkAssumeRole(deps, found, t),
    })),
    ...targets.flatMap((t) =>
      t.kind === 'rds'
        ? [
            {
              id: `rds-signing:${t.name}`,
              needs: t.roleArn === undefined ? ['sts'] : ['sts', `assume-role:${t.name}`],
              run: (deps: DoctorDeps, found: DoctorFindings) => checkRdsSigning(deps, found, t),
            },
          ]
        : [],
    ),
    ...targets.map((t) => ({
      id: `database:${t.name}`,
      needs: [],
      run: (deps: DoctorDeps) => checkDatabase(deps, t),
    })),
    { id: 'directory', needs: [], run: (deps: DoctorDeps) => checkDirectory(deps) },
    { id: 'clock-skew', needs: [], run: (deps: DoctorDeps) => checkClockSkew(deps) },
  ];
}
