/**
 * Reading back what a previous run of the sidecar published. A native sidecar restarts in place and
 * the emptyDir survives, so its files are still there: adopting each still-valid one as the target's
 * last-known-good keeps it served (API, /readyz) and keeps its pgpass line, even if STS fails right
 * at the restart. A file is adopted only when it is for this very target and its validity can be
 * established (RDS token: X-Amz-Date + X-Amz-Expires, bounded by the expiry recorded beside it in
 * `<name>.token.meta.json`, which includes its credentials' end and the clock offset to AWS;
 * credentials.json: Expiration); anything else is ignored and replaced by the next refresh. A token
 * without a record of its own is not adopted: the credentials that signed it may already be over.
 * Files derived from a value (pgpass, `.uri`, `.my.cnf`) are never read back: the publisher renders
 * them again from the adopted value (FilePublisher.restore).
 */
import { join } from 'node:path';
import { FILES, type SidecarConfig, type Target } from '../../contract/sidecar-config.ts';
import { parseCredentialsJson } from './credentials-json.ts';
import type { FileOps } from './files.ts';
import { makeMongoCredentials } from './mongo-credentials.ts';
import type { TargetValue } from './publisher.ts';
import { rdsTokenValidUntil } from './rds-token.ts';
import { tokenMetaExpiry, tokenMetaFileName } from './token-meta.ts';

export type RestoreSkipReason = 'absent' | 'unrecognized' | 'unbounded' | 'expired';

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
    const validUntil = rdsTokenValidUntil(target, text);
    if (validUntil === undefined) return { target, skipped: 'unrecognized' };
    if (validUntil <= now) return { target, skipped: 'expired' };
    const metaText = await readOrUndefined(ops, join(dir, tokenMetaFileName(target.name)));
    const recorded = tokenMetaExpiry(metaText, text);
    if (recorded === undefined) return { target, skipped: 'unbounded' };
    const expiresAt = Math.min(validUntil, recorded);
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
