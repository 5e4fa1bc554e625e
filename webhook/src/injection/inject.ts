/**
 * Pure injection: pod + spec -> a new pod (the input is deep-copied, never edited). The admission
 * patch is the diff of the two (patch.ts). docs/design.md "What injection adds" and "Reinvocation".
 *
 * The pod-level securityContext (runAsUser, fsGroup, ...) is never changed: it belongs to the app, and
 * the sidecar sets its own UID on its container instead.
 */

import { ANN, STATUS_INJECTED } from './annotations.ts';
import { injectAppContainer, pointContainerAtSidecar } from './app-containers.ts';
import { findPodIdentity, giveIdentity, type PodIdentity } from './identity.ts';
import { copyJson } from './copy-json.ts';
import type { Container, Pod } from './k8s-types.ts';
import {
  DEFAULT_CONTAINER_ANNOTATION,
  INFRASTRUCTURE_CONTAINER_NAMES,
  isSelectedContainer,
  OWN_CONTAINER_NAMES,
} from './names.ts';
import { buildSidecarContainer } from './sidecar-container.ts';
import type { InjectionSpec } from './injection-spec.ts';
import { isInjected } from './spec.ts';
import { injectedVolumes } from './volumes.ts';

export interface InjectResult {
  pod: Pod;
  warnings: string[];
}

/**
 * A pod not yet stamped gets the full injection; a stamped pod only the idempotent identity
 * fix-ups (reinvocation after the EKS webhook added IRSA / Pod Identity env).
 */
export function injectPod(pod: Pod, spec: InjectionSpec): InjectResult {
  const out = copyJson(pod);
  const identity = findPodIdentity(pod);
  return isInjected(pod) ? reconcile(out, spec, identity) : inject(out, spec, identity);
}

function inject(out: Pod, spec: InjectionSpec, identity: PodIdentity): InjectResult {
  const warnings: string[] = [];
  const metadata = (out.metadata ??= {});
  const annotations = (metadata.annotations ??= {});
  annotations[ANN.status] = STATUS_INJECTED;

  (out.spec.volumes ??= []).push(...injectedVolumes(spec));

  const edit = (containers: Container[] | undefined, kind: string) => {
    for (const c of containers ?? []) {
      if (isSelectedContainer(c.name, spec.containers)) warnings.push(...injectAppContainer(c, spec, kind));
    }
  };
  edit(out.spec.initContainers, 'init container');
  edit(out.spec.containers, 'container');

  if (spec.mode === 'native') {
    out.spec.initContainers = [
      buildSidecarContainer(spec, identity, 'native'),
      ...(out.spec.initContainers ?? []),
    ];
  } else {
    out.spec.initContainers = [
      buildSidecarContainer(spec, identity, 'legacy-init'),
      ...(out.spec.initContainers ?? []),
    ];
    // kubectl logs/exec pick the first container unless told otherwise; keep that the app.
    const app = defaultContainer(out.spec.containers);
    if (app !== undefined) annotations[DEFAULT_CONTAINER_ANNOTATION] ??= app;
    out.spec.containers = [buildSidecarContainer(spec, identity, 'legacy'), ...out.spec.containers];
  }
  return { pod: out, warnings };
}

/** The first app container, skipping mesh proxies when there is another; undefined when none. */
function defaultContainer(containers: Container[]): string | undefined {
  const apps = containers.filter((c) => !OWN_CONTAINER_NAMES.includes(c.name));
  return (apps.find((c) => !INFRASTRUCTURE_CONTAINER_NAMES.includes(c.name)) ?? apps[0])?.name;
}

function reconcile(out: Pod, spec: InjectionSpec, identity: PodIdentity): InjectResult {
  const warnings: string[] = [];
  const all = [...(out.spec.initContainers ?? []), ...out.spec.containers];
  const own = all.filter((c) => OWN_CONTAINER_NAMES.includes(c.name));
  if (own.length === 0) {
    warnings.push(
      `${ANN.status} is "${STATUS_INJECTED}" but the pod has no token-broker container; ` +
        `remove ${ANN.status} from the pod template to have the sidecar injected`,
    );
  }
  for (const c of own) giveIdentity(c, identity);
  for (const c of all) {
    if (isSelectedContainer(c.name, spec.containers)) pointContainerAtSidecar(c, spec);
  }
  return { pod: out, warnings };
}
