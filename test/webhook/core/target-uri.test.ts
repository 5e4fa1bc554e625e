import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MongoTarget, RdsTarget } from '../../../contract/sidecar-config.ts';
import { REDACTED } from '../../../webhook/src/config-error.ts';
import { redactUri } from '../../../webhook/src/redact.ts';
import { inferRegionFromHost, parseMongoTarget, parseRdsTarget } from '../../../webhook/src/target-uri.ts';

const HOST = 'invoicing.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com';
const ROLE = 'arn:aws:iam::111122223333:role/passwordless-rds-db';

describe('parseRdsTarget: valid URIs', () => {
  const cases: { uri: string; want: Omit<RdsTarget, 'kind' | 'name'> }[] = [
    {
      uri: `postgres://invoicingdbuser@${HOST}/invoicingdb`,
      want: {
        region: 'eu-west-1',
        engine: 'postgres',
        host: HOST,
        port: 5432,
        database: 'invoicingdb',
        user: 'invoicingdbuser',
      },
    },
    {
      uri: `postgresql://app@${HOST.toUpperCase()}:6432/app?region=eu-west-1`,
      want: { region: 'eu-west-1', engine: 'postgres', host: HOST, port: 6432, database: 'app', user: 'app' },
    },
    {
      uri: 'mysql://reporter@reports.abc.us-east-2.rds.amazonaws.com/reports',
      want: {
        region: 'us-east-2',
        engine: 'mysql',
        host: 'reports.abc.us-east-2.rds.amazonaws.com',
        port: 3306,
        database: 'reports',
        user: 'reporter',
      },
    },
    {
      uri: `postgres://app@10.0.0.12:5432/app?region=eu-central-1&role=${encodeURIComponent(ROLE)}&externalId=ext-1`,
      want: {
        region: 'eu-central-1',
        roleArn: ROLE,
        externalId: 'ext-1',
        engine: 'postgres',
        host: '10.0.0.12',
        port: 5432,
        database: 'app',
        user: 'app',
      },
    },
    {
      uri: 'postgres://db%2Duser@db.internal.example.com/my%20db?region=us-gov-west-1&role=arn:aws-us-gov:iam::111122223333:role/path/to/db',
      want: {
        region: 'us-gov-west-1',
        roleArn: 'arn:aws-us-gov:iam::111122223333:role/path/to/db',
        engine: 'postgres',
        host: 'db.internal.example.com',
        port: 5432,
        database: 'my db',
        user: 'db-user',
      },
    },
    {
      uri: 'postgres://app@db.abc.cn-north-1.rds.amazonaws.com.cn/app?role=arn:aws-cn:iam::111122223333:role/db',
      want: {
        region: 'cn-north-1',
        roleArn: 'arn:aws-cn:iam::111122223333:role/db',
        engine: 'postgres',
        host: 'db.abc.cn-north-1.rds.amazonaws.com.cn',
        port: 5432,
        database: 'app',
        user: 'app',
      },
    },
  ];
  for (const { uri, want } of cases) {
    test(uri, () => {
      const parsed = parseRdsTarget('db', uri);
      assert.deepEqual(parsed.errors, []);
      assert.deepEqual(parsed.target, { kind: 'rds', name: 'db', ...want });
    });
  }
});

