import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { MONGO_PASS_THROUGH_OPTIONS } from '../../../contract/mongo-options.ts';
import { unsafeCharacter } from '../../../contract/safe-text.ts';
import type { MongoTarget, RdsTarget } from '../../../contract/sidecar-config.ts';
import { REDACTED } from '../../../webhook/src/injection/config-error.ts';
import { redactUri } from '../../../webhook/src/injection/redact.ts';
import {
  inferRegionFromHost,
  parseMongoTarget,
  parseRdsTarget,
} from '../../../webhook/src/injection/target-uri.ts';

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

/** A session token's shape (STS tokens start "IQoJb3JpZ2lu"); long enough to look real. */
const SESSION_TOKEN = `IQoJb3JpZ2luX2VjEJr${'A'.repeat(40)}EXAMPLE`;
const SRV = 'mongodb+srv://c.mongodb.net/orders?region=eu-west-1';

describe('every credential-carrying form in a target URI is denied', () => {
  const cases: { uri: string; kind: 'rds' | 'mongo'; codes: string[]; secret: string }[] = [
    {
      kind: 'rds',
      uri: `postgres://${SESSION_TOKEN}@${HOST}/db`,
      codes: ['password-in-uri'],
      secret: SESSION_TOKEN,
    },
    {
      kind: 'rds',
      uri: `postgres://u%3AS3cretPw@${HOST}/db`,
      codes: ['password-in-uri'],
      secret: 'S3cretPw',
    },
    { kind: 'rds', uri: `mysql://u%3aS3cretPw@${HOST}/db`, codes: ['password-in-uri'], secret: 'S3cretPw' },
    {
      kind: 'rds',
      uri: `postgres://u@${HOST}/db?%70assword=letmein99`,
      codes: ['password-in-uri'],
      secret: 'letmein99',
    },
    {
      kind: 'rds',
      uri: `postgres://u@${HOST}/db?sslpassword=k3yPass`,
      codes: ['password-in-uri'],
      secret: 'k3yPass',
    },
    {
      kind: 'rds',
      uri: `mysql://u@${HOST}/db?password1=letmein99`,
      codes: ['password-in-uri'],
      secret: 'letmein99',
    },
    {
      kind: 'rds',
      uri: `postgres://u@${HOST}/db?sessionToken=abcd1234`,
      codes: ['password-in-uri'],
      secret: 'abcd1234',
    },
    {
      kind: 'rds',
      uri: `postgres://u@${HOST}/db?role=${ROLE}&externalId=${SESSION_TOKEN}`,
      codes: ['password-in-uri'],
      secret: SESSION_TOKEN,
    },
    {
      kind: 'rds',
      uri: `postgres://u@${HOST}/${SESSION_TOKEN}`,
      codes: ['password-in-uri'],
      secret: SESSION_TOKEN,
    },
    {
      kind: 'mongo',
      uri: `${SRV}&sessionToken=${SESSION_TOKEN}`,
      codes: ['password-in-uri'],
      secret: SESSION_TOKEN,
    },
    { kind: 'mongo', uri: `${SRV}&%73essionToken=abcd1234`, codes: ['password-in-uri'], secret: 'abcd1234' },
    { kind: 'mongo', uri: `${SRV}&SESSIONTOKEN=abcd1234`, codes: ['password-in-uri'], secret: 'abcd1234' },
    {
      kind: 'mongo',
      uri: `${SRV}&AWS_SESSION_TOKEN=abcd1234`,
      codes: ['password-in-uri'],
      secret: 'abcd1234',
    },
    { kind: 'mongo', uri: `${SRV}&proxyPassword=pr0xyPw`, codes: ['password-in-uri'], secret: 'pr0xyPw' },
    { kind: 'mongo', uri: `${SRV}&sslPassword=k3yPass`, codes: ['password-in-uri'], secret: 'k3yPass' },
    { kind: 'mongo', uri: `${SRV}&passphrase=k3yPass`, codes: ['password-in-uri'], secret: 'k3yPass' },
    {
      kind: 'mongo',
      uri: `${SRV}&authmechanismproperties=AWS_SESSION_TOKEN:abcd1234`,
      codes: ['denied-uri-option'],
      secret: 'abcd1234',
    },
    {
      kind: 'mongo',
      uri: `${SRV}&appName=${SESSION_TOKEN}`,
      codes: ['password-in-uri'],
      secret: SESSION_TOKEN,
    },
    {
      kind: 'mongo',
      uri: `mongodb+srv://AKIAEXAMPLE%3AS3cretKey@c.mongodb.net/orders?region=eu-west-1`,
      codes: ['password-in-uri'],
      secret: 'S3cretKey',
    },
    {
      kind: 'mongo',
      uri: `mongodb+srv://${SESSION_TOKEN}@c.mongodb.net/orders?region=eu-west-1`,
      codes: ['password-in-uri'],
      secret: SESSION_TOKEN,
    },
  ];
  for (const { uri, kind, codes, secret } of cases) {
    it(`denies ${uri.slice(0, 110)}`, () => {
      const parsed = kind === 'rds' ? parseRdsTarget('db', uri) : parseMongoTarget('db', uri);
      assert.equal(parsed.target, undefined);
      assert.deepEqual(
        parsed.errors.map((e) => e.code),
        codes,
      );
      assert.ok(!JSON.stringify(parsed).includes(secret), `secret leaked: ${JSON.stringify(parsed)}`);
    });
  }
});

