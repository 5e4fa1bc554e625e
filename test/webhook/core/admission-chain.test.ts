/**
 * Our webhook inside the API server's admission chain (stand-ins in admission-chain.ts): the sidecar
 * holds no Kubernetes API token, ServiceAccount admission no longer re-invokes us, and the identity
 * warning is right whichever way round the EKS webhook runs.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Container, Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import {
  admitPod,
  API_TOKEN_PATH,
  eksEnv,
  eksMountPath,
  eksPodIdentityWebhook,
  labellingWebhook,
  serviceAccountAdmission,
  type EksIdentity,
  type OurAnswer,
  type Webhook,
} from './admission-chain.ts';
import { asJson, assertInjectedStrict, deepFreeze, validatePod } from './support.ts';

const OWN = ['token-broker', 'token-broker-init'];
const NO_IDENTITY = /the sidecar will have no AWS identity/;

interface PodOptions {
  mode?: 'native' | 'legacy';
  awsCredentials?: boolean;
  containers?: string;
  automount?: false;
}

function appPod(options: PodOptions = {}): Pod {
  const annotations: Record<string, string> = {
    'token-broker.io/inject': 'true',
    'token-broker.io/mongo-orders': 'mongodb+srv://cluster0.a1b2c3.mongodb.net/orders?region=eu-west-1',
  };
  if (options.mode) annotations['token-broker.io/sidecar-mode'] = options.mode;
  if (options.awsCredentials) annotations['token-broker.io/aws-credentials'] = 'orders';
  if (options.containers) annotations['token-broker.io/containers'] = options.containers;
  return deepFreeze({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'orders', namespace: 'billing', annotations },
    spec: {
      serviceAccountName: 'orders',
      securityContext: { runAsUser: 1000 },
      ...(options.automount === false ? { automountServiceAccountToken: false } : {}),
      initContainers: [{ name: 'migrate', image: 'app:1' }],
      containers: [
        { name: 'app', image: 'app:1' },
        { name: 'worker', image: 'app:1' },
      ],
    },
  });
}

/** Our webhook's answer; the ServiceAccount has no IRSA annotation (EKS Pod Identity, or a lagging lookup). */
function answer(pod: Pod): OurAnswer {
  const result = mutatePod({
    pod,
    namespace: 'billing',
    defaults: BUILTIN_DEFAULTS,
    serviceAccount: { name: 'orders', annotations: {} },
  });
  assert.ok(result.outcome === 'injected' || result.outcome === 'reconciled', JSON.stringify(result));
  return { patch: result.patch, warnings: result.warnings };
}

const tokenBroker: Webhook = { name: 'token-broker', reinvocation: 'IfNeeded', answer };

function eks(kind: EksIdentity): Webhook {
  return {
    name: 'pod-identity-webhook',
    reinvocation: 'Never',
    mutate: (p) => eksPodIdentityWebhook(p, kind),
  };
}

const mesh: Webhook = { name: 'mesh', reinvocation: 'Never', mutate: labellingWebhook };

function containers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

function own(pod: Pod): Container[] {
  const found = containers(pod).filter((c) => OWN.includes(c.name));
  assert.ok(found.length > 0, 'no token-broker container');
  return found;
}

function mountAt(c: Container, path: string) {
  return c.volumeMounts?.find((m) => m.mountPath === path);
}

/** The admitted pod is valid, and admitting it again (a later reinvocation) changes nothing. */
function assertSettled(pod: Pod): void {
  validatePod(pod);
  assertInjectedStrict(pod);
  assert.deepEqual(answer(deepFreeze(asJson(pod))).patch, []);
  assert.deepEqual(serviceAccountAdmission(pod), pod, 'ServiceAccount admission would change it again');
}

