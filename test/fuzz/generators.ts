/**
 * Structure-aware generators of fuzz cases (fast-check). Most cases are AdmissionReviews built from a
 * real pod (test fixtures, examples) with generated token-broker annotations: target URIs assembled
 * from schemes, user info, hosts, ports, databases and options, with fake secrets planted wherever a
 * driver takes a credential (password, session token as user, `sessionToken=`, encoded colons, the
 * secret repeated elsewhere), control characters, bidi controls, lone surrogates, wrong types, huge
 * values. Then pod edits that keep the Kubernetes shape (env, containers, mounts, UIDs, ports) and at
 * most one that breaks it (labelled), envelope edits (labelled valid or not), and some raw bodies:
 * random bytes, random JSON, truncated reviews, wrong content types, oversized bodies.
 */
import fc from 'fast-check';
import { BODY_LIMIT_BYTES } from '../../webhook/src/server/app.ts';
import { MAX_BODY_DEPTH } from '../../webhook/src/server/json-depth.ts';
import {
  MAX_LIST_ENTRIES,
  MAX_OWN_ANNOTATION_LENGTH,
  MAX_POD_DEPTH,
} from '../../webhook/src/injection/pod-shape.ts';
import { BASE_NAMES } from './base-pods.ts';
import type { Edit, FuzzCase } from './case.ts';

interface Planted<T> {
  value: T;
  secrets: string[];
}

const ALNUM = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'];
const BASE64 = [...ALNUM, '+', '/', '='];

/** Fake secrets: distinctive (`FAKE`), long enough never to occur by chance. */
const password = fc
  .string({ unit: fc.constantFrom(...ALNUM, '/', '+', '=', '-', '_'), minLength: 10, maxLength: 24 })
  .map((s) => `FAKEpw${s}`);
const sessionToken = fc
  .string({ unit: fc.constantFrom(...BASE64), minLength: 60, maxLength: 140 })
  .map((s) => `IQoJb3JpZ2luX2VjEFAKE${s}`);
const secret = fc.oneof(password, sessionToken);

/** Characters the sidecar cannot write, raw and percent-encoded, and URI syntax characters. */
const HOSTILE = [
  '\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029',
  '\u202e', '\u2067', '\u200f', '\u061c', '\ud800', '\udfff',
  '%0A', '%0d', '%00', '%1B', '%7F', '%C2%85', '%E2%80%AE', '%ED%A0%80', '%C0%AF', '%', '%zz', '%2',
  ' ', '"', "'", '\\', ':', '@', '/', '?', '#', '&', '=', ',', '*', '$', '😀', 'é', '%40', '%3A', '%2F',
]; // prettier-ignore
const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/);
const hostileText = fc
  .array(fc.oneof(word, fc.constantFrom(...HOSTILE)), { minLength: 1, maxLength: 4 })
  .map((a) => a.join(''));
