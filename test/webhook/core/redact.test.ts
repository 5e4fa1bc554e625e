/**
 * Secret redaction: redactValue on its own, configError as the one place every value passes through,
 * and a property over arbitrary token-broker.io/ keys whose value is a URI with a password.
 */

import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import fc from 'fast-check';
import { configError, renderDenialMessage } from '../../../webhook/src/injection/config-error.ts';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { REDACTED, redactValue } from '../../../webhook/src/injection/redact.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { deepFreeze } from './support.ts';

describe('redactValue', () => {
  const cases: [string, string, string][] = [
    // [input, shown, secret that must be gone]
    ['postgres://app:S3cret@db.example.com/app', `postgres://app:${REDACTED}@db.example.com/app`, 'S3cret'],
    ['  postgres://app:pa ss"w@rd@db/x', `  postgres://app:${REDACTED}@db/x`, 'pa ss"w@rd'],
    ['app:S3cret@db.example.com', `${REDACTED}@db.example.com`, 'S3cret'],
    ['host=db user=app password=S3cret', `host=db user=app password=${REDACTED}`, 'S3cret'],
    ['DB_PASSWORD=S3cret', `DB_PASSWORD=${REDACTED}`, 'S3cret'],
    ['{"password": "two words"}', `{"password": "${REDACTED}"}`, 'two words'],
    ['AWS_SESSION_TOKEN:abcdEFGH1234', `AWS_SESSION_TOKEN:${REDACTED}`, 'abcdEFGH1234'],
    ['IQoJb3JpZ2luX2VjEXAMPLE', REDACTED, 'IQoJb3JpZ2luX2VjEXAMPLE'],
    [
      'mongodb+srv://c.example.net/db?authMechanismProperties=AWS_SESSION_TOKEN:tok1234&w=1',
      `mongodb+srv://c.example.net/db?authMechanismProperties=${REDACTED}&w=1`,
      'tok1234',
    ],
  ];
  for (const [input, shown, secret] of cases) {
    test(input, () => {
      const result = redactValue(input);
      assert.equal(result.shown, shown);
      assert.ok(!result.shown.includes(secret));
      assert.ok(
        result.secrets.some((s) => s.includes(secret)),
        `records ${secret}`,
      );
    });
  }

  test('leaves values without secrets alone', () => {
    for (const value of [
      'app,worker',
      '2m',
      'legacy',
      'token-broker.io/rds-x',
      'postgres://app@db/x?region=eu-west-1',
    ]) {
      assert.deepEqual(redactValue(value), { shown: value, secrets: [] });
    }
  });

  test('is idempotent', () => {
    for (const [input] of cases) {
      const once = redactValue(input).shown;
      assert.equal(redactValue(once).shown, once);
    }
  });
});

describe('configError', () => {
  test('redacts the value and cuts its secrets out of message and fix', () => {
    const e = configError(
      'invalid-value',
      'token-broker.io/containers',
      'postgres://app:S3cretPw@db/x',
      '"postgres://app:S3cretPw@db/x" is not a container name',
      'do not paste S3cretPw here',
    );
    assert.equal(e.value, `postgres://app:${REDACTED}@db/x`);
    assert.equal(e.message, `"postgres://app:${REDACTED}@db/x" is not a container name`);
    assert.equal(e.fix, `do not paste ${REDACTED} here`);
    assert.ok(!renderDenialMessage([e]).includes('S3cretPw'));
  });

  test('a missing annotation is shown as not set, an empty one as ""', () => {
    const missing = configError(
      'missing-rds-ca',
      'token-broker.io/rds-ca-configmap',
      undefined,
      'no CA',
      'name it',
    );
    const empty = configError('invalid-value', 'token-broker.io/containers', '', 'empty', 'name one');
    const text = renderDenialMessage([missing, empty]);
    assert.match(text, /^- token-broker\.io\/rds-ca-configmap \(not set\):$/m);
    assert.match(text, /^- token-broker\.io\/containers="":$/m);
  });
});

/** Decodes each run of %-escapes that is valid UTF-8, as a reader of the message could. */
function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

