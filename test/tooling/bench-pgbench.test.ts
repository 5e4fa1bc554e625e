// The pure parts of the pgbench section of `npm run bench` (bench/pgbench.ts): what it reads from
// pgbench's output and transaction log, on text pgbench 15 really prints.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTps, parseTransactionLog, parseTransactions } from '../../bench/pgbench.ts';

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