const text = fc.oneof(
  { weight: 6, arbitrary: word },
  { weight: 3, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);

const SCHEMES = [
  'postgres',
  'postgresql',
  'mysql',
  'mongodb',
  'mongodb+srv',
  'POSTGRES',
  'MongoDB',
  'http',
  'jdbc:postgresql',
  '',
];
const RDS_HOSTS = [
  'invoicing.cluster-c9akciq32lfa.eu-west-1.rds.amazonaws.com',
  'db.abc123xyz.us-east-2.rds.amazonaws.com',
  'proxy.proxy-abc123.eu-central-1.rds.amazonaws.com',
  'db.internal.example.com',
  '10.0.0.12',
  '[2001:db8::1]',
];
const MONGO_HOSTS = [
  'cluster0.a1b2c3.mongodb.net',
  'm0.example.com:27017,m1.example.com:27018',
  'm0.example.com',
];
const REGIONS = ['eu-west-1', 'us-east-2', 'ap-southeast-2', 'EU-WEST-1', 'eu-west-1 ', 'xx-1', ''];
const ROLES = [
  'arn:aws:iam::111122223333:role/app',
  'arn:aws:iam::111122223333:role/path/MongoAccessRole',
  'arn:aws-cn:iam::111122223333:role/x',
  'arn:aws:iam::1:role/x',
  'arn:aws:sts::111122223333:assumed-role/x/y',
];
/** Option keys that carry a credential in some driver, in the spellings users (and attackers) write. */
const SECRET_KEYS = [
  'password', 'PASSWORD', 'Password', 'pwd', 'sessionToken', 'SESSIONTOKEN', 'session_token', 'sessiontoken',
  'AWS_SESSION_TOKEN', 'aws_session_token', 'authMechanismProperties', 'AuthMechanismProperties', 'sslpassword',
  'sslPassword', 'proxyPassword', 'tlsCertificateKeyFilePassword', 'secret', 'apiKey', 'token', 'accessToken',
  '%70assword', '%73essionToken', 'session%5Ftoken', 'passphrase', 'sslkey_password',
]; // prettier-ignore
const SAFE_OPTIONS: [string, fc.Arbitrary<string>][] = [
  ['region', fc.constantFrom(...REGIONS)],
  ['role', fc.constantFrom(...ROLES)],
  ['externalId', fc.oneof(word, text)],
  ['replicaSet', fc.constantFrom('rs0', 'atlas-xyz-shard-0')],
  ['tls', fc.constantFrom('true', 'false')],
  ['retryWrites', fc.constantFrom('true', 'false')],
  ['w', fc.constantFrom('majority', '1')],
  ['readPreference', fc.constantFrom('secondary', 'primaryPreferred')],
  ['appName', text],
  ['authSource', fc.constantFrom('$external', 'admin')],
  ['authMechanism', fc.constantFrom('MONGODB-AWS', 'SCRAM-SHA-256')],
  ['sslmode', fc.constantFrom('verify-full', 'require', 'disable')],
  ['connect_timeout', fc.constantFrom('10', 'x')],
  ['application_name', text],
];

/** Percent-encodes like a careful user; a lone surrogate cannot be encoded and stays as it is. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value;
  }
}

function plant(value: string, secrets: string[]): Planted<string> {
  return { value, secrets };
}

const userInfo: fc.Arbitrary<Planted<string>> = fc.oneof(
  { weight: 6, arbitrary: word.map((u) => plant(`${u}@`, [])) },
  { weight: 2, arbitrary: text.map((u) => plant(`${u}@`, [])) },
  { weight: 2, arbitrary: fc.constant(plant('', [])) },
  {
    weight: 2,
    arbitrary: fc.tuple(word, password).map(([u, p]) => plant(`${u}:${encode(p)}@`, [p])),
  },
  { weight: 1, arbitrary: fc.tuple(word, password).map(([u, p]) => plant(`${u}:${p}@`, [p])) },
  { weight: 2, arbitrary: sessionToken.map((t) => plant(`${encode(t)}@`, [t])) },
  { weight: 1, arbitrary: sessionToken.map((t) => plant(`${t}@`, [t])) },
  {
    weight: 2,
    arbitrary: fc.tuple(word, password).map(([u, p]) => plant(`${u}%3A${encode(p)}@`, [p])),
  },
  { weight: 1, arbitrary: fc.tuple(word, password).map(([u, p]) => plant(`${u}%3a${p}@`, [p])) },
  { weight: 1, arbitrary: word.map((u) => plant(`${u}:@`, [])) },
);

const host = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RDS_HOSTS) },
  { weight: 4, arbitrary: fc.constantFrom(...MONGO_HOSTS) },
  { weight: 1, arbitrary: text },
);
const port = fc.oneof(
  { weight: 5, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: fc.constantFrom(':5432', ':3306', ':27017') },
  { weight: 1, arbitrary: fc.constantFrom(':0', ':65536', ':-1', ':abc', ':', ':99999999999') },
);

const option: fc.Arbitrary<Planted<string>> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .constantFrom(...SAFE_OPTIONS)
      .chain(([k, v]) => v.map((value) => plant(`${k}=${encode(value)}`, []))),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...SAFE_OPTIONS)
      .chain(([k, v]) => v.map((value) => plant(`${k}=${value}`, []))),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...SECRET_KEYS), secret, fc.boolean()).map(([k, s, encoded]) => {
      const value = /authmechanismproperties/i.test(k) ? `AWS_SESSION_TOKEN:${s}` : s;
      return plant(`${k}=${encoded ? encode(value) : value}`, [s]);
    }),
  },
  { weight: 2, arbitrary: fc.tuple(text, text).map(([k, v]) => plant(`${k}=${v}`, [])) },
);

/** A target URI, well-formed or not, with the secrets planted in it. */
export const targetUri: fc.Arbitrary<Planted<string>> = fc
  .record({
    scheme: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...SCHEMES.slice(0, 5)) },
      { weight: 1, arbitrary: fc.constantFrom(...SCHEMES) },
    ),
    user: userInfo,
    host,
    port,
    database: fc.oneof(
      { weight: 6, arbitrary: word.map((d) => `/${d}`) },
      { weight: 1, arbitrary: fc.constantFrom('/', '') },
      { weight: 2, arbitrary: text.map((d) => `/${d}`) },
    ),
    /** 0: the first planted secret is also the database name (it must be cut there too). */
    echo: fc.nat(9),
    options: fc.array(option, { maxLength: 5 }),
  })
  .map((u) => {
    const secrets = [...u.user.secrets, ...u.options.flatMap((o) => o.secrets)];
    const database = u.echo === 0 && secrets[0] !== undefined ? `/${encode(secrets[0])}` : u.database;
    const query = u.options.length > 0 ? `?${u.options.map((o) => o.value).join('&')}` : '';
    return plant(`${u.scheme}://${u.user.value}${u.host}${u.port}${database}${query}`, secrets);
  });

