/**
 * pgbench select-only against a real PostgreSQL with TLS and the RDS-like IAM gate (test/e2e/support):
 * direct (verified TLS, a fresh RDS token as PGPASSWORD) and through the sidecar's loopback proxy (no
 * password, no TLS on loopback; the proxy does TLS and the IAM login upstream), in the same run, in
 * interleaved rounds whose order alternates. Reports each side's throughput per round and its
 * per-transaction latency (pgbench's own log), their ratio, and the sidecar's RSS before and with 100 open
 * proxied connections. The sidecar runs as injected for a pod with a proxied target (the bundle under
 * PROXY_SIDECAR_COMMAND's flags, when dist/sidecar.cjs is built); beside it, in the same rounds, the
 * bundle under the lite-mode command of pods without one, to show what that mode would cost the relay.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import { startLdapIamVerifier } from '../test/e2e/support/ldap-iam-verifier.ts';
import { LOOPBACK, freePort } from '../test/e2e/support/net.ts';
import { startProxySidecar, type ProxySidecar } from '../test/e2e/support/pg-proxy-sidecar.ts';
import { startPostgres } from '../test/e2e/support/postgres.ts';
import { startStsEmulator } from '../test/emulators/sts-emulator.ts';
import { SIDECAR_BUNDLE } from '../scripts/sidecar-bundle.ts';
import { PROXY_SIDECAR_COMMAND, SIDECAR_COMMAND } from '../webhook/src/sidecar-container.ts';
import { percentile, round, roundSummary, summarize, type Summary } from './stats.ts';

const run = promisify(execFile);
const REGION = 'eu-west-1';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/passwordless-rds-db';
/** The name in the server certificate and in the tokens; resolves to 127.0.0.1 here. */
const DB_HOST = 'localhost';
const USER = 'benchuser';
const DATABASE = 'benchdb';
const CLIENTS = 8;
const THREADS = 2;
const OPEN_CONNECTIONS = 100;

export interface PgbenchSide {
  /** Transactions per second, one sample per round (pgbench's figure without connection time). */
  tps: Summary;
  /** Per-transaction latency over every round, from pgbench's transaction log. */
  latencyMs: { median: number; p99: number; transactions: number };
}

/** The proxy run one way, against the direct rounds of the same run. */
export interface PgbenchProxied {
  /** How the sidecar ran: the injected command, lite mode, tsx, or the compiled dist. */
  sidecarRuntime: string;
  proxied: PgbenchSide;
  /** Median proxied tps / median direct tps. */
  throughputRatio: number;
  /** Proxied p99 latency minus direct p99 latency. */
  addedP99Ms: number;
  /** CPU time the sidecar spent per proxied transaction. */
  sidecarCpuUsPerTransaction: number;
}

export interface PgbenchBench {
  pgbench: string;
  server: string;
  /** How the sidecar ran: tsx, or the compiled dist. */
  sidecarRuntime: string;
  clients: number;
  threads: number;
  rounds: number;
  secondsPerRound: number;
  direct: PgbenchSide;
  proxied: PgbenchSide;
  /** Median proxied tps / median direct tps. */
  throughputRatio: number;
  /** Proxied p99 latency minus direct p99 latency. */
  addedP99Ms: number;
  /**
   * CPU time the sidecar spent per proxied transaction (relay both ways, TLS to the database), over the
   * proxied rounds: the proxy's cost on its own, whatever else competes for the CPUs.
   */
  sidecarCpuUsPerTransaction: number;
  sidecarRssMiB: { before: number; withOpenConnections: number; openConnections: number };
  /** Other ways of running the sidecar, in the same interleaved rounds (the lite-mode command); absent in older reports. */
  alternatives?: PgbenchProxied[];
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Node's arguments for the injected command (its V8 flags, this checkout's bundle). */
export function imageArgv(command: readonly string[], bundle: string): string[] {
  return [...command.slice(1, -1), bundle];
}

/** One way of running the sidecar: node's whole argv, or the CLI entry's args (before `sidecar`). */
export interface PgbenchSidecar {
  label: string;
  entryArgs?: string[];
  argv?: string[];
}

/** The injected command for a proxied pod first, then lite mode; the CLI entry when no bundle is built. */
export function pgbenchSidecars(entry: { label: string; args: string[] }): PgbenchSidecar[] {
  const bundle = join(ROOT, SIDECAR_BUNDLE);
  if (!existsSync(bundle)) return [{ label: entry.label, entryArgs: entry.args }];
  return [
    {
      label: `image command for a proxied pod (${PROXY_SIDECAR_COMMAND.slice(1, -1).join(' ')})`,
      argv: imageArgv(PROXY_SIDECAR_COMMAND, bundle),
    },
    {
      label: `image command in lite mode (${SIDECAR_COMMAND.slice(1, -1).join(' ')})`,
      argv: imageArgv(SIDECAR_COMMAND, bundle),
    },
  ];
}

