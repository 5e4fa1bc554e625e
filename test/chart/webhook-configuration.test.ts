import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  IMutatingWebhook,
  IMutatingWebhookConfiguration,
} from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { ANN, INJECT_TRUE } from '../../webhook/src/injection/annotations.ts';
import { NAMESPACE, findOne, render, renderRun, type K8sObject } from './support/helm.ts';

/** The EKS pod identity webhook's configuration name; ours must sort after it. */
const EKS_WEBHOOK = 'pod-identity-webhook';

function webhookOf(objects: K8sObject[]): {
  config: IMutatingWebhookConfiguration;
  hook: IMutatingWebhook;
} {
  const config = findOne<IMutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
  assert.equal(config.webhooks?.length, 1, 'one webhook in the configuration');
  return { config, hook: config.webhooks[0] as IMutatingWebhook };
}

void describe('MutatingWebhookConfiguration (default values)', () => {
  const { config, hook } = webhookOf(render());

  it('is called again when a later webhook changed the pod (ADR 0002)', () => {
    assert.equal(hook.reinvocationPolicy, 'IfNeeded');
  });

  it('is named so the API server calls it after the EKS pod-identity webhook', () => {
    const name = config.metadata?.name ?? '';
    assert.equal(name, 'token-broker');
    assert.ok(name > EKS_WEBHOOK, `${name} must sort after ${EKS_WEBHOOK}`);
    assert.deepEqual([EKS_WEBHOOK, name].sort(), [EKS_WEBHOOK, name]);
  });

  it('has no side effects, speaks AdmissionReview v1 and fails closed within a timeout', () => {
    assert.equal(hook.sideEffects, 'None');
    assert.deepEqual(hook.admissionReviewVersions, ['v1']);
    assert.equal(hook.failurePolicy, 'Fail');
    assert.equal(hook.timeoutSeconds, 5);
  });

  it('receives pod CREATE only, on the Service path /mutate with a caBundle', () => {
    assert.deepEqual(hook.rules, [
      {
        operations: ['CREATE'],
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ]);
    assert.deepEqual(hook.clientConfig.service, {
      name: 'token-broker-webhook',
      namespace: NAMESPACE,
      path: '/mutate',
      port: 443,
    });
    assert.ok(hook.clientConfig.caBundle && hook.clientConfig.caBundle.length > 100, 'caBundle set');
    const pem = Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
  });

  it('never sends kube-system or its own namespace (it must not gate its own pods)', () => {
    assert.deepEqual(hook.namespaceSelector, {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', NAMESPACE] },
      ],
    });
    assert.equal(hook.objectSelector, undefined);
  });

  it('only sends pods annotated token-broker.io/inject: "true" (matchConditions)', () => {
    assert.equal(hook.matchConditions?.length, 1);
    const expression = hook.matchConditions?.[0]?.expression ?? '';
    assert.ok(expression.includes(`object.metadata.annotations['${ANN.inject}'] == '${INJECT_TRUE}'`));
    assert.ok(expression.includes(`'${ANN.inject}' in object.metadata.annotations`));
    assert.ok(expression.startsWith('has(object.metadata.annotations)'));
  });
});

void describe('MutatingWebhookConfiguration values', () => {
  it('takes failurePolicy, timeoutSeconds, extra exclusions, namespace and object selectors', () => {
    const { hook } = webhookOf(
      render({
        set: {
          'webhook.failurePolicy': 'Ignore',
          'webhook.timeoutSeconds': 3,
          'webhook.excludeNamespaces[0]': 'monitoring',
          'webhook.namespaceSelector.matchLabels.team': 'payments',
          'webhook.objectSelector.matchLabels.broker': 'yes',
        },
      }),
    );
    assert.equal(hook.failurePolicy, 'Ignore');
    assert.equal(hook.timeoutSeconds, 3);
    assert.deepEqual(hook.namespaceSelector, {
      matchLabels: { team: 'payments' },
      matchExpressions: [
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', NAMESPACE, 'monitoring'],
        },
      ],
    });
    assert.deepEqual(hook.objectSelector, { matchLabels: { broker: 'yes' } });
  });

  it('drops matchConditions when disabled, and on clusters older than 1.28', () => {
    assert.equal(
      webhookOf(render({ set: { 'webhook.matchConditions.enabled': false } })).hook.matchConditions,
      undefined,
    );
    assert.equal(webhookOf(render({ kubeVersion: '1.27.0' })).hook.matchConditions, undefined);
    assert.equal(webhookOf(render({ kubeVersion: '1.28.0' })).hook.matchConditions?.length, 1);
  });

  it('derives a name that still sorts after pod-identity-webhook for any release name', () => {
    for (const [release, expected] of [
      ['token-broker', 'token-broker'],
      ['tb', 'tb-token-broker'],
      ['abc', 'token-broker-abc-token-broker'],
      ['team-token-broker', 'team-token-broker'],
      // "payments-..." would sort before "pod-...": prefixed.
      ['payments-token-broker', 'token-broker-payments-token-broker'],
    ] as const) {
      const { config } = webhookOf(render({ release }));
      assert.equal(config.metadata?.name, expected, `release ${release}`);
      assert.ok((config.metadata?.name ?? '') > EKS_WEBHOOK, `release ${release}`);
    }
  });

  it('refuses a configurationName that sorts before pod-identity-webhook, saying why', () => {
    const run = renderRun({ set: { 'webhook.configurationName': 'aws-broker' } });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /webhook\.configurationName="aws-broker" sorts before "pod-identity-webhook"/);
    assert.match(run.stderr, /pick a name that sorts after it/);
    const { config } = webhookOf(render({ set: { 'webhook.configurationName': 'zz-broker' } }));
    assert.equal(config.metadata?.name, 'zz-broker');
  });
});
