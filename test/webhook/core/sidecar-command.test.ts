/** Which command the injected sidecar runs: lite mode unless the pod has a proxied target. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MongoTarget, RdsTarget, Target } from '../../../contract/sidecar-config.ts';
import {
  PROXY_SIDECAR_COMMAND,
  SIDECAR_COMMAND,
  sidecarCommand,
} from '../../../webhook/src/injection/sidecar-container.ts';

const postgres: RdsTarget = {
  kind: 'rds',
  name: 'orders',
  region: 'eu-west-1',
  engine: 'postgres',
  host: 'orders.cluster-x.eu-west-1.rds.amazonaws.com',
  port: 5432,
  database: 'orders',
  user: 'orders_app',
};
const proxied: RdsTarget = {
  ...postgres,
  name: 'orders-proxied',
  proxy: { port: 6432, caFile: '/etc/token-broker/rds-ca/global-bundle.pem' },
};
const mysql: RdsTarget = { ...postgres, name: 'ledger', engine: 'mysql', port: 3306 };
const mongo: MongoTarget = {
  kind: 'mongo',
  name: 'events',
  region: 'eu-west-1',
  scheme: 'mongodb+srv',
  hosts: ['events.abcde.mongodb.net'],
  database: 'events',
  options: {},
};

describe('sidecarCommand', () => {
  const cases: [string, Target[], readonly string[]][] = [
    ['one postgres target without a proxy', [postgres], SIDECAR_COMMAND],
    ['mysql and mongo targets', [mysql, mongo], SIDECAR_COMMAND],
    ['one proxied postgres target', [proxied], PROXY_SIDECAR_COMMAND],
    ['a proxied target among others', [mongo, postgres, proxied, mysql], PROXY_SIDECAR_COMMAND],
  ];
  for (const [name, targets, expected] of cases) {
    it(`${name}: ${expected.join(' ')}`, () => {
      assert.deepEqual(sidecarCommand({ targets }), expected);
    });
  }

  it('runs the same node and bundle either way; only the proxied one drops --lite-mode', () => {
    assert.deepEqual(SIDECAR_COMMAND, [
      '/nodejs/bin/node',
      '--lite-mode',
      '--no-expose-wasm',
      '/app/dist/sidecar.cjs',
    ]);
    assert.deepEqual(PROXY_SIDECAR_COMMAND, [
      '/nodejs/bin/node',
      '--no-expose-wasm',
      '/app/dist/sidecar.cjs',
    ]);
  });
});