describe('a denial never echoes a secret hidden behind an escape or repeated in the value', () => {
  const cases: { value: string; secret: string; message?: string }[] = [
    { value: 'postgres://u%3AS3cretPw@db.example.com/app', secret: 'S3cretPw' },
    { value: 'mongodb+srv://AKIAEXAMPLE%3aS3cretKey@c.example.net/db', secret: 'S3cretKey' },
    { value: 'postgres://app:hunter22@db.example.com/hunter22', secret: 'hunter22' },
    { value: 'postgres://app:hunter22@db.example.com/x?appName=hunter22', secret: 'hunter22' },
    { value: 'postgres://app:hunter22@db.example.com/hunter%32%32', secret: 'hunter22' },
    { value: 'postgres://app:hunter%2022@db.example.com/hunter%2022', secret: 'hunter 22' },
    { value: 'x?%70assword=S3cretPw&y=S3cretPw', secret: 'S3cretPw' },
    { value: 'mongodb+srv://h/db?%73essionToken=abcd1234', secret: 'abcd1234' },
    {
      value: 'postgres://app:hunter22@db/x',
      secret: 'hunter22',
      message: 'database "hunter%32%32" is wrong, and so is "hunter22"',
    },
  ];
  for (const { value, secret, message } of cases) {
    it(`hides ${secret} in ${value}`, () => {
      const e = configError(
        'invalid-uri',
        'token-broker.io/rds-x',
        value,
        message ?? `"${value}" is bad`,
        `fix ${value}`,
      );
      for (const text of [e.value ?? '', e.message, e.fix, renderDenialMessage([e])]) {
        assert.ok(!percentDecoded(text).includes(secret), `${secret} leaked: ${text}`);
      }
    });
  }

  it('cuts a short secret where it stands as the value, not inside ordinary words', () => {
    const e = configError(
      'invalid-uri',
      'token-broker.io/rds-x',
      'postgres://app:is@db.example.com/is?region=zz',
      'region "zz" is not an AWS region; database "is" and user:is@ are odd',
      'remove ":is" and this is the fix',
    );
    assert.equal(e.value, `postgres://app:${REDACTED}@db.example.com/${REDACTED}?region=zz`);
    assert.equal(
      e.message,
      `region "zz" is not an AWS region; database "${REDACTED}" and user:${REDACTED}@ are odd`,
    );
    assert.equal(e.fix, `remove ":${REDACTED}" and this is the fix`);
  });

  it('cuts a one-character password from the quoted value', () => {
    const e = configError(
      'invalid-uri',
      'k',
      'postgres://app:Q@db/x',
      'value "Q" and "postgres://app:Q@db/x"',
      'f',
    );
    assert.ok(!/\bQ\b/.test(e.value + e.message), `${e.value} ${e.message}`);
  });

  it('writes control and bidi characters of quoted input as escapes', () => {
    const e = configError('invalid-uri', 'k', 'a\u202eb\nc', 'user "a\u202eb\nc" is bad', 'fix "\u2066"');
    assert.equal(e.value, 'a\\u202eb\\u000ac');
    assert.equal(e.message, 'user "a\\u202eb\\u000ac" is bad');
    assert.equal(e.fix, 'fix "\\u2066"');
  });
});

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
}

const VALID_RDS = 'postgres://app@invoicing.cluster-abc.eu-west-1.rds.amazonaws.com/invoicing';

/** Keys under token-broker.io/: known ones, target keys with any name, and arbitrary strings. */
const ourKey = fc.oneof(
  fc.constantFrom(
    'inject',
    'aws-credentials',
    'containers',
    'sidecar-mode',
    'run-as-user',
    'refresh-margin',
    'sidecar-cpu-request',
    'sidecar-memory-limit',
    'status',
  ),
  fc
    .tuple(fc.constantFrom('rds-', 'mongo-', 'rds_', 'mongo', 'Rds-'), fc.string({ maxLength: 40 }))
    .map(([prefix, name]) => prefix + name),
  fc.string({ maxLength: 40 }),
);