const targetName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('db', 'orders', 'invoicing', 'events', 'a', 'x-1', 'ledger') },
  { weight: 1, arbitrary: fc.constantFrom('auth', 'Orders', 'db_1', '-x', 'a'.repeat(40), '') },
  { weight: 1, arbitrary: text },
);

type Entry = Planted<[string, unknown]>;

const targetAnnotation: fc.Arbitrary<Entry> = fc
  .tuple(fc.constantFrom('rds', 'mongo'), targetName, targetUri)
  .map(([kind, name, uri]) => ({
    value: [`token-broker.io/${kind}-${name}`, uri.value],
    secrets: uri.secrets,
  }));

const names = fc.constantFrom('app', 'sidecar', 'istio-proxy', 'migrate', 'token-broker', 'nope', 'extra-1');
const huge = (min: number, max: number) => fc.integer({ min, max }).map((times) => ({ $repeat: 'a', times }));

/** A value for an annotation: mostly meaningful, sometimes hostile, huge or not a string. */
function annotationValue(meaningful: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 20, arbitrary: meaningful },
    { weight: 3, arbitrary: text },
    { weight: 1, arbitrary: huge(MAX_OWN_ANNOTATION_LENGTH - 10, MAX_OWN_ANNOTATION_LENGTH + 10) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(5, true, null, ['x'], { a: 1 }, { $delete: true }) },
  );
}

/** Large foreign annotations: past Kubernetes' 256 KiB total, sometimes close to the body limit. */
const bigAnnotation = fc.tuple(
  fc.constant('example.com/big'),
  fc.oneof(
    { weight: 4, arbitrary: huge(10_000, 300_000) },
    { weight: 1, arbitrary: huge(1_000_000, 3_000_000) },
  ),
);

