/**
 * CPU time of a process and of its children that have exited and been waited for, from Linux
 * /proc/<pid>/stat. A forking server's reaped children are its per-connection workers: PostgreSQL's
 * backends under the postmaster, socat's forks, and pgbench under the bench's own process.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

export interface ProcessCpu {
  /** utime + stime of the process itself, seconds. */
  own: number;
  /** cutime + cstime: its children that exited and were waited for, seconds. */
  reaped: number;
}

/** Fields 14-17 (utime, stime, cutime, cstime) of a /proc/<pid>/stat line. */
export function parseProcStat(text: string): ProcessCpu {
  // The command name is parenthesised and may hold spaces: count fields after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = fields.slice(11, 15).map(Number);
  if (ticks.length !== 4 || ticks.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`not a /proc/<pid>/stat line (no utime, stime, cutime, cstime): ${text.slice(0, 200)}`);
  }
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = ticks;
  return { own: (utime + stime) / USER_HZ, reaped: (cutime + cstime) / USER_HZ };
}

/** The CPU of `pid` ('self' for this process) and of its reaped children. */
export async function processCpu(pid: number | 'self'): Promise<ProcessCpu> {
  return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

/** The parent of a running process. */
export async function parentPid(pid: number): Promise<number> {
  return parseParentPid(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

/** The parent pid (field 4) of a /proc/<pid>/stat line. */
export function parseParentPid(text: string): number {
  const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
  if (!Number.isInteger(ppid) || ppid <= 0) throw new Error(`no parent pid in: ${text.slice(0, 200)}`);
  return ppid;
}

/**
 * Waits until the CPU reading of `read` stops moving (two equal readings `stepMs` apart, at most
 * `maxMs`): a worker that is still exiting has not been reaped, and its CPU is not counted yet.
 */
export async function settledCpu(read: () => Promise<number>, stepMs = 100, maxMs = 2_000): Promise<number> {
  let last = await read();
  for (let waited = 0; waited < maxMs; waited += stepMs) {
    await new Promise((resolve) => setTimeout(resolve, stepMs));
    const now = await read();
    if (now === last) return now;
    last = now;
  }
  return last;
}
