/**
 * The single entry point of the webhook's pure core, used by the admission server and by
 * `token-broker inject`: decide whether the pod opted in, resolve the spec, inject, diff.
 */

import { ANN, isOurAnnotation, parseInject } from './annotations.ts';
import { renderDenialMessage, type ConfigError } from './config-error.ts';
import { injectPod } from './inject.ts';
import type { Pod } from './k8s-types.ts';
import { diffToJsonPatch, type JsonPatchOperation } from './patch.ts';
import { redactValue } from './redact.ts';
import { isInjected, resolveSpec, type ServiceAccountInfo, type WebhookDefaults } from './spec.ts';

export interface MutateInput {
  pod: Pod;
  /** The admission request's namespace (a pod being created may carry none in its metadata). */
  namespace: string;
  defaults: WebhookDefaults;
  /** The pod's ServiceAccount when the caller could read it; enables the "no AWS identity" warning. */
  serviceAccount?: ServiceAccountInfo | undefined;
}

export type MutateResult =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'injected' | 'reconciled'; pod: Pod; patch: JsonPatchOperation[]; warnings: string[] }
  | { outcome: 'denied'; errors: ConfigError[]; message: string; warnings: string[] };

export function mutatePod(input: MutateInput): MutateResult {
  const { pod, namespace, defaults, serviceAccount } = input;
  const annotations = pod.metadata?.annotations ?? {};
  const inject = annotations[ANN.inject];
  if (!parseInject(inject)) {
    if (inject !== undefined) {
      return {
        outcome: 'skipped',
        // The reason is logged: a value pasted into the wrong annotation must not leak from there.
        reason: `${ANN.inject} is ${JSON.stringify(redactValue(inject).shown)}; only "true" opts the pod in`,
      };
    }
    const ours = Object.keys(annotations).filter(isOurAnnotation);
    return {
      outcome: 'skipped',
      reason:
        ours.length > 0
          ? `${ANN.inject} is absent, so ${ours.join(', ')} ${ours.length === 1 ? 'is' : 'are'} ignored; set ${ANN.inject}: "true"`
          : `${ANN.inject} is absent`,
    };
  }

  const resolved = resolveSpec(pod, namespace, defaults, serviceAccount);
  if (!resolved.ok) {
    return {
      outcome: 'denied',
      errors: resolved.errors,
      message: renderDenialMessage(resolved.errors),
      warnings: resolved.warnings,
    };
  }
  const reconciling = isInjected(pod);
  const result = injectPod(pod, resolved.spec);
  return {
    outcome: reconciling ? 'reconciled' : 'injected',
    pod: result.pod,
    patch: diffToJsonPatch(pod, result.pod),
    warnings: [...resolved.warnings, ...result.warnings],
  };
}