describe('parseRdsTarget: invalid URIs name the problem', () => {
  const cases: { uri: string; codes: string[]; secret?: string }[] = [
    { uri: 'not a uri', codes: ['invalid-uri'] },
    { uri: `postgres://u:hunter22@${HOST}/db`, codes: ['password-in-uri'], secret: 'hunter22' },
    { uri: `postgres://u:@${HOST}/db`, codes: ['password-in-uri'] },
    { uri: `postgres://u:pa@ss@${HOST}/db`, codes: ['password-in-uri'], secret: 'pa@ss' },
    { uri: `postgres://u:pa/ss@${HOST}/db`, codes: ['password-in-uri'], secret: 'pa/ss' },
    { uri: `postgres://u@${HOST}/db?password=letmein99`, codes: ['password-in-uri'], secret: 'letmein99' },
    { uri: `postgres://u@${HOST}/db?PassWord=letmein99`, codes: ['password-in-uri'], secret: 'letmein99' },
    { uri: `postgres://${HOST}/db`, codes: ['missing-user'] },
    { uri: `postgres://u@${HOST}`, codes: ['missing-database'] },
    { uri: `postgres://u@${HOST}/`, codes: ['missing-database'] },
    { uri: `postgres://u@${HOST}/a/b`, codes: ['invalid-uri'] },
    { uri: `postgres://u@${HOST}/db#frag`, codes: ['invalid-uri'] },
    { uri: `postgres://u@${HOST}:0/db`, codes: ['invalid-port'] },
    { uri: `postgres://u@${HOST}:65536/db`, codes: ['invalid-port'] },
    { uri: `postgres://u@${HOST}:54x2/db`, codes: ['invalid-port'] },
    { uri: 'postgres://u@db.example.com/db', codes: ['missing-region'] },
    { uri: 'postgres://u@db.example.com/db?region=EU-WEST-1', codes: ['invalid-region'] },
    { uri: 'postgres://u@db.example.com/db?region=europe', codes: ['invalid-region'] },
    { uri: `postgres://u@${HOST}/db?region=eu-west-2`, codes: ['region-mismatch'] },
    { uri: `postgres://u@${HOST}/db?role=arn:aws:iam::111122223333:role/`, codes: ['invalid-role-arn'] },
    {
      uri: `postgres://u@${HOST}/db?role=arn:aws:sts::111122223333:assumed-role/x/y`,
      codes: ['invalid-role-arn'],
    },
    { uri: `postgres://u@${HOST}/db?role=arn:aws-cn:iam::111122223333:role/x`, codes: ['invalid-role-arn'] },
    { uri: `postgres://u@${HOST}/db?externalId=abc`, codes: ['invalid-external-id'] },
    { uri: `postgres://u@${HOST}/db?role=${ROLE}&externalId=a`, codes: ['invalid-external-id'] },
    { uri: `postgres://u@${HOST}/db?sslmode=require`, codes: ['unknown-uri-option'] },
    { uri: `postgres://u@${HOST}/db?region=eu-west-1&region=eu-west-1`, codes: ['duplicate-uri-option'] },
    { uri: `postgres://u@${HOST}/db?region=%zz`, codes: ['invalid-uri'] },
    { uri: 'postgres://u@[::1]/db?region=eu-west-1', codes: ['invalid-host'] },
    { uri: 'postgres://u@-bad-.example.com/db?region=eu-west-1', codes: ['invalid-host'] },
    { uri: 'postgres://u@/db?region=eu-west-1', codes: ['invalid-host'] },
    { uri: `redis://u@${HOST}/db`, codes: ['unsupported-scheme'] },
    {
      uri: `mongodb://u:pw-in-wrong-kind@${HOST}/db`,
      codes: ['unsupported-scheme'],
      secret: 'pw-in-wrong-kind',
    },
  ];
  for (const { uri, codes, secret } of cases) {
    test(uri, () => {
      const parsed = parseRdsTarget('db', uri);
      assert.equal(parsed.target, undefined);
      assert.deepEqual(
        parsed.errors.map((e) => e.code),
        codes,
      );
      for (const e of parsed.errors) {
        assert.equal(e.annotation, 'token-broker.io/rds-db');
        assert.ok(e.fix.length > 0);
        if (secret) assert.ok(!JSON.stringify(e).includes(secret), `secret leaked: ${JSON.stringify(e)}`);
      }
    });
  }

  test('an unknown parameter close to a known one gets a suggestion', () => {
    const [error] = parseRdsTarget('db', `postgres://u@${HOST}/db?roleArn=${ROLE}`).errors;
    assert.match(error?.fix ?? '', /did you mean "role"/);
  });
});

