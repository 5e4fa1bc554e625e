/**
 * The webhook never admits a target the sidecar refuses. For generated hostile values, the webhook
 * denies a field exactly when the sidecar's contract parser rejects it; and for generated target
 * annotations, every admitted pod carries a config the sidecar parses and can render, with no
 * option outside the allow-list and no session token copied on.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { passThroughMongoOption } from '../../../contract/mongo-options.ts';
import {
  parseSidecarConfig,
  serializeSidecarConfig,
  SIDECAR_CONFIG_ENV,
  type Target,
} from '../../../contract/sidecar-config.ts';
import { renderMongoUri } from '../../../sidecar/src/mongo-uri.ts';
import { renderPgpass } from '../../../sidecar/src/pgpass.ts';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { parseMongoTarget, parseRdsTarget } from '../../../webhook/src/injection/target-uri.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../../fakes/sidecar-config.ts';
import { deepFreeze } from './support.ts';

const HOST = 'inv.cluster-x.eu-west-1.rds.amazonaws.com';
const SRV = 'c0.example.mongodb.net';

/** Ordinary and hostile units; ':' and secret-looking runs are left out (the webhook denies those on purpose). */
const unit = fc.constantFrom(
  ...['a', 'Z', '0', '-', '_', '.', ' ', '%', '+', '/', '@', '"', 'é', '😀'],
  ...['\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029'],
  ...['\u202e', '\u2067', '\u200f', '\u061c', '\ud800', '\udfff'],
);
const hostile = fc.string({ unit, maxLength: 12 });

/** Mostly ordinary text with the odd hostile unit, so about half the generated pods are admitted. */
const safeUnit = fc.constantFrom('a', 'Z', '0', '-', '_', '.', 'é');
const mostlySafe = fc.string({
  unit: fc.oneof({ weight: 12, arbitrary: safeUnit }, { weight: 1, arbitrary: unit }),
  minLength: 1,
  maxLength: 10,
});

/** A lone surrogate as 3 %-escaped bytes (as CESU-8/WTF-8 would write it): invalid UTF-8. */
function escapedSurrogate(code: number): string {
  return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
    .map((b) => `%${b.toString(16).toUpperCase()}`)
    .join('');
}

/** Percent-encodes `text` for a URI; lone surrogates go in raw or as escaped bytes. */
function encode(text: string, rawSurrogates: boolean): string {
  let out = '';
  for (const ch of text) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      out += rawSurrogates ? ch : escapedSurrogate(ch.charCodeAt(0));
    }
  }
  return out;
}

function sidecarRejects(target: Target): boolean {
  try {
    parseSidecarConfig(serializeSidecarConfig(sidecarConfig({ targets: [target] })));
    return false;
  } catch {
    return true;
  }
}

describe('the webhook denies a value exactly when the sidecar would reject it', () => {
  const fields: {
    field: string;
    uri: (v: string) => string;
    kind: 'rds' | 'mongo';
    target: (v: string) => Target;
  }[] = [
    {
      field: 'rds user',
      kind: 'rds',
      uri: (v) => `postgres://${v}@${HOST}/invoicing`,
      target: (v) => rdsTarget({ name: 'db', user: v }),
    },
    {
      field: 'rds database',
      kind: 'rds',
      uri: (v) => `postgres://app@${HOST}/${v}`,
      target: (v) => rdsTarget({ name: 'db', database: v }),
    },
    {
      field: 'mongo database',
      kind: 'mongo',
      uri: (v) => `mongodb+srv://${SRV}/${v}?region=eu-west-1`,
      target: (v) => mongoTarget({ name: 'db', database: v }),
    },
    {
      field: 'mongo option value',
      kind: 'mongo',
      uri: (v) => `mongodb+srv://${SRV}/docs?region=eu-west-1&appName=${v}`,
      target: (v) => mongoTarget({ name: 'db', options: { appName: v } }),
    },
  ];
  for (const { field, kind, uri, target } of fields) {
    it(`${field} (property)`, () => {
      fc.assert(
        fc.property(fc.oneof(hostile, mostlySafe), fc.boolean(), (value, rawSurrogates) => {
          const annotation = uri(encode(value, rawSurrogates));
          const parsed =
            kind === 'rds' ? parseRdsTarget('db', annotation) : parseMongoTarget('db', annotation);
          const denied = parsed.target === undefined;
          const rejected = sidecarRejects(target(value));
          assert.equal(denied, rejected, `${JSON.stringify(value)}: ${JSON.stringify(parsed.errors)}`);
        }),
        { numRuns: 400 },
      );
    });
  }
});

