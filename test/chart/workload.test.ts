/** The webhook's Deployment, Service, ServiceAccount, RBAC and PodDisruptionBudget as rendered. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IClusterRole, IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IService, IServiceAccount } from 'kubernetes-models/v1';
import { NAMESPACE, findOne, kinds, render } from './support/helm.ts';

const NAME = 'token-broker-webhook';

function deploymentOf(options: Parameters<typeof render>[0] = {}) {
  const deployment = findOne<IDeployment>(render(options), 'Deployment');
  const pod = deployment.spec?.template.spec;
  assert.ok(pod, 'a pod template');
  const container = pod.containers[0];
  assert.ok(container && pod.containers.length === 1, 'one container');
  return { deployment, pod, container };
}

void describe('webhook Deployment (default values)', () => {
  const objects = render();
  const { deployment, pod, container } = deploymentOf();

  it('runs 2 replicas of `token-broker webhook` from the one image', () => {
    assert.equal(deployment.metadata?.name, NAME);
    assert.equal(deployment.spec?.replicas, 2);
    assert.equal(container.image, 'ghcr.io/token-broker/token-broker:0.1.0');
    assert.deepEqual(container.args, ['webhook']);
    assert.equal(container.command, undefined, 'the image entrypoint is token-broker');
  });

  it('is hardened: non-root 65532, read-only root, no privilege escalation, no capabilities, RuntimeDefault', () => {
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.runAsUser, 65532);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const sc = container.securityContext;
    assert.equal(sc?.runAsNonRoot, true);
    assert.equal(sc?.runAsUser, 65532);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
    assert.equal(sc?.capabilities?.add, undefined);
    assert.equal(sc?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(sc?.privileged, undefined);
  });

  it('probes /readyz and /healthz over HTTPS on the webhook port, and sets resources', () => {
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' });
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
    assert.deepEqual(container.ports, [{ name: 'https', containerPort: 8443, protocol: 'TCP' }]);
    assert.equal(container.resources?.requests?.cpu, '50m');
    assert.equal(container.resources?.limits?.memory, '256Mi');
  });

  it('spreads replicas over zones and nodes softly', () => {
    const spread = pod.topologySpreadConstraints ?? [];
    assert.deepEqual(
      spread.map((c) => [c.topologyKey, c.whenUnsatisfiable]),
      [
        ['topology.kubernetes.io/zone', 'ScheduleAnyway'],
        ['kubernetes.io/hostname', 'ScheduleAnyway'],
      ],
    );
    const anti = pod.affinity?.podAntiAffinity;
    assert.equal(anti?.requiredDuringSchedulingIgnoredDuringExecution, undefined, 'soft only');
    assert.equal(
      anti?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey,
      'kubernetes.io/hostname',
    );
  });

  it('keeps a replica up during drains and rollouts', () => {
    const pdb = findOne<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
    assert.equal(pdb.spec?.maxUnavailable, 1);
    assert.deepEqual(pdb.spec?.selector?.matchLabels, deployment.spec?.selector.matchLabels);
    assert.equal(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable, 0);
  });

  it('serves 443 -> the https container port through a Service that selects the pods', () => {
    const service = findOne<IService>(objects, 'Service');
    assert.equal(service.metadata?.name, NAME);
    assert.deepEqual(service.spec?.ports, [
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
    ]);
    assert.deepEqual(service.spec?.selector, deployment.spec?.selector.matchLabels);
    assert.deepEqual(deployment.spec?.selector.matchLabels, deployment.spec?.template.metadata?.labels);
  });

  it('reads ServiceAccounts cluster-wide (get/list/watch only), with the token mounted for that', () => {
    const role = findOne<IClusterRole>(objects, 'ClusterRole');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
    ]);
    const binding = findOne<IClusterRoleBinding>(objects, 'ClusterRoleBinding');
    assert.equal(binding.roleRef.name, role.metadata?.name);
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE }]);
    const account = findOne<IServiceAccount>(objects, 'ServiceAccount');
    assert.equal(account.metadata?.name, NAME);
    assert.equal(account.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, NAME);
    assert.equal(pod.automountServiceAccountToken, true);
  });
});

void describe('webhook Deployment values', () => {
  it('serviceAccountLookup.enabled=false: no RBAC and no API token in the pod', () => {
    const objects = render({ set: { 'serviceAccountLookup.enabled': false } });
    assert.ok(!kinds(objects).includes('ClusterRole'));
    assert.ok(!kinds(objects).includes('ClusterRoleBinding'));
    const pod = findOne<IDeployment>(objects, 'Deployment').spec?.template.spec;
    assert.equal(pod?.automountServiceAccountToken, false);
  });

  it('takes replicas, image, pod metadata, scheduling and hostNetwork from values', () => {
    const { deployment, pod, container } = deploymentOf({
      set: {
        replicaCount: 3,
        'image.repository': 'registry.example/tb',
        'image.tag': '1.0.0',
        'podLabels.team': 'platform',
        'podAnnotations.example\\.com/scrape': 'no',
        'nodeSelector.pool': 'system',
        priorityClassName: 'system-cluster-critical',
        hostNetwork: true,
      },
    });
    assert.equal(deployment.spec?.replicas, 3);
    assert.equal(container.image, 'registry.example/tb:1.0.0');
    assert.equal(deployment.spec?.template.metadata?.labels?.team, 'platform');
    assert.equal(deployment.spec?.template.metadata?.annotations?.['example.com/scrape'], 'no');
    assert.deepEqual(pod.nodeSelector, { pool: 'system' });
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  });

  it('topologySpreadConstraints=[] renders none; a custom affinity replaces the default', () => {
    const { pod } = deploymentOf({
      setJson: {
        topologySpreadConstraints: [],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'Exists' }] }],
            },
          },
        },
      },
    });
    assert.equal(pod.topologySpreadConstraints, undefined);
    assert.equal(pod.affinity?.podAntiAffinity, undefined);
    assert.ok(pod.affinity?.nodeAffinity);
  });

  it('podDisruptionBudget.enabled=false drops the PDB; serviceAccount.create=false uses the named one', () => {
    const objects = render({
      set: {
        'podDisruptionBudget.enabled': false,
        'serviceAccount.create': false,
        'serviceAccount.name': 'shared',
      },
    });
    assert.ok(!kinds(objects).includes('PodDisruptionBudget'));
    assert.ok(!kinds(objects).includes('ServiceAccount'));
    const pod = findOne<IDeployment>(objects, 'Deployment').spec?.template.spec;
    assert.equal(pod?.serviceAccountName, 'shared');
    const binding = findOne<IClusterRoleBinding>(objects, 'ClusterRoleBinding');
    assert.equal(binding.subjects?.[0]?.name, 'shared');
  });
});
