/**
 * Schema validation of rendered objects with kubernetes-models: one model class per built-in kind.
 * Custom resources (cert-manager, prometheus-operator) have no model there and are listed apart, so an
 * unexpected kind fails instead of slipping through.
 */
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { K8sObject } from './helm.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

/** CRDs: kubernetes-models has no schema for them; the chart tests check their fields directly. */
export const CUSTOM_RESOURCES = new Set([
  'cert-manager.io/v1/Issuer',
  'cert-manager.io/v1/Certificate',
  'monitoring.coreos.com/v1/PrometheusRule',
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PodMonitor',
]);

export function typeKey(object: K8sObject): string {
  return `${object.apiVersion}/${object.kind}`;
}

/** Validates `object`; 'custom' for a known CRD; throws naming the object and the schema error. */
export function validateObject(object: K8sObject): 'validated' | 'custom' {
  const key = typeKey(object);
  if (CUSTOM_RESOURCES.has(key)) return 'custom';
  const Model = MODELS[key];
  if (!Model) throw new Error(`no kubernetes-models class for ${key} (${object.metadata.name}): add it`);
  try {
    new Model(object as never).validate();
  } catch (error) {
    throw new Error(`${key} ${object.metadata.name} is invalid: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return 'validated';
}
