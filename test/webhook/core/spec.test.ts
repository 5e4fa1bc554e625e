import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Container, EnvVar, Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import {
  BUILTIN_DEFAULTS,
  mergeDefaults,
  resolveSpec,
  type SpecResult,
} from '../../../webhook/src/injection/spec.ts';
import { deepFreeze } from './support.ts';

const PG = 'postgres://app@db.abc.eu-west-1.rds.amazonaws.com/app';

function pod(annotations: Record<string, string>, spec: Partial<Pod['spec']> = {}): Pod {
  return deepFreeze({
    metadata: { name: 'p', annotations: { 'token-broker.io/inject': 'true', ...annotations } },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...spec },
  });
}

function ok(result: SpecResult) {
  assert.ok(result.ok, `expected a spec, got ${JSON.stringify(result)}`);
  return result;
}

describe('precedence: pod annotation > webhook defaults > built-in', () => {
  test('built-in defaults', () => {
    const { spec } = ok(resolveSpec(pod({ 'token-broker.io/rds-db': PG }), 'ns', BUILTIN_DEFAULTS));
    assert.equal(spec.mode, 'native');
    assert.equal(spec.refreshMarginSeconds, 120);
    assert.deepEqual(spec.resources, { cpuRequest: '10m', memoryRequest: '64Mi', memoryLimit: '128Mi' });
    assert.equal(spec.image, 'ghcr.io/token-broker/token-broker:0.1.0');
    assert.equal(spec.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual([spec.apiPort, spec.healthPort, spec.metricsPort], [9901, 9902, 9903]);
    assert.equal(spec.runAsUser, 65532);
  });

  test('webhook defaults override built-ins, key by key for resources', () => {
    const defaults = mergeDefaults({
      sidecarMode: 'legacy',
      refreshMarginSeconds: 60,
      resources: { cpuLimit: '100m' },
    });
    const { spec } = ok(resolveSpec(pod({ 'token-broker.io/rds-db': PG }), 'ns', defaults));
    assert.equal(spec.mode, 'legacy');
    assert.equal(spec.refreshMarginSeconds, 60);
    assert.deepEqual(spec.resources, {
      cpuRequest: '10m',
      cpuLimit: '100m',
      memoryRequest: '64Mi',
      memoryLimit: '128Mi',
    });
  });

  test('pod annotations override webhook defaults', () => {
    const defaults = mergeDefaults({ sidecarMode: 'legacy', refreshMarginSeconds: 60, runAsUser: 4000 });
    const { spec } = ok(
      resolveSpec(
        pod({
          'token-broker.io/rds-db': PG,
          'token-broker.io/sidecar-mode': 'native',
          'token-broker.io/refresh-margin': '90s',
          'token-broker.io/sidecar-memory-limit': '128Mi',
          'token-broker.io/run-as-user': '1234',
        }),
        'ns',
        defaults,
      ),
    );
    assert.equal(spec.mode, 'native');
    assert.equal(spec.refreshMarginSeconds, 90);
    assert.equal(spec.resources.memoryLimit, '128Mi');
    assert.equal(spec.runAsUser, 1234);
  });

  test('mergeDefaults does not touch BUILTIN_DEFAULTS', () => {
    mergeDefaults({ resources: { cpuRequest: '1' } });
    assert.equal(BUILTIN_DEFAULTS.resources.cpuRequest, '10m');
    assert.ok(Object.isFrozen(BUILTIN_DEFAULTS));
  });
});

test('targets are sorted by name whatever the annotation order', () => {
  const { spec } = ok(
    resolveSpec(
      pod({
        'token-broker.io/rds-zeta': PG,
        'token-broker.io/mongo-alpha': 'mongodb+srv://c.mongodb.net/db?region=eu-west-1',
        'token-broker.io/rds-mid': PG,
      }),
      'ns',
      BUILTIN_DEFAULTS,
    ),
  );
  assert.deepEqual(
    spec.targets.map((t) => t.name),
    ['alpha', 'mid', 'zeta'],
  );
});

test('all errors are collected, not just the first', () => {
  const result = resolveSpec(
    pod({
      'token-broker.io/rds-db': 'postgres://app@h.example.com/app',
      'token-broker.io/sidecar-mode': 'x',
      'token-broker.io/refresh-margin': 'x',
      'token-broker.io/run-as-user': 'x',
      'token-broker.io/containers': 'nope',
      'token-broker.io/aws-credentials': 'db',
      'token-broker.io/sidecar-memory-limit': 'x',
      'token-broker.io/unknown': 'x',
    }),
    'ns',
    BUILTIN_DEFAULTS,
  );
  assert.ok(!result.ok);
  assert.deepEqual(result.errors.map((e) => e.code).sort(), [
    'invalid-quantity',
    'invalid-value',
    'invalid-value',
    'invalid-value',
    'missing-region',
    'unknown-annotation',
    'unknown-aws-credentials-target',
    'unknown-container',
  ]);
});

describe('sidecar UID', () => {
  const c = (name: string, runAsUser?: number): Container => ({
    name,
    image: 'i',
    ...(runAsUser === undefined ? {} : { securityContext: { runAsUser } }),
  });
  const cases: {
    name: string;
    containers: Container[];
    podUid?: number;
    annotations?: Record<string, string>;
    want: number | 'error';
    warnings: RegExp[];
  }[] = [
    { name: 'pod-level UID', containers: [c('app')], podUid: 1000, want: 1000, warnings: [] },
    {
      name: 'container UID beats pod UID',
      containers: [c('app', 2000)],
      podUid: 1000,
      want: 2000,
      warnings: [],
    },
    { name: 'containers agree', containers: [c('a', 7), c('b', 7)], want: 7, warnings: [] },
    { name: 'containers disagree', containers: [c('a', 7), c('b', 8)], want: 'error', warnings: [] },
    {
      name: 'allow-list removes the disagreement',
      containers: [c('a', 7), c('b', 8)],
      annotations: { 'token-broker.io/containers': 'b' },
      want: 8,
      warnings: [],
    },
    {
      name: 'mesh proxy is ignored',
      containers: [c('app', 1000), c('istio-proxy', 1337)],
      want: 1000,
      warnings: [],
    },
    { name: 'root app keeps the default', containers: [c('app', 0)], want: 65532, warnings: [] },
    {
      name: 'unknown UID warns about pgpass',
      containers: [c('app')],
      want: 65532,
      warnings: [/libpq will ignore the pgpass/],
    },
    {
      name: 'annotation wins, with a warning when it differs',
      containers: [c('app', 1000)],
      annotations: { 'token-broker.io/run-as-user': '1001' },
      want: 1001,
      warnings: [/container "app" \(1000\)/],
    },
  ];
  for (const tc of cases) {
    test(tc.name, () => {
      const p = pod(
        { 'token-broker.io/rds-db': PG, ...tc.annotations },
        {
          containers: tc.containers,
          ...(tc.podUid === undefined ? {} : { securityContext: { runAsUser: tc.podUid } }),
        },
      );
      const result = resolveSpec(p, 'ns', BUILTIN_DEFAULTS);
      if (tc.want === 'error') {
        assert.ok(!result.ok);
        assert.deepEqual(
          result.errors.map((e) => e.code),
          ['conflicting-run-as-user'],
        );
        return;
      }
      const { spec, warnings } = ok(result);
      assert.equal(spec.runAsUser, tc.want);
      assert.equal(warnings.length, tc.warnings.length, JSON.stringify(warnings));
      tc.warnings.forEach((w, i) => assert.match(warnings[i] ?? '', w));
    });
  }
});

describe('ServiceAccount identity warning', () => {
  const base = { 'token-broker.io/rds-db': PG };
  const uid = { securityContext: { runAsUser: 1000 } };
  test('no ServiceAccount given: no warning', () => {
    assert.deepEqual(ok(resolveSpec(pod(base, uid), 'ns', BUILTIN_DEFAULTS)).warnings, []);
  });
  test('IRSA role annotation: no warning', () => {
    const sa = {
      name: 'app',
      annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/r' },
    };
    assert.deepEqual(ok(resolveSpec(pod(base, uid), 'ns', BUILTIN_DEFAULTS, sa)).warnings, []);
  });
  test('no role and no identity env: warning naming the ServiceAccount', () => {
    const { warnings } = ok(
      resolveSpec(pod(base, uid), 'billing', BUILTIN_DEFAULTS, { name: 'app', annotations: {} }),
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /no AWS identity: annotate ServiceAccount billing\/app/);
  });
  test('Pod Identity env present: no warning', () => {
    const p = pod(base, {
      ...uid,
      containers: [
        {
          name: 'app',
          env: [
            { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
          ],
        },
      ],
    });
    assert.deepEqual(
      ok(resolveSpec(p, 'ns', BUILTIN_DEFAULTS, { name: 'app', annotations: {} })).warnings,
      [],
    );
  });
});

describe('ServiceAccount identity warning on re-invocation', () => {
  const NO_IDENTITY = /the sidecar will have no AWS identity/;
  const sa = { name: 'app', annotations: {} };
  const IDENTITY: Record<string, EnvVar[]> = {
    'EKS Pod Identity': [
      { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
      {
        name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
        value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
      },
    ],
    IRSA: [
      { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ],
  };
  /** The pod as stored after our first call: the sidecar holds the identity, the app points at it. */
  function storedPod(env: EnvVar[], mode: string): Pod {
    const first = mutatePod({
      pod: pod(
        {
          'token-broker.io/mongo-orders': 'mongodb+srv://c.example.net/orders?region=eu-west-1',
          'token-broker.io/aws-credentials': 'orders',
          'token-broker.io/sidecar-mode': mode,
        },
        { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app', image: 'app:1', env }] },
      ),
      namespace: 'ns',
      defaults: BUILTIN_DEFAULTS,
      serviceAccount: sa,
    });
    assert.ok(first.outcome === 'injected', JSON.stringify(first));
    return deepFreeze(first.pod);
  }
  for (const [kind, env] of Object.entries(IDENTITY)) {
    for (const mode of ['native', 'legacy']) {
      test(`${kind}, ${mode}: no warning when only the stored sidecar still holds the identity`, () => {
        const stored = storedPod(env, mode);
        const app = stored.spec.containers.find((c) => c.name === 'app');
        assert.ok(!app?.env?.some((e) => e.value === env[0]?.value), 'the app still carries the identity');
        const { warnings } = ok(resolveSpec(stored, 'ns', BUILTIN_DEFAULTS, sa));
        assert.ok(!warnings.some((w) => NO_IDENTITY.test(w)), warnings.join('\n'));
      });
    }
  }
  test('still warns when the stored sidecar has no identity either', () => {
    const { warnings } = ok(resolveSpec(storedPod([], 'native'), 'ns', BUILTIN_DEFAULTS, sa));
    assert.ok(warnings.some((w) => NO_IDENTITY.test(w)));
  });
  test('legacy: warns when one of the two injected containers lacks it', () => {
    const stored = structuredClone(storedPod(IDENTITY.IRSA ?? [], 'legacy'));
    const init = stored.spec.initContainers?.find((c) => c.name === 'token-broker-init');
    assert.ok(init);
    init.env = init.env?.filter((e) => !e.name.startsWith('AWS_'));
    const { warnings } = ok(resolveSpec(stored, 'ns', BUILTIN_DEFAULTS, sa));
    assert.ok(warnings.some((w) => NO_IDENTITY.test(w)));
  });
});

test('volume names token-broker injects are reserved on a pod not injected yet', () => {
  for (const name of ['token-broker', 'token-broker-no-api-token']) {
    const result = resolveSpec(
      pod({ 'token-broker.io/rds-db': PG }, { volumes: [{ name, emptyDir: {} }] }),
      'ns',
      BUILTIN_DEFAULTS,
    );
    assert.ok(!result.ok);
    assert.deepEqual(
      result.errors.map((e) => [e.code, e.value]),
      [['reserved-name', name]],
    );
  }
});

test('a pod without containers (e.g. a malformed AdmissionReview) is denied, not crashed on', () => {
  const result = resolveSpec(
    deepFreeze({ metadata: { annotations: { 'token-broker.io/rds-db': PG } }, spec: {} } as unknown as Pod),
    'ns',
    BUILTIN_DEFAULTS,
  );
  assert.ok(!result.ok);
  assert.deepEqual(
    result.errors.map((e) => e.code),
    ['no-containers'],
  );
});

describe('sidecar port warnings', () => {
  const base = { 'token-broker.io/rds-db': PG };
  const uid = { securityContext: { runAsUser: 1000 } };
  test('an app container declaring a sidecar port: warning naming the server and the flag', () => {
    const p = pod(base, {
      ...uid,
      containers: [
        { name: 'app', image: 'app:1', ports: [{ containerPort: 9903 }, { containerPort: 8080 }] },
      ],
    });
    const { warnings } = ok(resolveSpec(p, 'ns', BUILTIN_DEFAULTS));
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /container "app" declares port 9903, which the token-broker sidecar's metrics server listens on .*--sidecar-metrics-port flag \(chart: sidecar\.ports\.metrics\)/,
    );
  });
  test('the warning follows the configured ports', () => {
    const p = pod(base, {
      ...uid,
      containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 9903 }] }],
    });
    const moved = mergeDefaults({ metricsPort: 19903 });
    assert.deepEqual(ok(resolveSpec(p, 'ns', moved)).warnings, []);
    const clash = mergeDefaults({ apiPort: 9903, metricsPort: 19903 });
    assert.match(
      ok(resolveSpec(p, 'ns', clash)).warnings[0] ?? '',
      /API server listens on .*--sidecar-api-port/,
    );
  });
  test('hostNetwork: a warning with the ports in use', () => {
    const { warnings } = ok(resolveSpec(pod(base, { ...uid, hostNetwork: true }), 'ns', BUILTIN_DEFAULTS));
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /^hostNetwork: true: the sidecar listens on ports 9901, 9902, 9903 in the node's/,
    );
  });
});