const otherAnnotation: fc.Arbitrary<Entry> = fc
  .oneof(
    {
      weight: 40,
      arbitrary: fc.oneof(
        fc.tuple(
          fc.constant('token-broker.io/containers'),
          annotationValue(fc.array(names, { minLength: 1, maxLength: 3 }).map((a) => a.join(','))),
        ),
        fc.tuple(
          fc.constant('token-broker.io/sidecar-mode'),
          annotationValue(fc.constantFrom('native', 'legacy', 'Native')),
        ),
        fc.tuple(
          fc.constant('token-broker.io/run-as-user'),
          annotationValue(fc.constantFrom('1000', '0', '65532', '-1', 'abc', '1e3', '99999999999')),
        ),
        fc.tuple(
          fc.constant('token-broker.io/refresh-margin'),
          annotationValue(fc.constantFrom('120', '2m', '90s', '601', '0', 'abc')),
        ),
        fc.tuple(
          fc.constantFrom(
            'token-broker.io/sidecar-cpu-request',
            'token-broker.io/sidecar-cpu-limit',
            'token-broker.io/sidecar-memory-request',
            'token-broker.io/sidecar-memory-limit',
          ),
          annotationValue(fc.constantFrom('10m', '100m', '64Mi', '1Gi', 'abc', '0.5', '1e3', '-1')),
        ),
        fc.tuple(fc.constant('token-broker.io/aws-credentials'), annotationValue(targetName)),
        fc.tuple(fc.constant('token-broker.io/status'), annotationValue(fc.constantFrom('injected', 'nope'))),
        fc.tuple(
          text.map((t) => `token-broker.io/${t}`),
          annotationValue(text),
        ),
        fc.tuple(
          fc.constantFrom('example.com/x', 'kubectl.kubernetes.io/default-container'),
          annotationValue(text),
        ),
      ),
    },
    { weight: 1, arbitrary: bigAnnotation },
  )
  .map((value) => ({ value, secrets: [] }));

const injectAnnotation: fc.Arbitrary<Entry> = fc
  .oneof(
    { weight: 30, arbitrary: fc.constant('true') },
    {
      weight: 3,
      arbitrary: fc.constantFrom<unknown>('false', 'True', '', 'yes', 1, true, { $delete: true }),
    },
    { weight: 1, arbitrary: text },
    { weight: 1, arbitrary: huge(MAX_OWN_ANNOTATION_LENGTH - 10, 200_000) },
  )
  .map((value) => ({ value: ['token-broker.io/inject', value], secrets: [] }));

const annotations: fc.Arbitrary<Planted<Record<string, unknown>>> = fc
  .tuple(
    injectAnnotation,
    fc.array(targetAnnotation, { maxLength: 3 }),
    fc.array(otherAnnotation, { maxLength: 3 }),
  )
  .map(([inject, targets, others]) => {
    const all = [inject, ...targets, ...others];
    return { value: Object.fromEntries(all.map((e) => e.value)), secrets: all.flatMap((e) => e.secrets) };
  });

// ---- pod edits -------------------------------------------------------------------------------------

const container = fc.nat(7);
const list = fc.constantFrom('containers', 'initContainers');
const ENV_NAMES = [
  'PORT', 'TOKEN_BROKER_DIR', 'TOKEN_BROKER_URL', 'PGPASSFILE', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_REGION', 'AWS_DEFAULT_REGION',
  'TOKEN_BROKER_CONFIG', 'TOKEN_BROKER_DB_HOST', 'X',
]; // prettier-ignore
const envValue = fc.oneof(
  text,
  fc.constantFrom(
    'http://169.254.170.23/v1/credentials',
    '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    'arn:aws:iam::111122223333:role/app',
    'eu-west-1',
  ),
);
const envVar = fc.oneof(
  fc.record({ name: fc.constantFrom(...ENV_NAMES), value: envValue }),
  fc.record({
    name: fc.constantFrom(...ENV_NAMES),
    valueFrom: fc.constant({ fieldRef: { fieldPath: 'status.podIP' } }),
  }),
);
const nestedExtra = fc.jsonValue({ maxDepth: 4 });

