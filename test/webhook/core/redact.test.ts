/**
 * Secret redaction: redactValue on its own, configError as the one place every value passes through,
 * and a property over arbitrary token-broker.io/ keys whose value is a URI with a password.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { configError, renderDenialMessage } from '../../../webhook/src/config-error.ts';
import type { Pod } from '../../../webhook/src/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/mutate.ts';
import { REDACTED, redactValue } from '../../../webhook/src/redact.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/spec.ts';
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