const secretUri = fc.record({
  scheme: fc.constantFrom('postgres', 'postgresql', 'mysql', 'mongodb', 'mongodb+srv', 'https', 'x-db'),
  user: fc.stringMatching(/^[a-z][a-z0-9._-]{0,15}$/),
  // A marker keeps the password from matching ordinary message text by chance.
  password: fc.string({ minLength: 6, maxLength: 30 }).map((s) => `Pw#${s}`),
  rest: fc.constantFrom(
    'db.example.com/app',
    'invoicing.cluster-abc.eu-west-1.rds.amazonaws.com:5432/invoicing?region=eu-west-1',
    'm0.example.com:27017,m1.example.com/orders?region=eu-west-1',
    '',
  ),
  lead: fc.constantFrom('', ' ', '"', 'url='),
});

test('property: a password in any token-broker.io/ annotation never reaches the result', () => {
  fc.assert(
    fc.property(ourKey, secretUri, (suffix, uri) => {
      const key = `token-broker.io/${suffix}`;
      const value = `${uri.lead}${uri.scheme}://${uri.user}:${uri.password}@${uri.rest}`;
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'p',
          namespace: 'ns',
          annotations: {
            'token-broker.io/inject': 'true',
            'token-broker.io/rds-main': VALID_RDS,
            [key]: value,
          },
        },
        spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app', image: 'app:1' }] },
      };
      const result = mutatePod({ pod: deepFreeze(pod), namespace: 'ns', defaults: BUILTIN_DEFAULTS });
      // Every string in the result, unescaped (JSON.stringify would hide a password containing '"').
      for (const text of strings(result)) {
        assert.ok(!text.includes(uri.password), `password leaked for ${key}: ${text}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: a password behind an encoded colon or repeated in the value never reaches a denial', () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
      fc.string({ minLength: 4, maxLength: 24 }).map((s) => `Pw#${s}`),
      fc.constantFrom('/db?x=', '/', '/app?region=eu-west-1&appName='),
      (user, password, middle) => {
        const encoded = encodeURIComponent(password);
        const value = `postgres://${user}%3A${encoded}@db.example.com${middle}${encoded}`;
        const e = configError('invalid-uri', 'token-broker.io/rds-x', value, `"${value}" is bad`, 'fix it');
        for (const text of [e.value ?? '', e.message, e.fix, renderDenialMessage([e])]) {
          assert.ok(!percentDecoded(text).includes(password), `leaked: ${text}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

/** Every string a mutation result shows (values, messages, fixes, warnings), %-decoded as a reader could. */
function shownTexts(annotations: Record<string, string>): string[] {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      annotations: { 'token-broker.io/inject': 'true', ...annotations },
    },
    spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app', image: 'app:1' }] },
  };
  const result = mutatePod({ pod: deepFreeze(pod), namespace: 'ns', defaults: BUILTIN_DEFAULTS });
  return strings(result).flatMap((text) => [text, percentDecoded(text)]);
}

function assertHidden(annotations: Record<string, string>, secret: string): void {
  for (const text of shownTexts(annotations)) {
    for (const spelling of [secret, encodeURIComponent(secret)]) {
      assert.ok(!text.includes(spelling), `${secret} leaked: ${text}`);
    }
  }
}

describe('a secret found anywhere in a value is cut from everything the denial shows', () => {
  it('cuts a password behind an encoded colon in user-info without a scheme, repeated as the path', () => {
    assertHidden(
      {
        'token-broker.io/mongo-ledger':
          '://d%3AFAKEpwT-g0NxIfy%3D5n@db.abc123xyz.us-east-2.rds.amazonaws.com/FAKEpwT-g0NxIfy%3D5n',
      },
      'FAKEpwT-g0NxIfy=5n',
    );
  });

  it('cuts the inner value of a key:value list option (authMechanismProperties), repeated as the database', () => {
    const token = 'FAKEpwnTD0wy-=6YNSdxuuGozZycH9';
    assertHidden(
      {
        'token-broker.io/mongo-a':
          `mongodb+srv://m0.example.com/${encodeURIComponent(token)}?readPreference=secondary&tls=true` +
          `&authMechanismProperties=AWS_SESSION_TOKEN%3A${encodeURIComponent(token)}%2CSERVICE_NAME%3Amongodb`,
      },
      token,
    );
  });

  it('cuts a secret query option even when an "@" in the query moves the user-info guess past it', () => {
    assertHidden(
      {
        'token-broker.io/rds-a':
          'mongodb://i@db.abc123xyz.us-east-2.rds.amazonaws.com:27017/uoc82r1b?l@=a5&tls=true&apiKey=FAKEpwBIqVy%2FlbBzn6lNpiK4Ze',
      },
      'FAKEpwBIqVy/lbBzn6lNpiK4Ze',
    );
  });

  it('cuts the value of every secret-named key=value pair outside a URI query too', () => {
    for (const key of ['apiKey', 'api_key', 'passphrase', 'privateKey', 'X-Amz-Signature', 'sslPassword']) {
      const value = `host=db ${key}=FAKEpwSecret42 app=x`;
      const { shown, secrets } = redactValue(value);
      assert.equal(shown, `host=db ${key}=${REDACTED} app=x`);
      assert.ok(secrets.includes('FAKEpwSecret42'), key);
    }
  });

  it('cuts a long secret from message text in any mix of plain and %-escaped spelling', () => {
    const secret = `FAKEpw${'x9'.repeat(150)}`;
    const mixed = `FAKE%70w${'x9'.repeat(150)}`;
    const e = configError(
      'invalid-uri',
      'token-broker.io/rds-x',
      `postgres://app:${secret}@db/x`,
      `database "${mixed}" is odd`,
      `remove ${mixed}`,
    );
    for (const text of [e.value ?? '', e.message, e.fix, renderDenialMessage([e])]) {
      assert.ok(!percentDecoded(text).includes(secret), `leaked: ${text}`);
    }
  });

  test('property: a secret in user-info (any scheme or none, encoded colon or not) or in a key:value list never reaches the result', () => {
    const secretText = fc
      .string({ unit: fc.constantFrom(...'abcXYZ0189+/=-_:'), minLength: 6, maxLength: 30 })
      .map((s) => `FAKEpw${s}`);
    const enc = (s: string, encoded: boolean) => (encoded ? encodeURIComponent(s) : s);
    const lists = [
      (s: string) => `AWS_SESSION_TOKEN:${s}`,
      (s: string) => `SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:${s}`,
      (s: string) => `AWS_SESSION_TOKEN:${s},SERVICE_NAME:mongodb`,
    ];
    fc.assert(
      fc.property(
        secretText,
        fc.record({
          where: fc.constantFrom('user-info', 'list'),
          scheme: fc.constantFrom(
            'postgres://',
            'mongodb+srv://',
            '://',
            '',
            'jdbc:postgresql://',
            'postgres:/',
          ),
          colon: fc.constantFrom(':', '%3A', '%3a'),
          list: fc.constantFrom(...lists),
          key: fc.constantFrom(
            'authMechanismProperties',
            'AUTHMECHANISMPROPERTIES',
            'sessionToken',
            'apiKey',
          ),
          encoded: fc.boolean(),
          host: fc.constantFrom(
            'm0.example.com',
            'db.abc123xyz.us-east-2.rds.amazonaws.com',
            'h@st.example.com',
          ),
          // An "@" in the query moves the guessed end of the user-info past the "?".
          junk: fc.constantFrom('', 'l@=a5&'),
          echo: fc.constantFrom('path', 'option', 'none'),
          echoEncoded: fc.boolean(),
          kind: fc.constantFrom('mongo', 'rds'),
        }),
        (secret, c) => {
          const user = c.where === 'user-info' ? `app${c.colon}${enc(secret, c.encoded)}@` : '';
          const list = c.where === 'list' ? `${c.key}=${enc(c.list(secret), c.encoded)}&` : '';
          const echoed = enc(secret, c.echoEncoded);
          const path = c.echo === 'path' ? `/${echoed}` : '/db';
          const option = c.echo === 'option' ? `appName=${echoed}&` : '';
          const value = `${c.scheme}${user}${c.host}${path}?${c.junk}${list}${option}region=eu-west-1`;
          assertHidden({ [`token-broker.io/${c.kind}-a`]: value }, secret);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