const SESSION_TOKEN = `IQoJb3JpZ2luX2VjE${'Q'.repeat(30)}`;

const optionKey = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('appName', 'retryWrites', 'w', 'tls', 'readPreference', 'tlsInsecure'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'sessionToken',
      '%73essionToken',
      'AWS_SESSION_TOKEN',
      'authMechanismProperties',
      'proxyPassword',
      'passphrase',
      'key',
      'authSource',
      'password',
      'sslpassword',
      'foo',
    ),
  },
);
const optionValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('true', 'false', 'majority') },
  { weight: 3, arbitrary: mostlySafe },
  { weight: 1, arbitrary: fc.constantFrom(SESSION_TOKEN, `AWS_SESSION_TOKEN:${SESSION_TOKEN}`) },
);
const options = fc
  .array(fc.tuple(optionKey, optionValue), { maxLength: 3 })
  .map((pairs) => pairs.map(([k, v]) => `&${k}=${encode(v, false)}`).join(''));
const hostileUser = fc.constantFrom(`${SESSION_TOKEN}@`, 'app%3Apw@', 'app%0Aevil@', 'u:p@', 'app%E2%80%AE@');
const database = fc.oneof(
  { weight: 3, arbitrary: fc.constant('invoicing') },
  { weight: 3, arbitrary: mostlySafe.map((v) => encode(v, false)) },
  { weight: 1, arbitrary: fc.constant(SESSION_TOKEN) },
);

/** Target annotations built from real and hostile parts: user-info, database, query options. */
const annotation = fc.oneof(
  fc
    .record({
      scheme: fc.constantFrom('postgres', 'mysql'),
      user: fc.oneof({ weight: 3, arbitrary: mostlySafe.map((v) => `${encode(v, false)}@`) }, hostileUser),
      db: database,
      query: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, options),
    })
    .map(({ scheme, user, db, query }) => ({
      key: 'token-broker.io/rds-db',
      value: `${scheme}://${user}${HOST}/${db}${query ? `?${query.slice(1)}` : ''}`,
    })),
  fc
    .record({
      hosts: fc.constantFrom(`mongodb+srv://${SRV}`, 'mongodb://m0.example.com:27017,m1.example.com'),
      user: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, hostileUser),
      db: database,
      query: options,
    })
    .map(({ hosts, user, db, query }) => ({
      key: 'token-broker.io/mongo-db',
      value: `${hosts.replace('//', `//${user}`)}/${db}?region=eu-west-1${query}`,
    })),
);

const CREDENTIALS = {
  accessKeyId: 'ASIAEXAMPLE000000001',
  secretAccessKey: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY',
  sessionToken: 'real-session-token',
  expiresAt: Date.UTC(2030, 0, 1),
};

it('every admitted pod carries a config the sidecar parses and renders (property)', () => {
  fc.assert(
    fc.property(annotation, ({ key, value }) => {
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'p',
          namespace: 'ns',
          annotations: { 'token-broker.io/inject': 'true', [key]: value },
        },
        spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app', image: 'app:1' }] },
      };
      const result = mutatePod({ pod: deepFreeze(pod), namespace: 'ns', defaults: BUILTIN_DEFAULTS });
      if (result.outcome !== 'injected') return;
      const sidecar = [...(result.pod.spec.initContainers ?? []), ...result.pod.spec.containers].find((c) =>
        c.env?.some((e) => e.name === SIDECAR_CONFIG_ENV),
      );
      const json = sidecar?.env?.find((e) => e.name === SIDECAR_CONFIG_ENV)?.value ?? '';
      assert.ok(!json.includes(SESSION_TOKEN.slice(0, 20)), `session token copied on: ${json}`);
      const config = parseSidecarConfig(json);
      for (const target of config.targets) {
        if (target.kind === 'rds') {
          renderPgpass([{ ...target, password: 'token' }]);
        } else {
          const uri = renderMongoUri(target, CREDENTIALS);
          for (const k of Object.keys(target.options))
            assert.ok(passThroughMongoOption(k), `${k} passed through`);
          assert.equal(uri.split('authMechanismProperties').length, 2, `one session token in ${uri}`);
        }
      }
    }),
    { numRuns: 1500 },
  );
});
