/** injectPod details the golden fixtures show only once: the kubectl default container, the sidecar's region. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { injectPod } from '../../../webhook/src/injection/inject.ts';
import type { Container, EnvVar, Pod } from '../../../webhook/src/injection/k8s-types.ts';
import type { InjectionSpec } from '../../../webhook/src/injection/injection-spec.ts';
import { BUILTIN_DEFAULTS, resolveSpec } from '../../../webhook/src/injection/spec.ts';
import { deepFreeze } from './support.ts';

const PG = 'postgres://app@db.abc.eu-west-1.rds.amazonaws.com/app';
const DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

function pod(containers: Container[], annotations: Record<string, string> = {}): Pod {
  return deepFreeze({
    metadata: {
      name: 'p',
      annotations: { 'token-broker.io/inject': 'true', 'token-broker.io/rds-db': PG, ...annotations },
    },
    spec: { securityContext: { runAsUser: 1000 }, containers },
  });
}

function spec(p: Pod): InjectionSpec {
  const result = resolveSpec(p, 'ns', BUILTIN_DEFAULTS);
  assert.ok(result.ok, JSON.stringify(result));
  return result.spec;
}

function inject(p: Pod): Pod {
  return injectPod(p, spec(p)).pod;
}

describe('kubectl.kubernetes.io/default-container', () => {
  const legacy = { 'token-broker.io/sidecar-mode': 'legacy' };
  test('legacy mode: the first app container, since the sidecar now comes first', () => {
    const out = inject(pod([{ name: 'web' }, { name: 'worker' }], legacy));
    assert.equal(out.spec.containers[0]?.name, 'token-broker');
    assert.equal(out.metadata?.annotations?.[DEFAULT_CONTAINER], 'web');
  });
  test('a mesh proxy listed first is skipped', () => {
    const out = inject(pod([{ name: 'istio-proxy' }, { name: 'web' }], legacy));
    assert.equal(out.metadata?.annotations?.[DEFAULT_CONTAINER], 'web');
  });
  test("the user's choice is kept", () => {
    const out = inject(
      pod([{ name: 'web' }, { name: 'worker' }], { ...legacy, [DEFAULT_CONTAINER]: 'worker' }),
    );
    assert.equal(out.metadata?.annotations?.[DEFAULT_CONTAINER], 'worker');
  });
  test('native mode leaves it alone: the app is still the first container', () => {
    const out = inject(pod([{ name: 'web' }]));
    assert.equal(out.metadata?.annotations?.[DEFAULT_CONTAINER], undefined);
  });
});

describe("the sidecar's AWS region", () => {
  const IRSA: EnvVar[] = [
    { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' },
  ];
  function sidecarEnv(env: EnvVar[]): Record<string, string | undefined> {
    const out = inject(pod([{ name: 'app', env }]));
    const sidecar = out.spec.initContainers?.[0];
    assert.equal(sidecar?.name, 'token-broker');
    return Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value]));
  }
  test('no identity: no region env, so the EKS webhook running after us can still set its own', () => {
    const env = sidecarEnv([]);
    assert.equal(env.AWS_REGION, undefined);
    assert.equal(env.AWS_DEFAULT_REGION, undefined);
  });
  test('copied from the identity container (the cluster region), not the target region', () => {
    const env = sidecarEnv([
      ...IRSA,
      { name: 'AWS_REGION', value: 'us-east-1' },
      { name: 'AWS_DEFAULT_REGION', value: 'us-east-1' },
    ]);
    assert.equal(env.AWS_REGION, 'us-east-1');
    assert.equal(env.AWS_DEFAULT_REGION, 'us-east-1');
  });
  test('AWS_DEFAULT_REGION alone also sets AWS_REGION (the JS SDK reads only that)', () => {
    const env = sidecarEnv([...IRSA, { name: 'AWS_DEFAULT_REGION', value: 'us-east-2' }]);
    assert.equal(env.AWS_REGION, 'us-east-2');
    assert.equal(env.AWS_DEFAULT_REGION, 'us-east-2');
  });
  test('an empty region on the identity container is not copied', () => {
    assert.equal(sidecarEnv([...IRSA, { name: 'AWS_REGION', value: '' }]).AWS_REGION, undefined);
  });
  test('a region on a container without identity is not taken', () => {
    const out = inject(pod([{ name: 'app', env: [{ name: 'AWS_REGION', value: 'ap-south-1' }] }]));
    const region = out.spec.initContainers?.[0]?.env?.find((e) => e.name === 'AWS_REGION');
    assert.equal(region, undefined);
  });
});

describe("the sidecar's mounts", () => {
  const API_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
  const IDENTITIES: Record<string, { env: EnvVar[]; mount: { name: string; mountPath: string } }> = {
    IRSA: {
      env: [
        { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
        {
          name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
          value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
        },
      ],
      mount: { name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
    },
    'EKS Pod Identity': {
      env: [
        { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
        {
          name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
          value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
        },
      ],
      mount: {
        name: 'eks-pod-identity-token',
        mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
      },
    },
  };
  const inside = (a: string, b: string) => `${a}/`.startsWith(`${b}/`);

  for (const [kind, { env, mount }] of Object.entries(IDENTITIES)) {
    test(`${kind}: its token mount sits beside the empty API-token mount, neither inside another`, () => {
      const out = inject(pod([{ name: 'app', env, volumeMounts: [{ ...mount, readOnly: true }] }]));
      const mounts = out.spec.initContainers?.[0]?.volumeMounts ?? [];
      assert.deepEqual(
        mounts.map((m) => [m.name, m.mountPath]),
        [
          ['token-broker', '/var/run/token-broker'],
          ['token-broker-no-api-token', API_TOKEN_PATH],
          [mount.name, mount.mountPath],
        ],
      );
      for (const a of mounts) {
        for (const b of mounts) {
          if (a !== b)
            assert.ok(!inside(a.mountPath, b.mountPath), `${a.mountPath} is inside ${b.mountPath}`);
        }
      }
    });
  }

  for (const mountPath of [API_TOKEN_PATH, '/var/run/secrets', `${API_TOKEN_PATH}/aws`]) {
    test(`a web identity token under a mount at ${mountPath} keeps that mount; the empty one yields`, () => {
      const tokenFile = `${mountPath}/token`;
      const out = inject(
        pod([
          {
            name: 'app',
            env: [
              { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
              { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: tokenFile },
            ],
            volumeMounts: [{ name: 'custom-token', mountPath, readOnly: true }],
          },
        ]),
      );
      const mounts = out.spec.initContainers?.[0]?.volumeMounts ?? [];
      assert.deepEqual(
        mounts.map((m) => m.name),
        ['token-broker', 'custom-token'],
      );
    });
  }
});
