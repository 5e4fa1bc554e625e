/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access -- the cases below build deliberately ill-typed JSON */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SidecarConfigError,
  envSegment,
  parseSidecarConfig,
  serializeSidecarConfig,
  type SidecarConfig,
} from '../../contract/sidecar-config.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';

function validConfig(): SidecarConfig {
  return sidecarConfig({
    targets: [
      rdsTarget({
        name: 'invoicing',
        host: 'invoicing.cluster-abc.eu-west-1.rds.amazonaws.com',
        database: 'invoicingdb',
        user: 'invoicingdbuser',
      }),
      mongoTarget({
        name: 'atlas',
        roleArn: 'arn:aws:iam::111122223333:role/MongoAccessRole',
        hosts: ['cluster0.abcde.mongodb.net'],
        database: 'orders',
        options: { retryWrites: 'true' },
      }),
    ],
  });
}

/** Applies `edit` to a fresh valid config (as plain JSON) and returns the serialized result. */
function withEdit(edit: (raw: Record<string, any>) => void): string {
  const raw = JSON.parse(serializeSidecarConfig(validConfig())) as Record<string, any>;
  edit(raw);
  return JSON.stringify(raw);
}

describe('sidecar config contract', () => {
  it('round-trips what the webhook serializes', () => {
    const config = validConfig();
    assert.deepEqual(parseSidecarConfig(serializeSidecarConfig(config)), config);
  });

  it('returns a frozen config so nothing downstream can change it', () => {
    const parsed = parseSidecarConfig(serializeSidecarConfig(validConfig()));
    assert.ok(Object.isFrozen(parsed));
    assert.ok(Object.isFrozen(parsed.targets[0]));
    assert.ok(Object.isFrozen(parsed.listen));
  });

  const invalid: Array<[string, string, (raw: Record<string, any>) => void]> = [
    ['another apiVersion', 'apiVersion', (r) => (r.apiVersion = 'token-broker.io/v0')],
    ['no directory', 'directory', (r) => delete r.directory],
    ['relative directory', 'directory', (r) => (r.directory = 'var/run')],
    ['port out of range', 'listen.apiPort', (r) => (r.listen.apiPort = 70000)],
    ['fractional port', 'listen.metricsPort', (r) => (r.listen.metricsPort = 99.5)],
    ['negative margin', 'refresh.marginSeconds', (r) => (r.refresh.marginSeconds = -1)],
    ['no targets', 'targets', (r) => (r.targets = [])],
    ['unknown kind', 'targets[0].kind', (r) => (r.targets[0].kind = 'redis')],
    ['upper-case name', 'targets[0].name', (r) => (r.targets[0].name = 'Invoicing')],
    ['unknown engine', 'targets[0].engine', (r) => (r.targets[0].engine = 'oracle')],
    ['missing user', 'targets[0].user', (r) => delete r.targets[0].user],
    ['empty hosts', 'targets[1].hosts', (r) => (r.targets[1].hosts = [])],
    ['non-string option', 'targets[1].options', (r) => (r.targets[1].options = { tls: true })],
    ['duplicate names', 'targets[1].name', (r) => (r.targets[1].name = 'invoicing')],
  ];
  for (const [label, field, edit] of invalid) {
    it(`rejects ${label}, naming ${field}`, () => {
      assert.throws(
        () => parseSidecarConfig(withEdit(edit)),
        (error: unknown) => error instanceof SidecarConfigError && error.field === field,
      );
    });
  }

  it('names the env var and says who writes it when the JSON is broken', () => {
    assert.throws(() => parseSidecarConfig('{not json'), /TOKEN_BROKER_CONFIG: \(root\): is not valid JSON/);
  });

  it('turns target names into env var segments', () => {
    assert.equal(envSegment('invoicing-db'), 'INVOICING_DB');
    assert.equal(envSegment('atlas'), 'ATLAS');
  });
});
