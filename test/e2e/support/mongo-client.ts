import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./mongo-client-child.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface MongoClientJob {
  /** `mongodb` (driver 7) or `mongodb6` (driver 6, the dev-dependency alias). */
  readonly driver: 'mongodb' | 'mongodb6';
  readonly uri: string;
  readonly database: string;
  readonly collection: string;
}

export type MongoClientOutcome =
  | { readonly ok: true; readonly ping: boolean; readonly documents: unknown[] }
  | {
      readonly ok: false;
      readonly errorName: string;
      readonly message: string;
      readonly code: number | undefined;
    };

/**
 * Env for a child that must find AWS credentials only where the test put them: no shared config files,
 * and no instance metadata lookups (which would leave the loopback interface).
 */
export function isolatedAwsEnv(extra: Readonly<Record<string, string>>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_CONFIG_FILE: '/nonexistent/token-broker-e2e/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/token-broker-e2e/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    ...extra,
  };
}

/** Runs `ping` + `find` with a real driver in a child process whose whole env is `env`. */
export async function runMongoClient(
  job: MongoClientJob,
  env: Record<string, string>,
): Promise<MongoClientOutcome> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: PROJECT_ROOT,
    env: { ...env, TOKEN_BROKER_E2E_JOB: JSON.stringify(job) },
    timeout: 20_000,
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as MongoClientOutcome;
}