/** Edits a real API server could send: the pod stays well-formed. */
const benignEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(container, envVar).map(([i, e]) => ({ path: ['spec', 'containers', i, 'env', '-'], value: e })),
  fc
    .tuple(container, envVar)
    .map(([i, e]) => ({ path: ['spec', 'initContainers', i, 'env', '-'], value: e })),
  fc
    .tuple(
      list,
      fc.constantFrom(
        'extra-1',
        'extra-2',
        'istio-proxy',
        'linkerd-proxy',
        'token-broker',
        'token-broker-init',
        'migrate',
      ),
    )
    .map(([l, name]) => ({ path: ['spec', l, '-'], value: { name, image: 'example/x:1' } })),
  fc
    .tuple(
      container,
      fc.constantFrom('data', 'token-broker', 'aws-iam-token'),
      fc.constantFrom('/data', '/var/run/token-broker', '/var/run/secrets/eks.amazonaws.com/serviceaccount'),
    )
    .map(([i, name, mountPath]) => ({
      path: ['spec', 'containers', i, 'volumeMounts', '-'],
      value: { name, mountPath },
    })),
  fc
    .constantFrom('data', 'token-broker', 'cache')
    .map((name) => ({ path: ['spec', 'volumes', '-'], value: { name, emptyDir: {} } })),
  fc
    .constantFrom(0, 1000, 1001, 65532)
    .map((uid) => ({ path: ['spec', 'securityContext', 'runAsUser'], value: uid })),
  fc
    .tuple(container, fc.constantFrom(0, 1000, 1337))
    .map(([i, uid]) => ({ path: ['spec', 'containers', i, 'securityContext', 'runAsUser'], value: uid })),
  fc
    .tuple(container, fc.constantFrom(8080, 9901, 9902, 9903))
    .map(([i, p]) => ({ path: ['spec', 'containers', i, 'ports', '-'], value: { containerPort: p } })),
  fc.constant<Edit>({ path: ['spec', 'hostNetwork'], value: true }),
  fc.constantFrom('Never', 'OnFailure', 'Always').map((v) => ({ path: ['spec', 'restartPolicy'], value: v })),
  fc
    .tuple(container, nestedExtra)
    .map(([i, v]) => ({ path: ['spec', 'containers', i, 'x-extra'], value: v })),
  fc
    .integer({ min: 1, max: MAX_POD_DEPTH - 10 })
    .map((d) => ({ path: ['spec', 'affinity'], value: { $deep: d } })),
  fc
    .integer({ min: 0, max: 300 })
    .map((n) => ({ path: ['spec', 'containers', 0, 'env'], value: { $env: n } })),
);

