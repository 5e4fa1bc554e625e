/**
 * pgbench select-only against a real PostgreSQL with TLS and the RDS-like IAM gate (test/e2e/support):
 * direct (verified TLS, a fresh RDS token as PGPASSWORD) and through the sidecar's loopback proxy (no
 * password, no TLS on loopback; the proxy does TLS and the IAM login upstream), in the same run, in
 * interleaved rounds whose order alternates. Reports each side's throughput per round and its
 * per-transaction latency (pgbench's own log), their ratio, and the sidecar's RSS before and with 100 open
 * proxied connections. The sidecar runs as injected for a pod with a proxied target (the bundle under
 * PROXY_SIDECAR_COMMAND's flags, when dist/sidecar.cjs is built); beside it, in the same rounds, the
 * bundle under the lite-mode command of pods without one, to show what that mode would cost the relay.
 * The floor takes its turn in the same rounds: pgbench with its own TLS and token through socat, a C
 * relay with no logic. Each party's CPU per transaction comes from /proc (pgbench, the backends, the relay).
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
import { PROXY_SIDECAR_COMMAND, SIDECAR_COMMAND } from '../webhook/src/injection/sidecar-container.ts';
import { parentPid, processCpu, settledCpu } from './process-cpu.ts';
import { startSocatRelay } from './socat-relay.ts';
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
  /**
   * CPU µs per transaction of each party over the rounds (/proc: pgbench as this process's reaped
   * child, the backends as the postmaster's, the relay's process and its forks); absent in older reports.
   */
  cpuUsPerTransaction?: PartyCpu;
}

/** CPU of each party of a route; `relay` is 0 when there is none (direct). */
export interface PartyCpu {
  pgbench: number;
  postgres: number;
  relay: number;
  total: number;
}

/** A route other than the proxy, against direct in the same rounds. */
export interface PgbenchVersusDirect {
  label: string;
  side: PgbenchSide;
  /** Median tps / median direct tps. */
  throughputRatio: number;
  /** p99 latency minus direct p99 latency. */
  addedP99Ms: number;
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
  /** The floor: the same TLS client through socat, a C relay with no logic; absent in older reports. */
  socat?: PgbenchVersusDirect;
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
  /** CPU seconds of each party during the round. */
  cpuSeconds: Omit<PartyCpu, 'total'>;
}

/** One way from pgbench to the database: direct, through socat, or through a sidecar (by index). */
export type Route = { kind: 'direct' } | { kind: 'socat' } | { kind: 'sidecar'; index: number };

/**
 * What one round runs, in order: direct, socat, then each sidecar; rotated by `round` so that no route
 * always runs first.
 */
export function roundOrder(sidecarCount: number, round: number): Route[] {
  const all: Route[] = [
    { kind: 'direct' },
    { kind: 'socat' },
    ...Array.from({ length: sidecarCount }, (_, index) => ({ kind: 'sidecar' as const, index })),
  ];
  const shift = round % all.length;
  return [...all.slice(shift), ...all.slice(0, shift)];
}

/** The key of a route's results (e.g. `sidecar1`). */
export function routeKey(route: Route): string {
  return route.kind === 'sidecar' ? `sidecar${route.index}` : route.kind;
}

