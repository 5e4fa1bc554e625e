/**
 * What a process costs, read from Linux /proc: CPU time (user + system) and memory, both as RSS
 * (which counts the file-backed pages of the node binary, shared between containers started from one
 * image layer) and as anonymous memory (RssAnon: what each process adds on its own).
 */
import { readFile } from 'node:fs/promises';
import { processCpu } from './process-cpu.ts';
import { round } from './stats.ts';

/** utime + stime of a process in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  return (await processCpu(pid)).own;
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
