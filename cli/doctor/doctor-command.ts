/**
 * `token-broker doctor [--json]`: inside the sidecar container (same env as the sidecar), runs the
 * checks in order and prints each as PASS/FAIL/WARN/SKIP with the evidence and, for a failure, the
 * fix. Exit codes: 0 no FAIL, 1 any FAIL, 2 usage error or no sidecar config.
 */
import { parseSidecarConfig, SIDECAR_CONFIG_ENV, type SidecarConfig } from '../../contract/sidecar-config.ts';
import { kubectlExecLine } from '../kubectl-exec.ts';
import type { DoctorDeps, Env } from './doctor-deps.ts';
import { doctorChecks } from './doctor-checks.ts';
import { nodeDoctorDeps } from './node-deps.ts';
import { renderDoctorJson, renderDoctorText } from './render-doctor.ts';
import { doctorExitCode, runChecks } from './run-checks.ts';

export const DOCTOR_HELP = `Usage: token-broker doctor [--json]

Runs, inside the token-broker sidecar container and with its env, the checks one would run by hand
when a pod's database login fails, in this order:
  identity        the identity source the AWS SDK chain picks, and why (IRSA token claims and expiry,
                  EKS Pod Identity, static keys)
  sts             STS reachable; GetCallerIdentity; for Mongo targets the ARN to register the user for
  assume-role:*   each target's role assumed (with its ExternalId)
  rds-signing:*   an RDS IAM token signed for each RDS target (its length and expiry; never the token)
  database:*      each database host resolves and its port accepts TCP
  directory       the shared directory: writable, files owned by the app's UID with mode 0600
  clock-skew      this node's clock against STS's Date header (WARN over 60 s, FAIL over 5 min)
A check whose prerequisite failed is skipped. No secret is printed.

The image has no shell; from your terminal run:
  ${kubectlExecLine('doctor')}

Options:
  --json   print a machine-readable document (apiVersion token-broker.io/doctor/v1)

Exit codes: 0 no check failed, 1 a check failed, 2 usage error or no sidecar config.
`;

export interface DoctorIo {
  env: Env;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  now: () => number;
}

/** Tests replace parts of the real deps (a file system that refuses, a fixed UID). */
export type DepsOverride = (deps: DoctorDeps) => DoctorDeps;

function usage(io: DoctorIo, message: string): number {
  io.stderr.write(`token-broker doctor: ${message}\n\n${DOCTOR_HELP}`);
  return 2;
}

export async function runDoctor(
  argv: readonly string[],
  io: DoctorIo,
  override: DepsOverride = (d) => d,
): Promise<number> {
  let json = false;
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      io.stdout.write(DOCTOR_HELP);
      return 0;
    }
    if (arg === '--json') json = true;
    else return usage(io, `unknown argument "${arg}"`);
  }
  const raw = io.env[SIDECAR_CONFIG_ENV];
  if (raw === undefined) {
    return usage(
      io,
      `${SIDECAR_CONFIG_ENV} is not set: run the doctor in the sidecar container, where the webhook sets it: ${kubectlExecLine('doctor')}`,
    );
  }
  let config: SidecarConfig;
  try {
    config = parseSidecarConfig(raw);
  } catch (error) {
    return usage(io, error instanceof Error ? error.message : String(error));
  }
  const real = nodeDoctorDeps(io.env, config, io.now);
  try {
    const results = await runChecks(doctorChecks(config), override(real));
    const now = io.now();
    io.stdout.write(json ? renderDoctorJson(results, now) : renderDoctorText(results, now));
    return doctorExitCode(results);
  } finally {
    real.aws.close();
  }
}