/** CPU µs per transaction of each party over a route's rounds. */
export function cpuPerTransaction(results: readonly RoundResult[]): PartyCpu {
  const transactions = results.reduce((sum, r) => sum + r.transactions, 0);
  const us = (take: (r: RoundResult) => number) =>
    transactions === 0 ? 0 : round((results.reduce((sum, r) => sum + take(r), 0) * 1e6) / transactions, 3);
  const pgbench = us((r) => r.cpuSeconds.pgbench);
  const postgres = us((r) => r.cpuSeconds.postgres);
  const relay = us((r) => r.cpuSeconds.relay);
  return {
    pgbench,
    postgres,
    relay,
    total: us((r) => r.cpuSeconds.pgbench + r.cpuSeconds.postgres + r.cpuSeconds.relay),
  };
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
    const sidecars: ProxySidecar[] = [];
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

    const socat = await startSocatRelay(port);
    cleanups.push(() => socat.stop());
    // The postmaster is the checkpointer's parent; the backends are the postmaster's reaped children.
    const checkpointer = Number(
      await server.adminSql(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`),
    );
    const postmaster = await parentPid(checkpointer);

    const credentials = sts.issueCredentials({ roleArn: ROLE_ARN, lifetimeSeconds: 3600 });
    // A token signed for the database's own endpoint, whichever port the client dials.
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
    const envOf = async (route: Route): Promise<Record<string, string>> => {
      if (route.kind === 'direct') return directEnv();
      // The client's TLS end to end through socat: the certificate is still checked for DB_HOST.
      if (route.kind === 'socat')
        return { ...(await directEnv()), PGHOSTADDR: LOOPBACK, PGPORT: String(socat.port) };
      return proxiedEnv(sidecarAt(route.index));
    };
    const sidecarAt = (index: number): ProxySidecar => {
      const found = sidecars[index];
      if (found === undefined) throw new Error(`pgbench: no sidecar ${index}`);
      return found;
    };
    const relayPid = (route: Route): number | undefined =>
      route.kind === 'socat' ? socat.pid : route.kind === 'sidecar' ? sidecarAt(route.index).pid : undefined;
    /** Every party's CPU so far; the backends and socat's forks only once reaped. */
    const partyCpu = async (route: Route) => {
      const relay = relayPid(route);
      const postgres = await processCpu(postmaster);
      const relayCpu = relay === undefined ? 0 : await processCpu(relay).then((c) => c.own + c.reaped);
      return {
        pgbench: (await processCpu('self')).reaped,
        postgres: postgres.own + postgres.reaped,
        relay: relayCpu,
      };
    };
    const settledPartyCpu = async (route: Route) => {
      await settledCpu(async () => {
        const cpu = await partyCpu(route);
        return cpu.postgres + cpu.relay;
      });
      return partyCpu(route);
    };

    let roundsRun = 0;
    const pgbenchRound = async (route: Route, secondsToRun: number): Promise<RoundResult> => {
      const prefix = `run${(roundsRun += 1)}`;
      const through = route.kind === 'sidecar' ? sidecarAt(route.index) : sidecar;
      const env = await envOf(route);
      const cpuBefore = await settledPartyCpu(route);
      const sidecarBefore = await through.cpuSeconds();
      const args = [
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
      ];
      const { stdout } = await run(pgbench, args, {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: '/dev/null', ...env },
      });
      const sidecarCpuSeconds = (await through.cpuSeconds()) - sidecarBefore;
      const cpuAfter = await settledPartyCpu(route);
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
        cpuSeconds: {
          pgbench: cpuAfter.pgbench - cpuBefore.pgbench,
          postgres: cpuAfter.postgres - cpuBefore.postgres,
          relay: cpuAfter.relay - cpuBefore.relay,
        },
      };
    };

    // Warm-up (connections, caches, the JIT of the sidecar's relay), not counted; none in a smoke run.
    if (!options.quick) {
      for (const route of roundOrder(sidecars.length, 0)) await pgbenchRound(route, 1);
    }
    const results = new Map<string, RoundResult[]>();
    for (let r = 0; r < rounds; r += 1) {
      for (const route of roundOrder(sidecars.length, r)) {
        const list = results.get(routeKey(route)) ?? [];
        list.push(await pgbenchRound(route, seconds));
        results.set(routeKey(route), list);
      }
    }
    const resultsOf = (route: Route): RoundResult[] => results.get(routeKey(route)) ?? [];
    const direct = resultsOf({ kind: 'direct' });
    const proxied = sidecars.map((_, index) => resultsOf({ kind: 'sidecar', index }));

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
    const against = (label: string, base: PgbenchSide, list: readonly RoundResult[]): PgbenchVersusDirect => {
      const other = side(list);
      return {
        label,
        side: other,
        throughputRatio: round(other.tps.median / base.tps.median, 3),
        addedP99Ms: round(other.latencyMs.p99 - base.latencyMs.p99, 3),
      };
    };
    const socatLabel = `socat, a C relay forking per connection, pgbench's TLS end to end (${socat.command})`;
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
      socat: against(socatLabel, directSide, resultsOf({ kind: 'socat' })),
    };
  } finally {
    await cleanup();
  }
}

function side(results: readonly RoundResult[]): PgbenchSide {
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  return {
    cpuUsPerTransaction: cpuPerTransaction(results),
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
