/**
 * Every rendered object validates against the Kubernetes API schema (kubernetes-models), across the
 * value combinations the chart supports. Custom resources (cert-manager Issuer/Certificate,
 * prometheus-operator PrometheusRule/ServiceMonitor/PodMonitor) have no schema there: they are only
 * counted here and their fields are asserted in tls.test.ts and monitoring.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render, type RenderOptions } from './support/helm.ts';
import { typeKey, validateObject } from './support/k8s-models.ts';

const everything: RenderOptions = {
  set: {
    'prometheusRule.enabled': true,
    'metrics.serviceMonitor.enabled': true,
    'metrics.podMonitor.enabled': true,
    'metrics.sidecarPodMonitor.enabled': true,
  },
};

const COMBINATIONS: [string, RenderOptions, string[]][] = [
  [
    'default values',
    {},
    [
      'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration',
      'apps/v1/Deployment',
      'policy/v1/PodDisruptionBudget',
      'rbac.authorization.k8s.io/v1/ClusterRole',
      'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
      'v1/Secret',
      'v1/Service',
      'v1/ServiceAccount',
    ],
  ],
  [
    'cert-manager mode with every monitoring object',
    { set: { ...everything.set, 'tls.mode': 'cert-manager' } },
    [
      'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration',
      'apps/v1/Deployment',
      'cert-manager.io/v1/Certificate',
      'cert-manager.io/v1/Certificate',
      'cert-manager.io/v1/Issuer',
      'cert-manager.io/v1/Issuer',
      'monitoring.coreos.com/v1/PodMonitor',
      'monitoring.coreos.com/v1/PodMonitor',
      'monitoring.coreos.com/v1/PrometheusRule',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'policy/v1/PodDisruptionBudget',
      'rbac.authorization.k8s.io/v1/ClusterRole',
      'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
      'v1/Service',
      'v1/ServiceAccount',
    ],
  ],
  [
    'secret mode, lookup off, no PDB, legacy sidecars, hostNetwork',
    {
      set: {
        'tls.mode': 'secret',
        'tls.secret.name': 'my-tls',
        'tls.secret.caBundle': 'Zm9v',
        'serviceAccountLookup.enabled': false,
        'podDisruptionBudget.enabled': false,
        'sidecar.mode': 'legacy',
        hostNetwork: true,
        'webhook.failurePolicy': 'Ignore',
      },
    },
    [
      'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration',
      'apps/v1/Deployment',
      'v1/Service',
      'v1/ServiceAccount',
    ],
  ],
];

void describe('rendered objects validate with kubernetes-models', () => {
  for (const [label, options, expected] of COMBINATIONS) {
    it(label, () => {
      const objects = render(options);
      assert.deepEqual(objects.map(typeKey).sort(), expected);
      const validated = objects.filter((o) => validateObject(o) === 'validated');
      assert.ok(validated.length >= 4, 'the built-in kinds were validated');
    });
  }

  it('the check catches a schema violation (so a pass means something)', () => {
    const [deployment] = render().filter((o) => o.kind === 'Deployment');
    assert.ok(deployment);
    const broken = structuredClone(deployment);
    (broken.spec as { replicas: unknown }).replicas = 'two';
    assert.throws(
      () => validateObject(broken),
      /apps\/v1\/Deployment token-broker-webhook is invalid: .*replicas/,
    );
    assert.throws(
      () => validateObject({ ...deployment, apiVersion: 'example.com/v1', kind: 'Widget' }),
      /no kubernetes-models class for example.com\/v1\/Widget/,
    );
  });
});
