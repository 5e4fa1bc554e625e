import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConnectionString } from 'mongodb-connection-string-url';
import { MongoClient as MongoClient6 } from 'mongodb6';
import type { MongoTarget } from '../../contract/sidecar-config.ts';
import type { TemporaryCredentials } from '../../sidecar/src/identity.ts';
import { MongoUriError, renderMongoUri } from '../../sidecar/src/mongo-uri.ts';

const target = (over: Partial<MongoTarget> = {}): MongoTarget => ({
  kind: 'mongo',
  name: 'orders',
  region: 'eu-west-1',
  scheme: 'mongodb+srv',
  hosts: ['cluster0.example.mongodb.net'],
  database: 'orders',
  options: { retryWrites: 'true', w: 'majority', appName: 'orders api' },
  ...over,
});

const creds = (over: Partial<TemporaryCredentials> = {}): TemporaryCredentials => ({
  accessKeyId: 'ASIAEXAMPLE000000001',
  secretAccessKey: 'wJalr/XUtnFEMI+K7MDENG=bPxRfiCY%EXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEJ//////////wEaCXVzLWVhc3QtMSJH+MEUCIQ==',
  expiresAt: Date.UTC(2030, 0, 1),
  ...over,
});

/** What mongodb driver 6 (the last to read AWS credentials from the URI) makes of it. */
function driverView(uri: string) {
  const client = new MongoClient6(uri);
  const o = client.options;
  return {
    username: o.credentials?.username,
    password: o.credentials?.password,
    source: o.credentials?.source,
    mechanism: o.credentials?.mechanism,
    sessionToken: o.credentials?.mechanismProperties.AWS_SESSION_TOKEN,
    dbName: o.dbName,
    hosts: o.hosts.map((h) => h.toString()),
    srvHost: o.srvHost,
    retryWrites: o.retryWrites,
    appName: o.appName,
  };
}

describe('mongo URI', () => {
  it('percent-encodes the credentials and the driver reads them back', () => {
    const uri = renderMongoUri(target(), creds());
    assert.ok(!uri.includes('wJalr/'), 'the secret\'s "/" is encoded');
    const v = driverView(uri);
    assert.equal(v.username, creds().accessKeyId);
    assert.equal(v.password, creds().secretAccessKey);
    assert.equal(v.sessionToken, creds().sessionToken);
    assert.equal(v.mechanism, 'MONGODB-AWS');
    assert.equal(v.source, '$external');
    assert.equal(v.dbName, 'orders');
    assert.equal(v.srvHost, 'cluster0.example.mongodb.net');
    assert.equal(v.retryWrites, true);
    assert.equal(v.appName, 'orders api');
  });

  it('mongodb:// with several hosts', () => {
    const uri = renderMongoUri(
      target({
        scheme: 'mongodb',
        hosts: ['h1.example:27017', 'h2.example:27018'],
        options: { replicaSet: 'rs0', tls: 'true' },
      }),
      creds(),
    );
    const v = driverView(uri);
    assert.deepEqual(v.hosts, ['h1.example:27017', 'h2.example:27018']);
    const cs = new ConnectionString(uri);
    assert.equal(cs.searchParams.get('replicaSet'), 'rs0');
    assert.equal(cs.searchParams.get('authSource'), '$external');
  });

  it('drops pass-through options that would override the auth settings', () => {
    const uri = renderMongoUri(
      target({ options: { authSource: 'admin', AUTHMECHANISM: 'SCRAM-SHA-256', tls: 'true' } }),
      creds(),
    );
    const cs = new ConnectionString(uri);
    assert.deepEqual(cs.searchParams.getAll('authSource'), ['$external']);
    assert.equal(driverView(uri).mechanism, 'MONGODB-AWS');
  });

  it('appends only allow-listed options, never a second session token after the real one', () => {
    const uri = renderMongoUri(
      target({
        options: {
          retryWrites: 'true',
          sessionToken: 'IQoJforged',
          AWS_SESSION_TOKEN: 'IQoJforged',
          authMechanismProperties: 'AWS_SESSION_TOKEN:IQoJforged',
          passphrase: 'pw',
          proxyPassword: 'pw',
        },
      }),
      creds(),
    );
    assert.ok(!uri.includes('IQoJforged') && !/passphrase|proxyPassword/.test(uri), uri);
    assert.equal(driverView(uri).sessionToken, creds().sessionToken);
    assert.equal(driverView(uri).retryWrites, true);
  });

  it('refuses a database or option value the contract refuses, without echoing it', () => {
    assert.throws(
      () => renderMongoUri(target({ database: 'ord\ud800ers' }), creds()),
      (e: unknown) => e instanceof MongoUriError && /database contains a lone surrogate/.test(e.message),
    );
    assert.throws(
      () => renderMongoUri(target({ options: { appName: 'a\nsecretish' } }), creds()),
      (e: unknown) =>
        e instanceof MongoUriError &&
        /option appName contains a line break/.test(e.message) &&
        !e.message.includes('secretish'),
    );
  });

  it('long-term keys: no session token property', () => {
    const uri = renderMongoUri(target(), creds({ sessionToken: undefined }));
    assert.ok(!uri.includes('AWS_SESSION_TOKEN'));
    assert.equal(driverView(uri).password, creds().secretAccessKey);
  });

  it('round-trips any base64-ish secret and session token (property)', () => {
    const b64 = fc.string({
      unit: fc.constantFrom(...'AZaz09+/=%@:?#&,'.split('')),
      minLength: 1,
      maxLength: 60,
    });
    const tokenChars = fc.string({
      unit: fc.constantFrom(...'AZaz09+/=%@?#&'.split('')),
      minLength: 1,
      maxLength: 120,
    });
    fc.assert(
      fc.property(b64, tokenChars, (secret, sessionToken) => {
        const v = driverView(renderMongoUri(target(), creds({ secretAccessKey: secret, sessionToken })));
        assert.equal(v.password, secret);
        assert.equal(v.sessionToken, sessionToken);
      }),
      { numRuns: 200 },
    );
  });
});
