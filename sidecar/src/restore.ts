/**
 * Reading back what a previous run of the sidecar published. A native sidecar restarts in place and
 * the emptyDir survives, so its files are still there: adopting each still-valid one as the target's
 * last-known-good keeps it served (API, /readyz) and keeps its pgpass line, even if STS fails right
 * at the restart. A file is adopted only when it is for this very target and its validity can be
 * established from its own content (RDS token: X-Amz-Date + X-Amz-Expires; credentials.json:
 * Expiration); anything else is ignored and replaced by the next refresh.
 */
import { join } from 'node:path';
import { FILES, type SidecarConfig, type Target } from '../../contract/sidecar-config.ts';
import { parseCredentialsJson } from './credentials-json.ts';
import type { FileOps } from './files.ts';
import { makeMongoCredentials } from './mongo-credentials.ts';
import type { TargetValue } from './publisher.ts';
import { rdsTokenValidUntil } from './rds-token.ts';

export type RestoreSkipReason = 'absent' | 'unrecognized' | 'expired';

export type RestoreOutcome =
  { target: Target; value: TargetValue } | { target: Target; skipped: RestoreSkipReason };

async function readOrUndefined(ops: FileOps, path: string): Promise<string | undefined> {
  try {
    return await ops.readFile(path);
  } catch {
    return undefined;
  }
}

async function restoreOne(dir: string, target: Target, now: number, ops: FileOps): Promise<RestoreOutcome> {
  if (target.kind === 'rds') {
    const text = await readOrUndefined(ops, join(dir, FILES.rdsToken(target.name)));
    if (text === undefined) return { target, skipped: 'absent' };
    const expiresAt = rdsTokenValidUntil(target, text);
    if (expiresAt === undefined) return { target, skipped: 'unrecognized' };
    if (expiresAt <= now) return { target, skipped: 'expired' };
    return { target, value: { kind: 'rds', token: text, expiresAt } };
  }
  const text = await readOrUndefined(ops, join(dir, FILES.credentialsJson(target.name)));
  if (text === undefined) return { target, skipped: 'absent' };
  const credentials = parseCredentialsJson(text);
  if (credentials === undefined) return { target, skipped: 'unrecognized' };
  if (credentials.expiresAt <= now) return { target, skipped: 'expired' };
  return { target, value: makeMongoCredentials(credentials) };
}

/** One outcome per target, in the config's order. Never throws: an unreadable file is 'absent'. */
export function readPreviousValues(
  config: SidecarConfig,
  now: number,
  ops: FileOps,
): Promise<RestoreOutcome[]> {
  return Promise.all(config.targets.map((t) => restoreOne(config.directory, t, now, ops)));
}