/** Edits that break the Kubernetes shape of what the core reads (labelled: pod-shape.ts must refuse them). */
const breakingEdit: fc.Arbitrary<Edit> = fc
  .oneof(
    fc
      .constantFrom<unknown>([null, 42, 'x'], 'x', {}, 5, { $delete: true })
      .map((v) => ({ path: ['spec', 'containers'], value: v })),
    fc
      .tuple(list, container, fc.constantFrom<unknown>(null, 42, 'x', []))
      .map(([l, i, v]) => ({ path: ['spec', l, i], value: v })),
    fc
      .tuple(container, fc.constantFrom<unknown>(5, '', null, { $delete: true }, ['app']))
      .map(([i, v]) => ({ path: ['spec', 'containers', i, 'name'], value: v })),
    fc
      .tuple(list, container, fc.constantFrom<unknown>('PORT=80', {}, 5))
      .map(([l, i, v]) => ({ path: ['spec', l, i, 'env'], value: v })),
    fc
      .tuple(
        container,
        fc.constantFrom<unknown>(
          null,
          5,
          { name: 5 },
          { value: 'x' },
          { name: 'A', value: 5 },
          { name: 'A', valueFrom: 'x' },
          { name: 'A', value: { a: 1 } },
        ),
      )
      .map(([i, v]) => ({ path: ['spec', 'containers', i, 'env', '-'], value: v })),
    fc
      .tuple(
        container,
        fc.constantFrom<unknown>('x', [null], [{ name: 1, mountPath: '/x' }], [{ name: 'v' }]),
      )
      .map(([i, v]) => ({ path: ['spec', 'containers', i, 'volumeMounts'], value: v })),
    fc
      .tuple(
        container,
        fc.constantFrom<unknown>('x', ['80'], [{ containerPort: '80' }], [{ containerPort: 70000 }]),
      )
      .map(([i, v]) => ({ path: ['spec', 'containers', i, 'ports'], value: v })),
    fc
      .tuple(
        container,
        fc.constantFrom<unknown>('x', { runAsUser: '1000' }, { runAsUser: -1 }, { runAsUser: 1.5 }),
      )
      .map(([i, v]) => ({ path: ['spec', 'containers', i, 'securityContext'], value: v })),
    fc
      .constantFrom<unknown>('x', { runAsUser: '1000' }, { runAsUser: -1 })
      .map((v) => ({ path: ['spec', 'securityContext'], value: v })),
    fc.constantFrom<unknown>({}, [null], [{}], 'x').map((v) => ({ path: ['spec', 'volumes'], value: v })),
    fc.constantFrom<unknown>([], 'x', null, 5).map((v) => ({ path: ['spec'], value: v })),
    fc.constantFrom<unknown>({ a: 1 }, 5).map((v) => ({ path: ['metadata', 'name'], value: v })),
    fc.constantFrom<unknown>(5, []).map((v) => ({ path: ['spec', 'serviceAccountName'], value: v })),
    fc.constantFrom<unknown>('true', 1).map((v) => ({ path: ['spec', 'hostNetwork'], value: v })),
    fc
      .tuple(
        fc.constantFrom<(string | number)[]>(
          ['spec', 'affinity'],
          ['metadata', 'labels'],
          ['spec', 'containers', 0, 'x'],
        ),
        fc.oneof(
          fc.integer({ min: MAX_POD_DEPTH + 1, max: MAX_BODY_DEPTH - 10 }),
          fc.integer({ min: MAX_BODY_DEPTH + 1, max: 200_000 }),
        ),
      )
      .map(([path, depth]) => ({ path, value: { $deep: depth } })),
  )
  .map((edit): Edit => ({ ...edit, breaks: true }));

/** Past the bound on list entries: the whole spec is named. */
const tooManyEntries: fc.Arbitrary<Edit> = fc
  .integer({ min: MAX_LIST_ENTRIES + 1, max: MAX_LIST_ENTRIES + 5_000 })
  .map((n) => ({ path: ['spec', 'containers', 0, 'env'], value: { $env: n }, breaks: 'spec' }));

/** Pod edits that take the pod out of its opt-in without breaking what is read afterwards. */
const optOutEdit: fc.Arbitrary<Edit> = fc
  .constantFrom<unknown>('x', [], null, 5)
  .map((v) => ({ path: ['metadata', 'annotations'], value: v }));

// ---- envelope --------------------------------------------------------------------------------------

type EnvelopeEdit = { edits: Edit[]; valid: boolean };
const envelopeEdit: fc.Arbitrary<EnvelopeEdit> = fc.oneof(
  fc
    .constantFrom<[(string | number)[], unknown]>(
      [['request', 'uid'], { $delete: true }],
      [['request', 'uid'], 5],
      [['request', 'uid'], ''],
      [['request', 'uid'], { $deep: 50_000 }],
      [['apiVersion'], 'admission.k8s.io/v1beta1'],
      [['apiVersion'], { $delete: true }],
      [['kind'], 'Pod'],
      [['request'], null],
      [['request'], []],
      [['request', 'operation'], 'PATCH'],
      [['request', 'resource'], { group: 'apps', version: 'v1', resource: 'deployments' }],
      [['request', 'resource'], 'pods'],
      [['request', 'resource', 'group'], { $repeat: 'g', times: 200_000 }],
      [['request', 'dryRun'], 'yes'],
      [['request', 'namespace'], 7],
      [['request', 'object'], { $delete: true }],
      [['request', 'object'], 'pod'],
      [['request', 'object', 'kind'], 'Service'],
      [['request', 'subResource'], 5],
    )
    .map(([path, value]) => ({ edits: [{ path, value }], valid: false })),
  fc
    .constantFrom<[(string | number)[], unknown]>(
      [['request', 'operation'], 'UPDATE'],
      [['request', 'operation'], 'DELETE'],
      [['request', 'operation'], 'CONNECT'],
      [['request', 'subResource'], 'status'],
      [['request', 'subResource'], 'ephemeralcontainers'],
      [['request', 'dryRun'], true],
      [['request', 'namespace'], { $delete: true }],
      [['request', 'object', 'kind'], { $delete: true }],
      [['request', 'userInfo', 'extra'], { 'example.com/x': ['a', 'b'] }],
      [['request', 'oldObject'], { $deep: 20 }],
    )
    .map(([path, value]) => ({ edits: [{ path, value }], valid: true })),
);