describe('Mongo pass-through options are an allow-list', () => {
  it('passes every allow-listed option through as written', () => {
    for (const option of MONGO_PASS_THROUGH_OPTIONS) {
      const value = /^tls(Insecure|AllowInvalid)/.test(option) ? 'false' : '1';
      const parsed = parseMongoTarget('orders', `${SRV}&${option}=${value}`);
      assert.deepEqual(parsed.errors, [], option);
      assert.deepEqual(parsed.target?.options, { [option]: value });
    }
  });

  const denied: { query: string; code: string; fix?: RegExp }[] = [
    { query: 'key=client.pem', code: 'unknown-uri-option' },
    { query: 'proxyUsername=bob', code: 'unknown-uri-option', fix: /proxy credentials/ },
    { query: 'ssl=true', code: 'unknown-uri-option', fix: /use "tls"/ },
    { query: 'j=true', code: 'unknown-uri-option', fix: /use "journal"/ },
    { query: 'retryWrite=true', code: 'unknown-uri-option', fix: /did you mean "retryWrites"/ },
    { query: 'tlsDisableOCSPEndpointCheck=true', code: 'unknown-uri-option', fix: /revocation/ },
    { query: 'uuidRepresentation=standard', code: 'unknown-uri-option' },
    { query: 'tlsInsecure=true', code: 'denied-uri-option', fix: /tlsCAFile/ },
    { query: 'tlsAllowInvalidCertificates=TRUE', code: 'denied-uri-option' },
    { query: 'tlsAllowInvalidHostnames=1', code: 'denied-uri-option' },
  ];
  for (const { query, code, fix } of denied) {
    it(`denies ${query}`, () => {
      const parsed = parseMongoTarget('orders', `${SRV}&${query}`);
      assert.equal(parsed.target, undefined);
      assert.deepEqual(
        parsed.errors.map((e) => e.code),
        [code],
      );
      if (fix) assert.match(parsed.errors[0]?.fix ?? '', fix);
    });
  }

  it('warns that tls=false sends the session token unencrypted', () => {
    const parsed = parseMongoTarget('orders', `${SRV}&tls=false`);
    assert.deepEqual(parsed.target?.options, { tls: 'false' });
    assert.match(parsed.warnings.join('\n'), /tls=false.*unencrypted/);
  });
});

