/** Pods and AdmissionReviews shared by the webhook server tests. */
import type { Pod } from '../../../../webhook/src/injection/k8s-types.ts';

export const RDS_URI = 'postgres://invoicing_app@invoicing.abc123.eu-west-1.rds.amazonaws.com/invoicing';

export function optedInPod(extra: Record<string, string> = {}, runAsUser: number | undefined = 1000): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'invoicing-7d9f8-',
      labels: { app: 'invoicing' },
      annotations: {
        'token-broker.io/inject': 'true',
        'token-broker.io/rds-invoicing': RDS_URI,
        ...extra,
      },
    },
    spec: {
      serviceAccountName: 'invoicing',
      ...(runAsUser !== undefined ? { securityContext: { runAsUser } } : {}),
      containers: [
        {
          name: 'app',
          image: 'example/invoicing:1.4',
          env: [{ name: 'DB_SECRET_HINT', value: 'not-logged-value' }],
        },
      ],
    },
  };
}

export function plainPod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'plain', annotations: { 'example.com/x': 'y' } },
    spec: { containers: [{ name: 'app', image: 'example/plain:1' }] },
  };
}

export function review(
  object: unknown,
  overrides: Record<string, unknown> = {},
): { apiVersion: string; kind: string; request: Record<string, unknown> } {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'billing',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...overrides,
    },
  };
}
