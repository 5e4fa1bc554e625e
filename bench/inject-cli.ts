/**
 * Wall time of the offline `token-broker inject -f <example>` as a new process each time (cold start:
 * Node boot, module loading, YAML, mutation, output), from spawn to exit.
 */
import { spawn } from 'node:child_process';
import { msSince, roundSummary, summarize, type Summary } from './stats.ts';

export interface InjectCliCase {
  runtime: string;
  example: string;
  runs: number;
  warmup: number;
  outputBytes: number;
  wallMs: Summary;
}

function runOnce(
  root: string,
  args: string[],
): Promise<{ ms: number; code: number | null; out: number; err: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = 0;
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.length));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: msSince(started), code, out, err }));
  });
}

export async function benchInjectCli(
  root: string,
  entries: readonly { label: string; args: string[] }[],
  examples: readonly string[],
  runs = 7,
  warmup = 1,
): Promise<InjectCliCase[]> {
  const out: InjectCliCase[] = [];
  for (const entry of entries) {
    for (const example of examples) {
      const args = [...entry.args, 'inject', '-f', example];
      const times: number[] = [];
      let outputBytes = 0;
      for (let i = 0; i < warmup + runs; i++) {
        const r = await runOnce(root, args);
        if (r.code !== 0) throw new Error(`node ${args.join(' ')} exited ${String(r.code)}: ${r.err}`);
        outputBytes = r.out;
        if (i >= warmup) times.push(r.ms);
      }
      out.push({
        runtime: entry.label,
        example,
        runs,
        warmup,
        outputBytes,
        wallMs: roundSummary(summarize(times)),
      });
    }
  }
  return out;
}
