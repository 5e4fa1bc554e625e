/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access -- the cases below build deliberately ill-typed JSON */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseSidecarConfig,
  serializeSidecarConfig,
  SidecarConfigError,
} from '../../contract/sidecar-config.ts';
import { rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';

const CA = '/etc/token-broker/rds-ca/global-bundle.pem';

function proxiedConfig(): Record<string, any> {
  const config = sidecarConfig({
    targets: [
      rdsTarget({ name: 'orders', proxy: { port: 6432, caFile: CA } }),
      rdsTarget({ name: 'reports', proxy: { port: 6433, caFile: CA } }),
      rdsTarget({ name: 'billing', engine: 'mysql', port: 3306 }),
    ],
  });
  return JSON.parse(serializeSidecarConfig(config)) as Record<string, any>;
}

function parseEdited(edit: (raw: Record<string, any>) => void) {
  const raw = proxiedConfig();
  edit(raw);
  return parseSidecarConfig(JSON.stringify(raw));
}

describe('the proxy in the sidecar config contract', () => {
  it('round-trips a target with a proxy, and one without', () => {
    const parsed = parseEdited(() => undefined);
    const [orders, , billing] = parsed.targets;
    assert.deepEqual(orders?.kind === 'rds' && orders.proxy, { port: 6432, caFile: CA });
    assert.equal(billing?.kind === 'rds' && 'proxy' in billing, false);
    assert.equal(serializeSidecarConfig(parsed), JSON.stringify(proxiedConfig()));
  });

  const bad: [string, (raw: Record<string, any>) => void, string, RegExp][] = [
    ['a proxy that is not an object', (r) => (r.targets[0].proxy = 6432), 'targets[0].proxy', /object/],
    [
      'a proxy without a port',
      (r) => {
        delete r.targets[0].proxy.port;
      },
      'targets[0].proxy.port',
      /port/,
    ],
    ['a privileged port', (r) => (r.targets[0].proxy.port = 80), 'targets[0].proxy.port', /1024 to 65535/],
    [
      'a relative CA file',
      (r) => (r.targets[0].proxy.caFile = 'ca.pem'),
      'targets[0].proxy.caFile',
      /absolute/,
    ],
    [
      'a CA path with a line break',
      (r) => (r.targets[0].proxy.caFile = '/etc/ca\n.pem'),
      'targets[0].proxy.caFile',
      /contains/,
    ],
    [
      'a proxy on a mysql target',
      (r) => (r.targets[2].proxy = { port: 6434, caFile: CA }),
      'targets[2].proxy',
      /PostgreSQL only/,
    ],
    [
      "the sidecar's own API port (9901)",
      (r) => (r.targets[0].proxy.port = 9901),
      'targets[0].proxy.port',
      /listen\.apiPort/,
    ],
    [
      "another target's proxy port",
      (r) => (r.targets[1].proxy.port = 6432),
      'targets[1].proxy.port',
      /proxy port of target "orders"/,
    ],
  ];
  for (const [label, edit, field, message] of bad) {
    it(`rejects ${label}, naming ${field}`, () => {
      assert.throws(
        () => parseEdited(edit),
        (e: unknown) => e instanceof SidecarConfigError && e.field === field && message.test(e.message),
      );
    });
  }
});
