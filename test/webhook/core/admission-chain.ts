/**
 * Stand-ins for what runs around our webhook in a real kube-apiserver, written from the documented
 * behaviour, never from product code:
 * - ServiceAccount admission: mounts the `kube-api-access-*` token volume into every init and regular
 *   container that has no mount at exactly /var/run/secrets/kubernetes.io/serviceaccount (unless
 *   automount is off), and runs again after webhooks changed the pod.
 * - EKS's pod-identity webhook: adds IRSA or EKS Pod Identity env and token mount to every container
 *   that does not carry them yet.
 * - The reinvocation rule: after a first pass in which a webhook changed the pod, in-tree plugins run
 *   again, then each `IfNeeded` webhook is called once more if the pod changed after its first call.
 */

import type { Container, EnvVar, Pod, Volume } from '../../../webhook/src/injection/k8s-types.ts';
import type { JsonPatchOperation } from '../../../webhook/src/injection/patch.ts';
import { applyJsonPatch, asJson, deepFreeze } from './support.ts';

export const API_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const API_TOKEN_VOLUME = 'kube-api-access-x7k2p';

function containersOf(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

/** ServiceAccount admission's token mount, on a copy of `pod`. */
export function serviceAccountAdmission(pod: Pod, serviceAccountAutomount = true): Pod {
  const out = structuredClone(pod);
  if (out.spec.automountServiceAccountToken === false || !serviceAccountAutomount) return out;
  const volumes = (out.spec.volumes ??= []);
  const existing = volumes.find((v) => v.name.startsWith('kube-api-access-'));
  const name = existing?.name ?? API_TOKEN_VOLUME;
  let needed = false;
  for (const c of containersOf(out)) {
    if ((c.volumeMounts ?? []).some((m) => m.mountPath === API_TOKEN_PATH)) continue;
    (c.volumeMounts ??= []).push({ name, readOnly: true, mountPath: API_TOKEN_PATH });
    needed = true;
  }
  if (needed && !existing) volumes.push({ name, projected: { defaultMode: 420, sources: [] } });
  return out;
}

export type EksIdentity = 'irsa' | 'pod-identity';

const EKS: Record<EksIdentity, { env: EnvVar[]; volume: Volume; mountPath: string; marker: string }> = {
  irsa: {
    env: [
      { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ],
    volume: { name: 'aws-iam-token', projected: { sources: [] } },
    mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
    marker: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  },
  'pod-identity': {
    env: [
      { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
      {
        name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
        value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
      },
    ],
    volume: { name: 'eks-pod-identity-token', projected: { sources: [] } },
    mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
    marker: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  },
};

/** The env the EKS webhook gives a container for `kind`. */
export function eksEnv(kind: EksIdentity): EnvVar[] {
  return structuredClone(EKS[kind].env);
}

export function eksMountPath(kind: EksIdentity): string {
  return EKS[kind].mountPath;
}

/** EKS's pod-identity webhook on a copy of `pod`: containers already carrying the env are skipped. */
export function eksPodIdentityWebhook(pod: Pod, kind: EksIdentity): Pod {
  const out = structuredClone(pod);
  const { env, volume, mountPath, marker } = EKS[kind];
  let changed = false;
  for (const c of containersOf(out)) {
    if ((c.env ?? []).some((e) => e.name === marker)) continue;
    const cEnv = (c.env ??= []);
    for (const e of [...env, { name: 'AWS_REGION', value: 'eu-west-1' }]) {
      if (!cEnv.some((x) => x.name === e.name)) cEnv.push(structuredClone(e));
    }
    if (!(c.volumeMounts ?? []).some((m) => m.mountPath === mountPath)) {
      (c.volumeMounts ??= []).push({ name: volume.name, readOnly: true, mountPath });
    }
    changed = true;
  }
  const volumes = (out.spec.volumes ??= []);
  if (changed && !volumes.some((v) => v.name === volume.name)) volumes.push(structuredClone(volume));
  return out;
}

/** Another mutating webhook, e.g. a mesh injector, that labels the pod once. */
export function labellingWebhook(pod: Pod): Pod {
  const out = structuredClone(pod);
  const metadata = (out.metadata ??= {});
  (metadata.labels ??= {})['mesh.example.com/injected'] = 'true';
  return out;
}

/** What our webhook answers, as the API server sees it. */
export interface OurAnswer {
  patch: JsonPatchOperation[];
  warnings: string[];
}

/** A stand-in edits the pod; our webhook answers with a patch and warnings. */
export type Webhook = { name: string; reinvocation: 'Never' | 'IfNeeded' } & (
  { mutate(pod: Pod): Pod } | { answer(pod: Pod): OurAnswer }
);

export interface Admitted {
  pod: Pod;
  /** Webhook names in call order. */
  calls: string[];
  /** The warnings of each call of a webhook that answers with warnings, in call order. */
  warnings: string[][];
}

function same(a: Pod, b: Pod): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One pod create: ServiceAccount admission, the webhooks in order, and one reinvocation round.
 * `pod` is the pod as submitted (ServiceAccount admission has not run yet).
 */
export function admitPod(pod: Pod, webhooks: Webhook[], serviceAccountAutomount = true): Admitted {
  const calls: string[] = [];
  const warnings: string[][] = [];
  let current = serviceAccountAdmission(pod, serviceAccountAutomount);
  const call = (hook: Webhook): Pod => {
    calls.push(hook.name);
    const input = deepFreeze(asJson(current));
    if ('mutate' in hook) return hook.mutate(input);
    const answer = hook.answer(input);
    warnings.push(answer.warnings);
    return applyJsonPatch(current, answer.patch) as Pod;
  };

  const after = new Map<string, Pod>();
  let changedByWebhook = false;
  for (const hook of webhooks) {
    const next = call(hook);
    if (!same(next, current)) changedByWebhook = true;
    current = next;
    after.set(hook.name, current);
  }
  if (!changedByWebhook) return { pod: current, calls, warnings };

  current = serviceAccountAdmission(current, serviceAccountAutomount);
  for (const hook of webhooks) {
    const seen = after.get(hook.name);
    if (hook.reinvocation !== 'IfNeeded' || (seen !== undefined && same(seen, current))) continue;
    current = call(hook);
  }
  return { pod: current, calls, warnings };
}