describe('the sidecar holds no Kubernetes API token', () => {
  for (const mode of ['native', 'legacy'] as const) {
    test(`${mode}: ServiceAccount admission skips the injected containers and the app keeps its token`, () => {
      const { pod } = admitPod(appPod({ mode }), [tokenBroker]);
      const ours = own(pod);
      assert.equal(ours.length, mode === 'native' ? 1 : 2);
      for (const c of ours) {
        assert.deepEqual(mountAt(c, API_TOKEN_PATH), {
          name: 'token-broker-no-api-token',
          mountPath: API_TOKEN_PATH,
          readOnly: true,
        });
        assert.ok(
          !c.volumeMounts?.some((m) => m.name.startsWith('kube-api-access-')),
          `${c.name} got the token`,
        );
      }
      for (const c of containers(pod).filter((x) => !OWN.includes(x.name))) {
        assert.match(mountAt(c, API_TOKEN_PATH)?.name ?? '', /^kube-api-access-/, `${c.name} lost its token`);
      }
      assert.deepEqual(
        pod.spec.volumes?.find((v) => v.name === 'token-broker-no-api-token'),
        { name: 'token-broker-no-api-token', emptyDir: { medium: 'Memory', sizeLimit: '1Ki' } },
      );
      assertSettled(pod);
    });
  }

  test('ServiceAccount admission no longer changes the pod after us, so the webhook is called once', () => {
    const { calls } = admitPod(appPod(), [tokenBroker]);
    assert.deepEqual(calls, ['token-broker']);
  });

  test('an allow-list changes nothing about the token of any app container', () => {
    const { pod } = admitPod(appPod({ containers: 'app' }), [tokenBroker]);
    for (const name of ['migrate', 'app', 'worker']) {
      const c = containers(pod).find((x) => x.name === name);
      assert.match(c ? (mountAt(c, API_TOKEN_PATH)?.name ?? '') : '', /^kube-api-access-/, name);
    }
    assert.equal(mountAt(own(pod)[0]!, API_TOKEN_PATH)?.name, 'token-broker-no-api-token');
    assertSettled(pod);
  });

  test('automountServiceAccountToken: false on the pod or its ServiceAccount: no token anywhere, still valid', () => {
    for (const [pod, saAutomount] of [
      [appPod({ automount: false }), true],
      [appPod(), false],
    ] as const) {
      const admitted = admitPod(pod, [tokenBroker], saAutomount);
      assert.deepEqual(admitted.calls, ['token-broker']);
      assert.ok(!JSON.stringify(admitted.pod).includes('kube-api-access-'));
      assert.equal(mountAt(own(admitted.pod)[0]!, API_TOKEN_PATH)?.name, 'token-broker-no-api-token');
      validatePod(admitted.pod);
      assertInjectedStrict(admitted.pod);
    }
  });
});

describe('the sidecar gets the pod AWS identity whichever webhook runs first, with no false warning', () => {
  for (const kind of ['pod-identity', 'irsa'] as const) {
    for (const awsCredentials of [true, false]) {
      for (const mode of ['native', 'legacy'] as const) {
        const label = `${kind}${awsCredentials ? ' + aws-credentials' : ''}, ${mode}`;
        const input = appPod({ mode, awsCredentials });

        test(`${label}: EKS webhook first, then ours and its re-invocation: no identity warning`, () => {
          // A webhook after ours forces the re-invocation the API server would do for any change.
          const { pod, calls, warnings } = admitPod(input, [eks(kind), tokenBroker, mesh]);
          assert.deepEqual(calls, ['pod-identity-webhook', 'token-broker', 'mesh', 'token-broker']);
          for (const w of warnings) assert.ok(!w.some((x) => NO_IDENTITY.test(x)), w.join('\n'));
          assertIdentity(pod, kind);
          assertSettled(pod);
        });

        test(`${label}: ours first, then the EKS webhook: only the first call, which cannot know yet, warns`, () => {
          const { pod, calls, warnings } = admitPod(input, [tokenBroker, eks(kind)]);
          assert.deepEqual(calls, ['token-broker', 'pod-identity-webhook', 'token-broker']);
          assert.match(
            warnings[0]?.join('\n') ?? '',
            /if one exists, its webhook adds the env on reinvocation/,
          );
          assert.ok(!warnings[1]?.some((x) => NO_IDENTITY.test(x)), warnings[1]?.join('\n'));
          assertIdentity(pod, kind);
          assertSettled(pod);
        });
      }
    }
  }

  test('a pod with no identity anywhere is warned about on every call', () => {
    const { pod, warnings } = admitPod(appPod({ awsCredentials: true }), [tokenBroker, mesh]);
    assert.equal(warnings.length, 2);
    for (const w of warnings) assert.ok(w.some((x) => NO_IDENTITY.test(x)));
    for (const c of own(pod)) assert.ok(!c.env?.some((e) => e.name.startsWith('AWS_CONTAINER_')));
  });
});

/** Every injected container carries the EKS env and token mount, beside the empty API-token mount. */
function assertIdentity(pod: Pod, kind: EksIdentity): void {
  for (const c of own(pod)) {
    for (const e of eksEnv(kind)) {
      assert.deepEqual(
        c.env?.find((x) => x.name === e.name),
        e,
        `${c.name} lacks ${e.name}`,
      );
    }
    assert.ok(mountAt(c, eksMountPath(kind)), `${c.name} lacks the ${kind} token mount`);
    assert.equal(mountAt(c, API_TOKEN_PATH)?.name, 'token-broker-no-api-token');
  }
}