describe('values the sidecar cannot write are denied with the field and the fix', () => {
  const cases: { uri: string; kind: 'rds' | 'mongo'; field: RegExp; what: RegExp }[] = [
    {
      kind: 'rds',
      uri: `postgres://app%0Aevil@${HOST}/db`,
      field: /database user/,
      what: /line break \(U\+000A\)/,
    },
    { kind: 'rds', uri: `postgres://app%0D@${HOST}/db`, field: /database user/, what: /line break/ },
    { kind: 'rds', uri: `postgres://app%00@${HOST}/db`, field: /database user/, what: /NUL/ },
    { kind: 'rds', uri: `mysql://app%1B[31m@${HOST}/db`, field: /database user/, what: /control character/ },
    { kind: 'rds', uri: `postgres://app%7F@${HOST}/db`, field: /database user/, what: /control character/ },
    {
      kind: 'rds',
      uri: `postgres://app%C2%85@${HOST}/db`,
      field: /database user/,
      what: /line break \(U\+0085\)/,
    },
    {
      kind: 'rds',
      uri: `postgres://app%C2%9B@${HOST}/db`,
      field: /database user/,
      what: /control character/,
    },
    { kind: 'rds', uri: `postgres://app%E2%80%A8@${HOST}/db`, field: /database user/, what: /line break/ },
    {
      kind: 'rds',
      uri: `postgres://app%E2%80%AEnimda@${HOST}/db`,
      field: /database user/,
      what: /bidirectional/,
    },
    {
      kind: 'rds',
      uri: `postgres://app%E2%81%A6x@${HOST}/db`,
      field: /database user/,
      what: /bidirectional/,
    },
    { kind: 'rds', uri: `postgres://app%E2%80%8F@${HOST}/db`, field: /database user/, what: /bidirectional/ },
    { kind: 'rds', uri: `postgres://app\u202e@${HOST}/db`, field: /database user/, what: /bidirectional/ },
    { kind: 'rds', uri: `postgres://app\ud800@${HOST}/db`, field: /database user/, what: /lone surrogate/ },
    { kind: 'rds', uri: `postgres://app%ED%A0%80@${HOST}/db`, field: /user/, what: /invalid UTF-8/ },
    { kind: 'rds', uri: `postgres://app@${HOST}/inv%0Aoicing`, field: /database name/, what: /line break/ },
    {
      kind: 'rds',
      uri: `postgres://app@${HOST}/inv%E2%80%AEoicing`,
      field: /database name/,
      what: /bidirectional/,
    },
    {
      kind: 'mongo',
      uri: 'mongodb+srv://c.mongodb.net/ord%09ers?region=eu-west-1',
      field: /database name/,
      what: /control/,
    },
    { kind: 'mongo', uri: `${SRV}&appName=a%0Ab`, field: /option "appName"/, what: /line break/ },
    { kind: 'mongo', uri: `${SRV}&appName=a%00`, field: /option "appName"/, what: /NUL/ },
    { kind: 'mongo', uri: `${SRV}&app%0AName=x`, field: /query parameter/, what: /line break/ },
  ];
  for (const { uri, kind, field, what } of cases) {
    it(`denies ${JSON.stringify(uri)}`, () => {
      const parsed = kind === 'rds' ? parseRdsTarget('db', uri) : parseMongoTarget('db', uri);
      assert.equal(parsed.target, undefined);
      const [error, ...rest] = parsed.errors;
      assert.deepEqual(rest, []);
      assert.equal(error?.annotation, `token-broker.io/${kind}-db`);
      assert.match(error?.message ?? '', field);
      assert.match(error?.message ?? '', what);
      assert.ok((error?.fix ?? '').length > 0);
      // The denial itself carries no raw control or bidi character.
      assert.equal(unsafeCharacter(JSON.stringify(error)), undefined);
    });
  }

  it('admits ordinary non-ASCII text', () => {
    const parsed = parseRdsTarget('db', `postgres://%C3%A9quipe@${HOST}/caf%C3%A9%F0%9F%98%80`);
    assert.deepEqual(parsed.errors, []);
    assert.equal(parsed.target?.user, 'équipe');
    assert.equal(parsed.target?.database, 'café😀');
  });
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
