import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/**
 * Runs a command the way a container with `readOnlyRootFilesystem: true`, a non-root `runAsUser` and one
 * writable volume runs it: in a private mount namespace (`unshare -m`) where every mount is remounted
 * read-only except the volume, and /run is a fresh tmpfs holding only the files given (the kubelet's
 * mounts under /var/run/secrets, for example), then as `uid:gid` with no supplementary groups and no
 * capabilities (`setpriv`). Needs root (CI runs as root); nothing changes outside the namespace.
 */

export interface SandboxOptions {
  /** The only directory the process may write (the pod's emptyDir volume). */
  readonly volume: string;
  /** A directory whose content becomes /run in the sandbox (read-only), or undefined for an empty /run. */
  readonly runDir?: string;
  readonly uid: number;
  readonly gid: number;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly argv: readonly string[];
}

/** Mount points left as the kernel has them (pseudo file systems, as in a container). */
const KERNEL_MOUNTS = /^\/(proc|dev)(\/|$)/;

const SCRIPT = `
set -eu
volume=$1 run_dir=$2 uid=$3 gid=$4
shift 4
mount --bind "$volume" "$volume"
# Mounts under /run (the host's netns, say) would be hidden by the fresh /run: drop them, deepest first.
awk '{ print $5 }' /proc/self/mountinfo | grep '^/run/' | sort -r | while read -r point; do umount -l "$point"; done
mount -t tmpfs -o mode=0755,size=4m tb-run /run
if [ -n "$run_dir" ]; then cp -R "$run_dir"/. /run/; fi
awk '{ print $5 }' /proc/self/mountinfo | while read -r point; do
  [ "$point" = "$volume" ] && continue
  if printf '%s\\n' "$point" | grep -Eq '${KERNEL_MOUNTS.source}' && [ "$point" != /dev/shm ]; then continue; fi
  mount -o remount,bind,ro "$point" || { echo "sandbox: cannot make $point read-only" >&2; exit 97; }
done
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"
`;

export function spawnSandboxed(options: SandboxOptions): ChildProcess {
  if (process.getuid?.() !== 0) {
    throw new Error('the read-only runtime test needs root for unshare -m and setpriv (CI runs as root)');
  }
  if (options.argv.length === 0) throw new Error('spawnSandboxed: argv is empty');
  return spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      SCRIPT,
      'sandbox',
      options.volume,
      options.runDir ?? '',
      String(options.uid),
      String(options.gid),
      ...options.argv,
    ],
    { cwd: options.cwd, env: { ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

export interface SandboxRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs to completion (or until `timeoutMs`, then SIGKILL). */
export async function runSandboxed(options: SandboxOptions, timeoutMs = 60_000): Promise<SandboxRun> {
  const child = spawnSandboxed(options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  clearTimeout(timer);
  await new Promise((resolve) => setImmediate(resolve));
  return { code, signal, stdout, stderr };
}
