// The pure parts of the pgbench section of `npm run bench` (bench/pgbench.ts): what it reads from
// pgbench's output and transaction log, on text pgbench 15 really prints; the CPU of each party from
// /proc; the order of the rounds; the report's rows and figures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { comparisons, figures } from '../../bench/figures.ts';
import { pgbenchRows, type Report } from '../../bench/markdown.ts';
import {
  cpuPerTransaction,
  parseTps,
  parseTransactionLog,
  parseTransactions,
  roundOrder,
  routeKey,
  type PgbenchBench,
  type PgbenchSide,
} from '../../bench/pgbench.ts';
import { parseParentPid, parseProcStat, settledCpu } from '../../bench/process-cpu.ts';
import { socatArgs } from '../../bench/socat-relay.ts';

const SUMMARY = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 56947
number of failed transactions: 0 (0.000%)
latency average = 0.275 ms
initial connection time = 41.385 ms
tps = 29038.605788 (without initial connection time)
`;

describe('parseTps', () => {
  it("reads pgbench's throughput without the initial connection time", () => {
    assert.equal(parseTps(SUMMARY), 29038.605788);
  });
  it('refuses output without a tps line, showing what pgbench printed', () => {
    assert.throws(
      () => parseTps('pgbench: error: connection to server failed\n'),
      /no tps line:\npgbench: error/,
    );
  });
});

describe('parseTransactions', () => {
  it('reads the number of transactions pgbench processed', () => {
    assert.equal(parseTransactions(SUMMARY), 56947);
  });
  it('refuses output without it', () => {
    assert.throws(
      () => parseTransactions('tps = 1 (without initial connection time)\n'),
      /no transaction count/,
    );
  });
});

describe('parseTransactionLog', () => {
  it('takes the third field (latency in microseconds) of each line, in milliseconds', () => {
    const log = '0 1 2217 0 1764583167 117455\n3 9 415 0 1764583167 118021\n';
    assert.deepEqual(parseTransactionLog(log), [2.217, 0.415]);
  });
  it('skips blank lines', () => {
    assert.deepEqual(parseTransactionLog('\n\n'), []);
  });
});

// A real /proc/<pid>/stat layout; the command name holds a space and a ')' as a process title may.
const STAT =
  '4242 (postgres: a) b) S 4100 4242 4242 0 -1 4194560 77132 190687277 0 8084 653 3254 754864 191747 ' +
  '20 0 1 0 25 45559808 3173 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0';

describe('parseProcStat', () => {
  it('reads utime + stime as its own CPU and cutime + cstime as its reaped children, in seconds', () => {
    assert.deepEqual(parseProcStat(STAT), { own: 39.07, reaped: 9466.11 });
  });
  it('counts fields after the last parenthesis, whatever the command name holds', () => {
    assert.equal(parseParentPid(STAT), 4100);
  });
  it('refuses a line that is not a stat line, showing it', () => {
    assert.throws(() => parseProcStat('4242 (x) S 1 2'), /not a \/proc\/<pid>\/stat line.*4242 \(x\)/);
  });
});

describe('settledCpu', () => {
  it('waits until two readings agree, so that exiting workers are counted once reaped', async () => {
    const readings = [1, 1.2, 1.25, 1.25, 9];
    let reads = 0;
    const value = await settledCpu(() => Promise.resolve(readings[reads++] ?? 9), 1, 1_000);
    assert.equal(value, 1.25);
    assert.equal(reads, 4);
  });
  it('gives the last reading when it never settles within the limit', async () => {
    let reads = 0;
    assert.equal(await settledCpu(() => Promise.resolve((reads += 1)), 1, 3), 4);
  });
});

describe('socatArgs', () => {
  it('listens on loopback only, forks per connection and relays to the database port', () => {
    assert.deepEqual(socatArgs(6000, 5432), [
      'TCP-LISTEN:6000,bind=127.0.0.1,fork,reuseaddr',
      'TCP:127.0.0.1:5432',
    ]);
  });
});

describe('roundOrder', () => {
  it('runs direct, socat and each sidecar, each once a round', () => {
    assert.deepEqual(roundOrder(2, 0).map(routeKey), ['direct', 'socat', 'sidecar0', 'sidecar1']);
  });
  it('rotates the order from round to round so that no path always goes first', () => {
    assert.deepEqual(roundOrder(1, 1).map(routeKey), ['socat', 'sidecar0', 'direct']);
    assert.deepEqual(roundOrder(1, 3).map(routeKey), ['direct', 'socat', 'sidecar0']);
  });
});

describe('cpuPerTransaction', () => {
  it("divides each party's CPU over the rounds by their transactions, in µs", () => {
    const round = (transactions: number, pgbench: number, postgres: number, relay: number) => ({
      tps: 1,
      latenciesMs: [],
      transactions,
      sidecarCpuSeconds: relay,
      cpuSeconds: { pgbench, postgres, relay },
    });
    assert.deepEqual(cpuPerTransaction([round(100_000, 1, 4, 2), round(100_000, 1, 2, 2)]), {
      pgbench: 10,
      postgres: 30,
      relay: 20,
      total: 60,
    });
  });
  it('is 0, not NaN, with no transactions', () => {
    assert.deepEqual(cpuPerTransaction([]), { pgbench: 0, postgres: 0, relay: 0, total: 0 });
  });
});

const pgSide = (tps: number, p99: number, relay = 0): PgbenchSide => ({
  tps: { n: 4, median: tps, p95: tps, p99: tps, min: tps - 100, max: tps },
  latencyMs: { median: 0.25, p99, transactions: 1000 },
  cpuUsPerTransaction: { pgbench: 20, postgres: 60, relay, total: 80 + relay },
});
const versus = (label: string, side: PgbenchSide, base: PgbenchSide) => ({
  label,
  side,
  throughputRatio: side.tps.median / base.tps.median,
  addedP99Ms: side.latencyMs.p99 - base.latencyMs.p99,
});
const DIRECT = pgSide(20_000, 0.5);
const PGBENCH: PgbenchBench = {
  pgbench: 'pgbench (PostgreSQL) 15',
  server: 'PostgreSQL 15',
  sidecarRuntime: 'image command',
  clients: 8,
  threads: 2,
  rounds: 4,
  secondsPerRound: 8,
  direct: DIRECT,
  proxied: pgSide(12_000, 1.1, 36),
  throughputRatio: 0.6,
  addedP99Ms: 0.6,
  sidecarCpuUsPerTransaction: 36,
  sidecarRssMiB: { before: 80, withOpenConnections: 84, openConnections: 100 },
  alternatives: [],
  socat: versus('socat', pgSide(13_000, 0.9, 38), DIRECT),
};

describe('pgbenchRows', () => {
  it('shows every route with its ratio to the direct run, and its CPU per party', () => {
    const rows = pgbenchRows(PGBENCH);
    assert.deepEqual(
      rows.map((row) => [row[0], row[2]]),
      [
        ['direct: verified TLS, RDS token as password', '1.00x'],
        ['floor: socat relay, the same TLS end to end', '0.65x'],
        ['proxy: 127.0.0.1, no password, no token code', '0.60x'],
      ],
    );
    assert.equal(rows[1]?.[4], '20 / 60 / 38 = 118');
  });
  it('leaves out the floor of an older report', () => {
    const older: PgbenchBench = { ...PGBENCH };
    delete older.socat;
    assert.equal(pgbenchRows(older).length, 2);
  });
});

describe('pgbench figures', () => {
  it('puts the proxy and the socat floor beside the direct run under stable keys', () => {
    const flat = figures(comparisons({ pgbench: PGBENCH } as Report));
    assert.equal(flat['pgbench.direct.tps'], 20_000);
    assert.equal(flat['ratio.pgbench.proxy.tps'], 0.6);
    assert.equal(flat['ratio.pgbench.socat.tps'], 0.65);
    assert.equal(flat['pgbench.socat.relayCpuUsPerTransaction'], 38);
    assert.equal(flat['ratio.pgbench.proxy.relayCpuUsPerTransaction'], 0.947);
    assert.equal(flat['pgbench.proxy.rssMiB.openConnections'], 84);
  });
  it('judges the proxy against the goal of issue 13, >= 0.9x direct', () => {
    const proxy = comparisons({ pgbench: PGBENCH } as Report).find((c) => c.key === 'pgbench.proxy.tps');
    assert.deepEqual(proxy?.goal, { text: '>= 0.9x', met: false });
  });
});