// ---- cases -----------------------------------------------------------------------------------------

const none = fc.constant(undefined);

const reviewCase: fc.Arbitrary<FuzzCase> = fc
  .record({
    base: fc.constantFrom(...BASE_NAMES),
    // A quarter keep the base pod's own annotations: most fixtures inject, so patches get judged too.
    annotations: fc.oneof(
      { weight: 3, arbitrary: annotations },
      { weight: 1, arbitrary: fc.constant<Planted<Record<string, unknown>>>({ value: {}, secrets: [] }) },
    ),
    benign: fc.array(benignEdit, { maxLength: 4 }),
    breaking: fc.oneof(
      { weight: 80, arbitrary: none },
      { weight: 20, arbitrary: breakingEdit },
      { weight: 1, arbitrary: tooManyEntries },
      { weight: 10, arbitrary: optOutEdit },
    ),
    envelope: fc.oneof({ weight: 12, arbitrary: none }, { weight: 1, arbitrary: envelopeEdit }),
    contentType: fc.oneof(
      { weight: 40, arbitrary: fc.constant('application/json') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/yaml',
        ),
      },
    ),
    truncate: fc.oneof({ weight: 30, arbitrary: none }, { weight: 1, arbitrary: fc.nat(4000) }),
  })
  .map((r) => {
    const c: FuzzCase = { kind: 'review', base: r.base, annotations: r.annotations.value };
    const edits = [...r.benign, ...(r.breaking ? [r.breaking] : [])];
    if (edits.length > 0) c.edits = edits;
    if (r.envelope) {
      c.envelope = r.envelope.edits;
      c.envelopeValid = r.envelope.valid;
    }
    if (r.contentType !== 'application/json') c.contentType = r.contentType;
    if (r.truncate !== undefined) c.truncate = r.truncate;
    if (r.annotations.secrets.length > 0) c.secrets = r.annotations.secrets;
    return c;
  });

const randomBytes: fc.Arbitrary<FuzzCase> = fc
  .uint8Array({ maxLength: 600 })
  .map((bytes) => ({ kind: 'raw', raw: Buffer.from(bytes).toString('base64'), rawEncoding: 'base64' }));
const randomJson: fc.Arbitrary<FuzzCase> = fc
  .jsonValue({ maxDepth: 5 })
  .map((v) => ({ kind: 'raw', raw: JSON.stringify(v) ?? 'null' }));
/** Just over the body limit: refused before parsing. */
const oversized: fc.Arbitrary<FuzzCase> = fc.constantFrom(...BASE_NAMES).map((base) => ({
  kind: 'review',
  base,
  annotations: { 'example.com/pad': { $repeat: 'x', times: BODY_LIMIT_BYTES } },
}));

/** One fuzz case: mostly reviews of real pods with generated annotations and edits. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 400, arbitrary: reviewCase },
  { weight: 10, arbitrary: randomBytes },
  { weight: 10, arbitrary: randomJson },
  { weight: 1, arbitrary: oversized },
);