describe('parseMongoTarget', () => {
  const ok: { uri: string; want: Omit<MongoTarget, 'kind' | 'name'>; warnings?: number }[] = [
    {
      uri: 'mongodb+srv://Cluster0.a1b2c3.mongodb.net/orders?region=eu-west-1&retryWrites=true&w=majority',
      want: {
        region: 'eu-west-1',
        scheme: 'mongodb+srv',
        hosts: ['cluster0.a1b2c3.mongodb.net'],
        database: 'orders',
        options: { retryWrites: 'true', w: 'majority' },
      },
    },
    {
      uri: 'mongodb://m0.example.com,m1.example.com:27018/orders?region=us-east-1&replicaSet=rs0&role=arn:aws:iam::111122223333:role/MongoAccessRole&readPreferenceTags=dc%3Aeast',
      want: {
        region: 'us-east-1',
        roleArn: 'arn:aws:iam::111122223333:role/MongoAccessRole',
        scheme: 'mongodb',
        hosts: ['m0.example.com:27017', 'm1.example.com:27018'],
        database: 'orders',
        options: { replicaSet: 'rs0', readPreferenceTags: 'dc:east' },
      },
    },
    {
      uri: 'mongodb://docs.cluster-abc.eu-central-1.docdb.amazonaws.com:27017/app?tls=true',
      want: {
        region: 'eu-central-1',
        scheme: 'mongodb',
        hosts: ['docs.cluster-abc.eu-central-1.docdb.amazonaws.com:27017'],
        database: 'app',
        options: { tls: 'true' },
      },
    },
    {
      uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&authSource=%24external&authMechanism=MONGODB-AWS',
      want: {
        region: 'eu-west-1',
        scheme: 'mongodb+srv',
        hosts: ['c.mongodb.net'],
        database: 'orders',
        options: {},
      },
      warnings: 2,
    },
  ];
  for (const { uri, want, warnings } of ok) {
    test(`valid: ${uri}`, () => {
      const parsed = parseMongoTarget('orders', uri);
      assert.deepEqual(parsed.errors, []);
      assert.deepEqual(parsed.target, { kind: 'mongo', name: 'orders', ...want });
      assert.equal(parsed.warnings.length, warnings ?? 0);
    });
  }

  const bad: { uri: string; codes: string[]; secret?: string }[] = [
    {
      uri: 'mongodb+srv://u:Pa55w0rd@c.mongodb.net/orders?region=eu-west-1',
      codes: ['password-in-uri'],
      secret: 'Pa55w0rd',
    },
    { uri: 'mongodb+srv://AKIAEXAMPLE@c.mongodb.net/orders?region=eu-west-1', codes: ['credentials-in-uri'] },
    { uri: 'mongodb+srv://c.mongodb.net/orders', codes: ['missing-region'] },
    { uri: 'mongodb+srv://c.mongodb.net?region=eu-west-1', codes: ['missing-database'] },
    { uri: 'mongodb+srv://c.mongodb.net:27017/orders?region=eu-west-1', codes: ['invalid-port'] },
    { uri: 'mongodb+srv://a.mongodb.net,b.mongodb.net/orders?region=eu-west-1', codes: ['invalid-host'] },
    { uri: 'mongodb://a.example.com:99999/orders?region=eu-west-1', codes: ['invalid-port'] },
    { uri: 'mongodb://a.example.com,/orders?region=eu-west-1', codes: ['invalid-host'] },
    {
      uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&authMechanismProperties=AWS_SESSION_TOKEN:FwoGZXIvYXdzEXAMPLE',
      codes: ['denied-uri-option'],
      secret: 'FwoGZXIvYXdzEXAMPLE',
    },
    {
      uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&authMechanism=SCRAM-SHA-1',
      codes: ['denied-uri-option'],
    },
    {
      uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&authSource=admin',
      codes: ['denied-uri-option'],
    },
    {
      uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&tlsCertificateKeyFilePassword=k3ypass',
      codes: ['password-in-uri'],
      secret: 'k3ypass',
    },
    { uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&bad-key=1', codes: ['unknown-uri-option'] },
    { uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&Role=x', codes: ['unknown-uri-option'] },
    { uri: 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1&w=1&W=2', codes: ['duplicate-uri-option'] },
    { uri: 'postgres://u@c.mongodb.net/orders', codes: ['unsupported-scheme'] },
  ];
  for (const { uri, codes, secret } of bad) {
    test(`invalid: ${uri}`, () => {
      const parsed = parseMongoTarget('orders', uri);
      assert.equal(parsed.target, undefined);
      assert.deepEqual(
        parsed.errors.map((e) => e.code),
        codes,
      );
      if (secret) assert.ok(!JSON.stringify(parsed).includes(secret));
    });
  }
});

describe('redactUri', () => {
  const cases: [string, string][] = [
    ['postgres://u@h/db', 'postgres://u@h/db'],
    ['postgres://u:secret@h/db', `postgres://u:${REDACTED}@h/db`],
    ['postgres://u:se@cr/et@h/db', `postgres://u:${REDACTED}@h/db`],
    ['postgres://a/b@h/db', `postgres://${REDACTED}@h/db`],
    ['u:secret@h/db', `${REDACTED}@h/db`],
    ['postgres://u@h/db?password=x&region=r', `postgres://u@h/db?password=${REDACTED}&region=r`],
    [
      'mongodb+srv://h/db?authMechanismProperties=AWS_SESSION_TOKEN:abc',
      `mongodb+srv://h/db?authMechanismProperties=${REDACTED}`,
    ],
  ];
  for (const [input, want] of cases) {
    test(input, () => assert.equal(redactUri(input), want));
  }
});

test('inferRegionFromHost reads RDS and DocumentDB endpoints only', () => {
  assert.equal(inferRegionFromHost(HOST), 'eu-west-1');
  assert.equal(inferRegionFromHost('p.proxy-abc.ap-southeast-2.rds.amazonaws.com'), 'ap-southeast-2');
  assert.equal(inferRegionFromHost('d.cluster-abc.us-gov-west-1.docdb.amazonaws.com'), 'us-gov-west-1');
  assert.equal(inferRegionFromHost('db.eu-west-1.example.com'), undefined);
  assert.equal(inferRegionFromHost('cluster0.a1b2c3.mongodb.net'), undefined);
});