interface RoundResult {
  tps: number;
  latenciesMs: number[];
  transactions: number;
  /** CPU seconds the sidecar used during the round. */
  sidecarCpuSeconds: number;
}

/** pgbench's "tps = N (without initial connection time)" line. */
export function parseTps(stdout: string): number {
  const match = /^tps = ([\d.]+) \(without initial connection time\)$/m.exec(stdout);
  if (match?.[1] === undefined) throw new Error(`pgbench printed no tps line:\n${stdout.slice(-1000)}`);
  return Number(match[1]);
}

/** pgbench's "number of transactions actually processed: N" line. */
export function parseTransactions(stdout: string): number {
  const match = /^number of transactions actually processed: (\d+)/m.exec(stdout);
  if (match?.[1] === undefined)
    throw new Error(`pgbench printed no transaction count:\n${stdout.slice(-1000)}`);
  return Number(match[1]);
}

/** Latencies (ms) from pgbench -l lines: `client_id transaction_no time_us script_no epoch epoch_us`. */
export function parseTransactionLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length >= 3) out.push(Number(fields[2]) / 1000);
  }
  return out;
}

export async function benchPgbench(options: {
  quick: boolean;
  entry: { label: string; args: string[] };
  /** The sidecars to compare, the first one the figures' own; pgbenchSidecars(entry) when omitted. */
  sidecars?: readonly PgbenchSidecar[];
  /** pgbench clients (default 8); 1 shows the latency-bound case. */
  clients?: number;
}): Promise<PgbenchBench> {
  const pgbenchClients = options.clients ?? CLIENTS;
  const threads = Math.min(THREADS, pgbenchClients);
  const rounds = options.quick ? 2 : 4;
  const seconds = options.quick ? 2 : 8;
  const dir = await mkdtemp(join(tmpdir(), 'tb-bench-pgbench-'));
  const cleanups: Array<() => Promise<unknown>> = [async () => rm(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const sts = await startStsEmulator({ region: REGION });
    cleanups.push(() => sts.close());
    const port = await freePort();
    const verifier = await startLdapIamVerifier({
      endpoint: { host: DB_HOST, port },
      region: REGION,
      lookup: sts.lookup,
    });
    cleanups.push(() => verifier.close());
    const server = await startPostgres({
      ldapPort: verifier.port,
      port,
      tls: { subjectAltNames: [`DNS:${DB_HOST}`] },
      maxConnections: OPEN_CONNECTIONS + pgbenchClients * 2 + 10,
      logins: [{ user: USER, database: DATABASE }],
    });
    cleanups.push(() => server.stop());
    const caFile = server.caFile as string;
    const pgbench = join(server.binDir, 'pgbench');
    const version = (await run(pgbench, ['--version'])).stdout.trim();

    // Tables made by the superuser over the unix socket; the IAM user only reads (select-only).
    await run(
      pgbench,
      ['-i', '-q', '-s', '1', '-h', server.socketDir, '-p', String(port), '-U', server.superuser, DATABASE],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      },
    );
    await server.adminSql(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${USER}`, DATABASE);

    const runs = options.sidecars ?? pgbenchSidecars(options.entry);
    const sidecars = [];
    for (const how of runs) {
      const started = await startProxySidecar({
        stsUrl: sts.url,
        region: REGION,
        roleArn: ROLE_ARN,
        targets: [{ name: 'bench', host: DB_HOST, port, database: DATABASE, user: USER }],
        caFile,
        ...(how.argv === undefined ? {} : { argv: how.argv }),
        ...(how.entryArgs === undefined ? {} : { entryArgs: how.entryArgs }),
      });
      cleanups.push(() => started.stop());
      sidecars.push(started);
    }
    const sidecar = sidecars[0];
    if (sidecar === undefined) throw new Error('pgbench: no sidecar to run');

    const credentials = sts.issueCredentials({ roleArn: ROLE_ARN, lifetimeSeconds: 3600 });
    const directEnv = async (): Promise<Record<string, string>> => ({
      PGHOST: DB_HOST,
      PGPORT: String(port),
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: caFile,
      PGPASSWORD: await new Signer({
        hostname: DB_HOST,
        port,
        username: USER,
        region: REGION,
        credentials,
      }).getAuthToken(),
    });
    // No PGPASSWORD and an empty pgpass: the proxy does the login.
    const proxiedEnv = (through: ProxySidecar) => ({
      PGHOST: LOOPBACK,
      PGPORT: String(through.proxyPort('bench')),
      PGSSLMODE: 'disable',
    });

    let roundsRun = 0;
    const pgbenchRound = async (
      side: Record<string, string>,
      secondsToRun: number,
      through: ProxySidecar = sidecar,
    ): Promise<RoundResult> => {
      const prefix = `run${(roundsRun += 1)}`;
      const cpuBefore = await through.cpuSeconds();
      const { stdout } = await run(
        pgbench,
        [
          '-S',
          '-n',
          '-c',
          String(pgbenchClients),
          '-j',
          String(threads),
          '-T',
          String(secondsToRun),
          '-l',
          '--sampling-rate=0.25',
          `--log-prefix=${prefix}`,
          '-U',
          USER,
          DATABASE,
        ],
        {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: '/dev/null', ...side },
        },
      );
      const sidecarCpuSeconds = (await through.cpuSeconds()) - cpuBefore;
      const latenciesMs: number[] = [];
      for (const name of (await readdir(dir)).filter((file) => file.startsWith(`${prefix}.`))) {
        latenciesMs.push(...parseTransactionLog(await readFile(join(dir, name), 'utf8')));
        await rm(join(dir, name));
      }
      return {
        tps: parseTps(stdout),
        latenciesMs,
        transactions: parseTransactions(stdout),
        sidecarCpuSeconds,
      };
    };

    // Warm-up (connections, caches, the JIT of the sidecar's relay), not counted; none in a smoke run.
    if (!options.quick) {
      await pgbenchRound(await directEnv(), 1);
      for (const through of sidecars) await pgbenchRound(proxiedEnv(through), 1, through);
    }
    const direct: RoundResult[] = [];
    const proxied: RoundResult[][] = sidecars.map(() => []);
    // Each round runs direct and every sidecar once; the order rotates from round to round.
    for (let r = 0; r < rounds; r += 1) {
      const order = [-1, ...sidecars.keys()];
      for (let k = 0; k < order.length; k += 1) {
        const which = order[(k + r) % order.length] ?? -1;
        const through = sidecars[which];
        if (through === undefined) direct.push(await pgbenchRound(await directEnv(), seconds));
        else proxied[which]?.push(await pgbenchRound(proxiedEnv(through), seconds, through));
      }
    }

    const before = await sidecar.rssMiB();
    const clients = await openThroughProxy(sidecar.proxyPort('bench'), OPEN_CONNECTIONS);
    let withOpen: number;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      withOpen = await sidecar.rssMiB();
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    }

    const directSide = side(direct);
    const versus = (label: string, results: readonly RoundResult[]): PgbenchProxied => {
      const proxiedSide = side(results);
      return {
        sidecarRuntime: label,
        proxied: proxiedSide,
        throughputRatio: round(proxiedSide.tps.median / directSide.tps.median, 3),
        addedP99Ms: round(proxiedSide.latencyMs.p99 - directSide.latencyMs.p99, 3),
        sidecarCpuUsPerTransaction: round(
          (results.reduce((sum, r) => sum + r.sidecarCpuSeconds, 0) * 1e6) /
            results.reduce((sum, r) => sum + r.transactions, 0),
          3,
        ),
      };
    };
    const [injected, ...alternatives] = runs.map((how, i) => versus(how.label, proxied[i] ?? []));
    if (injected === undefined) throw new Error('pgbench: no proxied rounds');
    return {
      pgbench: version,
      ...injected,
      server: `PostgreSQL ${server.binDir.split('/').at(-2) ?? '?'} on 127.0.0.1, TLS, logins by LDAP to the RDS token check`,
      clients: pgbenchClients,
      threads,
      rounds,
      secondsPerRound: seconds,
      direct: directSide,
      sidecarRssMiB: {
        before: round(before, 4),
        withOpenConnections: round(withOpen, 4),
        openConnections: OPEN_CONNECTIONS,
      },
      alternatives,
    };
  } finally {
    await cleanup();
  }
}

function side(results: readonly RoundResult[]): PgbenchSide {
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  return {
    tps: roundSummary(summarize(results.map((r) => r.tps))),
    latencyMs: {
      median: round(percentile(latencies, 50), 3),
      p99: round(percentile(latencies, 99), 3),
      transactions: latencies.length,
    },
  };
}

/** `count` node-postgres clients logged in through the proxy with no password, each having run a query. */
async function openThroughProxy(port: number, count: number): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  try {
    // Ten at a time: a pool of logins, not a thundering herd on one small machine.
    for (let i = 0; i < count; i += 10) {
      const batch = Array.from(
        { length: Math.min(10, count - i) },
        () => new pg.Client({ host: LOOPBACK, port, user: USER, database: DATABASE }),
      );
      clients.push(...batch);
      await Promise.all(
        batch.map(async (client) => {
          await client.connect();
          await client.query('select 1');
        }),
      );
    }
    return clients;
  } catch (error) {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    throw error;
  }
}
