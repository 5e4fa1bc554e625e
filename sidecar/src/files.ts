/**
 * Atomic file writes into the shared directory: write a temp file in the same directory, fsync it,
 * rename it over the target (atomic on one file system), then fsync the directory so the rename
 * survives a crash. A reader sees the old file or the new one, never a partial one. A failed write
 * removes its temp file; a crash between write and rename leaves one, which the next start removes
 * (removeStaleTempFiles): the volume is a 4 MiB emptyDir.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

export interface FileHandleLike {
  writeFile(data: string): Promise<void>;
  chmod(mode: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The file system operations the sidecar uses; tests pass failing or recording variants. */
export interface FileOps {
  open(path: string, flags: string, mode?: number): Promise<FileHandleLike>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
}

export const nodeFileOps: FileOps = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readFile: (path) => fsp.readFile(path, 'utf8'),
  readdir: (path) => fsp.readdir(path),
};

/** Owner read/write only: the sidecar runs as the app's UID, and libpq refuses a looser pgpass. */
export const SECRET_FILE_MODE = 0o600;

export class FileWriteError extends Error {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const code = (cause as { code?: unknown })?.code;
    super(
      `could not write ${path}${typeof code === 'string' ? ` (${code})` : ''}: the token-broker volume must be mounted writable for the sidecar's user`,
      { cause },
    );
    this.name = 'FileWriteError';
  }
}

let tempCounter = 0;
/**
 * Per process, so a restarted sidecar (often pid 1 again) never meets its predecessor's temp names.
 * Hex of a fixed length: TEMP_FILE_PATTERN recognises it.
 */
const RUN_ID = nodeRandomBytes(6).toString('hex');

/** `.<file>.<run id>.<n>.tmp`; the pid of earlier versions in place of the run id is matched too. */
export const TEMP_FILE_PATTERN = /^\.[a-z0-9][a-z0-9.-]*\.(?:[0-9a-f]{12}|\d{1,10})\.\d+\.tmp$/;

export function tempFileName(name: string): string {
  return `.${name}.${RUN_ID}.${++tempCounter}.tmp`;
}

/**
 * Removes temp files of our own naming that a crash between write and rename left behind. Only at
 * start, before this run writes anything: no other writer shares the directory (the legacy init
 * container has exited before the sidecar starts). Returns how many were removed; never throws.
 */
export async function removeStaleTempFiles(dir: string, ops: FileOps = nodeFileOps): Promise<number> {
  let names: string[];
  try {
    names = await ops.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names.filter((n) => TEMP_FILE_PATTERN.test(n))) {
    try {
      await ops.unlink(join(dir, name));
      removed++;
    } catch {
      // gone already, or not ours to remove: the next start tries again
    }
  }
  return removed;
}

export async function writeFileAtomic(
  dir: string,
  name: string,
  content: string,
  mode: number = SECRET_FILE_MODE,
  ops: FileOps = nodeFileOps,
): Promise<void> {
  const target = join(dir, name);
  const temp = join(dir, tempFileName(name));
  let handle: FileHandleLike | undefined;
  try {
    handle = await ops.open(temp, 'wx', mode);
    // open's mode is filtered by the umask: set it explicitly.
    await handle.chmod(mode);
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await ops.rename(temp, target);
  } catch (error) {
    if (handle) await handle.close().catch(() => undefined);
    await ops.unlink(temp).catch(() => undefined);
    throw new FileWriteError(target, error);
  }
  await syncDirectory(dir, ops);
}

async function syncDirectory(dir: string, ops: FileOps): Promise<void> {
  let handle: FileHandleLike | undefined;
  try {
    handle = await ops.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself already happened.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

const AUTH_TOKEN_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The API's authorization token: 32 random bytes in hex, written once. A token already in the
 * directory is kept (the legacy init container wrote it, or the sidecar restarted while the app runs
 * and holds it).
 */
export async function ensureAuthToken(
  dir: string,
  name: string,
  ops: FileOps = nodeFileOps,
  randomBytes: (size: number) => Buffer = nodeRandomBytes,
): Promise<string> {
  try {
    const existing = (await ops.readFile(join(dir, name))).trim();
    if (AUTH_TOKEN_PATTERN.test(existing)) return existing;
  } catch {
    // absent or unreadable: write a new one
  }
  const token = randomBytes(32).toString('hex');
  await writeFileAtomic(dir, name, token, SECRET_FILE_MODE, ops);
  return token;
}
