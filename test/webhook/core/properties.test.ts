/**
 * Property tests over arbitrary user pods with valid token-broker annotations: injection is
 * idempotent, the patch reproduces the result, and no user field is dropped or changed.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WEB_IDENTITY_ENV } from '../../../webhook/src/injection/identity.ts';
import type {
  Container,
  EnvVar,
  Pod,
  Volume,
  VolumeMount,
} from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { isSelectedContainer } from '../../../webhook/src/injection/names.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { applyJsonPatch, asJson, assertInjectedStrict, deepFreeze, validatePod } from './support.ts';

const TARGETS: Record<string, string> = {
  'rds-invoicing': 'postgres://invoicingdbuser@invoicing.cluster-abc.eu-west-1.rds.amazonaws.com/invoicingdb',
  'rds-reports':
    'mysql://reporter@reports.abc.us-east-2.rds.amazonaws.com:3307/reports?role=arn:aws:iam::111122223333:role/r',
  'mongo-orders': 'mongodb+srv://cluster0.a1b2c3.mongodb.net/orders?region=eu-west-1&retryWrites=true',
  'mongo-events': 'mongodb://m0.example.com:27017,m1.example.com/events?region=eu-west-1&replicaSet=rs0',
};

const envName = fc.constantFrom(
  'PORT',
  'LOG_LEVEL',
  'PGPASSFILE',
  'TOKEN_BROKER_DIR',
  'TOKEN_BROKER_URL',
  'AWS_REGION',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'X_1',
);
const envVar: fc.Arbitrary<EnvVar> = fc.oneof(
  fc.record({ name: envName, value: fc.string({ maxLength: 8 }) }),
  fc.record({ name: envName, valueFrom: fc.constant({ fieldRef: { fieldPath: 'status.podIP' } }) }),
);
const env = fc.uniqueArray(envVar, { selector: (e) => e.name, maxLength: 4 });

const IRSA_ENV: EnvVar[] = [
  { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
  { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' },
];
const IRSA_MOUNT: VolumeMount = {
  name: 'aws-iam-token',
  mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
  readOnly: true,
};

const volumeName = fc.constantFrom('data', 'config', 'cache', 'tmp');
const mount = fc.record({
  name: volumeName,
  mountPath: fc.constantFrom('/data', '/etc/config', '/cache', '/tmp', '/var/run/token-broker'),
  readOnly: fc.option(fc.boolean(), { nil: undefined }),
});
const mounts = fc.uniqueArray(mount, { selector: (m) => m.mountPath, maxLength: 3 });

/** Fields token-broker never writes: they must survive unchanged. */
const extras = fc.record(
  {
    workingDir: fc.constantFrom('/app', '/srv'),
    stdin: fc.boolean(),
    'x-unknown-field': fc.jsonValue({ maxDepth: 2 }),
    args: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    resources: fc.constant({ requests: { cpu: '100m' } }),
  },
  { requiredKeys: [] },
);

interface ContainerShape {
  extra: Record<string, unknown>;
  env: EnvVar[];
  mounts: VolumeMount[];
  irsa: boolean;
  setUid: boolean;
}
const containerShape: fc.Arbitrary<ContainerShape> = fc.record({
  extra: extras,
  env,
  mounts,
  irsa: fc.boolean(),
  setUid: fc.boolean(),
});

const NAMES = ['app', 'worker', 'migrate', 'log-shipper', 'istio-proxy', 'setup'];

const scenario = fc
  .record({
    names: fc.shuffledSubarray(NAMES, { minLength: 1, maxLength: 5 }),
    initCount: fc.nat({ max: 2 }),
    shapes: fc.array(containerShape, { minLength: 5, maxLength: 5 }),
    uid: fc.option(fc.integer({ min: 1, max: 70000 }), { nil: undefined }),
    podUid: fc.boolean(),
    targets: fc.subarray(Object.keys(TARGETS), { minLength: 1 }),
    awsCredentials: fc.boolean(),
    mode: fc.constantFrom(undefined, 'native', 'legacy'),
    allowList: fc.option(fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), { nil: undefined }),
    restartPolicy: fc.constantFrom(undefined, 'Always', 'Never', 'OnFailure'),
    podExtra: fc.record(
      {
        nodeSelector: fc.constant({ 'kubernetes.io/os': 'linux' }),
        priority: fc.integer({ min: 0, max: 10 }),
      },
      { requiredKeys: [] },
    ),
  })
  .filter((s) => s.initCount < s.names.length);

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function buildPod(s: Scenario): Pod {
  const containers: Container[] = s.names.map((name, i) => {
    const shape = s.shapes[i] as ContainerShape;
    const c: Container = { name, image: `registry.example.com/${name}:1`, ...shape.extra };
    const e = [
      ...shape.env,
      ...(shape.irsa ? IRSA_ENV.filter((x) => !shape.env.some((y) => y.name === x.name)) : []),
    ];
    if (e.length > 0) c.env = e;
    const m = [
      ...shape.mounts,
      ...(shape.irsa && !shape.mounts.some((x) => x.name === IRSA_MOUNT.name) ? [IRSA_MOUNT] : []),
    ];
    if (m.length > 0) c.volumeMounts = m;
    if (shape.setUid && s.uid !== undefined) c.securityContext = { runAsUser: s.uid };
    return c;
  });
  const annotations: Record<string, string> = {
    'token-broker.io/inject': 'true',
    'other.example.com/keep': 'me',
  };
  for (const t of s.targets) annotations[`token-broker.io/${t}`] = TARGETS[t] ?? '';
  const mongo = s.targets.find((t) => t.startsWith('mongo-'));
  if (s.awsCredentials && mongo)
    annotations['token-broker.io/aws-credentials'] = mongo.slice('mongo-'.length);
  if (s.mode) annotations['token-broker.io/sidecar-mode'] = s.mode;
  if (s.allowList) {
    const allowed = s.names.filter((_, i) => s.allowList?.[i]);
    annotations['token-broker.io/containers'] = (allowed.length > 0 ? allowed : s.names.slice(0, 1)).join(
      ',',
    );
  }
  const volumes: Volume[] = ['data', 'config', 'cache', 'tmp'].map((name) => ({ name, emptyDir: {} }));
  if (containers.some((c) => c.volumeMounts?.some((m) => m.name === IRSA_MOUNT.name))) {
    volumes.push({ name: IRSA_MOUNT.name, projected: { sources: [] } });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', labels: { app: 'p' }, annotations },
    spec: {
      ...s.podExtra,
      ...(s.restartPolicy ? { restartPolicy: s.restartPolicy } : {}),
      ...(s.podUid && s.uid !== undefined ? { securityContext: { runAsUser: s.uid } } : {}),
      initContainers: containers.slice(0, s.initCount),
      containers: containers.slice(s.initCount),
      volumes,
    },
  };
}

