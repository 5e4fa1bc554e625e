/**
 * What a process costs, read from Linux /proc: CPU time (user + system) and memory, both as RSS
 * (which counts the file-backed pages of the node binary, shared between containers started from one
 * image layer) and as anonymous memory (RssAnon: what each process adds on its own).
 */
import { readFile } from 'node:fs/promises';
import { round } from './stats.ts';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** utime + stime of a process in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

export interface MemoryMiB {
  rss: number;
  anon: number;
}

export async function memoryMiB(pid: number): Promise<MemoryMiB> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
  return { rss: round(kib('VmRSS'), 3), anon: round(kib('RssAnon'), 3) };
}
