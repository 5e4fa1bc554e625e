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
    ['a line break in the user', 'targets[0].user', (r) => (r.targets[0].user = 'app\nevil')],
    ['a NUL in the database', 'targets[0].database', (r) => (r.targets[0].database = 'inv\u0000')],
    ['a C1 control in the user', 'targets[0].user', (r) => (r.targets[0].user = 'app\u0085')],
    [
      'a bidi override in the database',
      'targets[1].database',
      (r) => (r.targets[1].database = 'ord\u202eers'),
    ],
    ['a lone surrogate in the user', 'targets[0].user', (r) => (r.targets[0].user = 'app\ud800')],
    ['a host that is no DNS name', 'targets[0].host', (r) => (r.targets[0].host = 'db/x@evil.example')],
    ['a region that is no region', 'targets[0].region', (r) => (r.targets[0].region = 'eu-west-1/x')],
    [
      'a role that is no role ARN',
      'targets[1].roleArn',
      (r) => (r.targets[1].roleArn = 'arn:aws:iam::1:role/x'),
    ],
    ['a Mongo host with a path', 'targets[1].hosts[0]', (r) => (r.targets[1].hosts = ['c.example/x'])],
    ['a port on an SRV host', 'targets[1].hosts[0]', (r) => (r.targets[1].hosts = ['c.example:27017'])],
    [
      'a session token option',
      'targets[1].options.sessionToken',
      (r) => (r.targets[1].options = { sessionToken: 'IQoJb3JpZ2lu' }),
    ],
    [
      'authMechanismProperties',
      'targets[1].options.authMechanismProperties',
      (r) => (r.targets[1].options = { authMechanismProperties: 'AWS_SESSION_TOKEN:x' }),
    ],
    [
      'an option not on the allow-list',
      'targets[1].options.passphrase',
      (r) => (r.targets[1].options = { passphrase: 'x' }),
    ],
    [
      'a line break in an option value',
      'targets[1].options.appName',
      (r) => (r.targets[1].options = { appName: 'a\nb' }),
    ],
  ];
  for (const [label, field, edit] of invalid) {
    it(`rejects ${label}, naming ${field}`, () => {
      assert.throws(
        () => parseSidecarConfig(withEdit(edit)),
        (error: unknown) => error instanceof SidecarConfigError && error.field === field,
      );
    });
  }

  it('accepts authSource and authMechanism, which the sidecar ignores, in any case', () => {
    const options = { AUTHSOURCE: 'admin', authMechanism: 'x', W: '1' };
    const parsed = parseSidecarConfig(withEdit((r) => (r.targets[1].options = options)));
    assert.deepEqual(parsed.targets[1], { ...validConfig().targets[1], options });
  });

  it('names the field and the character, never the value, for an unusable value', () => {
    assert.throws(
      () => parseSidecarConfig(withEdit((r) => (r.targets[0].user = 'S3cret\u202e'))),
      (error: unknown) =>
        error instanceof SidecarConfigError &&
        /targets\[0\]\.user: contains a bidirectional-text control \(U\+202E\)/.test(error.message) &&
        !error.message.includes('S3cret'),
    );
  });

  it('names the env var and says who writes it when the JSON is broken', () => {
    assert.throws(() => parseSidecarConfig('{not json'), /TOKEN_BROKER_CONFIG: \(root\): is not valid JSON/);
  });

  it('turns target names into env var segments', () => {
    assert.equal(envSegment('invoicing-db'), 'INVOICING_DB');
    assert.equal(envSegment('atlas'), 'ATLAS');
  });
});