function byName(containers: Container[] | undefined): Map<string, Container> {
  return new Map((containers ?? []).map((c) => [c.name, c]));
}

test('property: injection is idempotent, reproducible by its patch, and keeps every user field', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      // JSON round trip: fast-check may build null-prototype objects, which strict deepEqual tells apart.
      const input = deepFreeze(asJson(buildPod(s)));
      const original = asJson(input);
      const result = mutatePod({ pod: input, namespace: 'ns', defaults: BUILTIN_DEFAULTS });
      assert.ok(
        result.outcome === 'injected',
        `expected injection, got ${JSON.stringify(result.outcome === 'denied' ? result.message : result)}`,
      );
      assert.deepEqual(asJson(input), original, 'the input was changed');

      // The patch reproduces the result, and the result is a valid Pod.
      assert.deepEqual(applyJsonPatch(input, result.patch), asJson(result.pod));
      validatePod(result.pod);
      assertInjectedStrict(result.pod);

      // Idempotent.
      const again = mutatePod({
        pod: deepFreeze(asJson(result.pod)),
        namespace: 'ns',
        defaults: BUILTIN_DEFAULTS,
      });
      assert.equal(again.outcome, 'reconciled');
      assert.deepEqual(again.outcome === 'reconciled' ? again.patch : undefined, []);

      // Nothing the user wrote is dropped or changed.
      const out = result.pod;
      const allowList = input.metadata?.annotations?.['token-broker.io/containers']?.split(',');
      const awsCredentials = input.metadata?.annotations?.['token-broker.io/aws-credentials'] !== undefined;
      for (const [kind, before, after] of [
        ['initContainers', input.spec.initContainers, out.spec.initContainers],
        ['containers', input.spec.containers, out.spec.containers],
      ] as const) {
        const outByName = byName(after);
        assert.deepEqual(
          (after ?? []).map((c) => c.name).filter((n) => (before ?? []).some((b) => b.name === n)),
          (before ?? []).map((c) => c.name),
          `${kind}: user order changed`,
        );
        for (const c of before ?? []) {
          const o = outByName.get(c.name);
          assert.ok(o, `${kind}: ${c.name} was dropped`);
          if (!isSelectedContainer(c.name, allowList)) {
            assert.deepEqual(o, c, `${c.name} is outside the allow-list but changed`);
            continue;
          }
          for (const [k, v] of Object.entries(c)) {
            if (k !== 'env' && k !== 'volumeMounts') assert.deepEqual(o[k], v, `${c.name}.${k} changed`);
          }
          for (const e of c.env ?? []) {
            if (awsCredentials && WEB_IDENTITY_ENV.includes(e.name)) {
              assert.ok(!o.env?.some((x) => x.name === e.name), `${c.name}: web identity env ${e.name} kept`);
              continue;
            }
            assert.deepEqual(
              o.env?.find((x) => x.name === e.name),
              e,
              `${c.name}: user env ${e.name} changed`,
            );
          }
          for (const m of c.volumeMounts ?? []) {
            assert.ok(
              o.volumeMounts?.some((x) => JSON.stringify(x) === JSON.stringify(m)),
              `${c.name}: mount ${m.name} changed`,
            );
          }
        }
      }
      for (const [k, v] of Object.entries(input.spec)) {
        if (k === 'volumes') assert.deepEqual(out.spec.volumes?.slice(0, (v as Volume[]).length), v);
        else if (k !== 'containers' && k !== 'initContainers')
          assert.deepEqual(out.spec[k], v, `spec.${k} changed`);
      }
      for (const [k, v] of Object.entries(input.metadata?.annotations ?? {})) {
        assert.equal(out.metadata?.annotations?.[k], v);
      }
      assert.deepEqual(out.metadata?.labels, input.metadata?.labels);
    }),
    { numRuns: 200 },
  );
});
