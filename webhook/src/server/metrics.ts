/**
 * The webhook's Prometheus metrics, on a registry of its own (never the global one, so tests and the
 * sidecar in the same process do not collide). Labels are fixed enums: never pod names or values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmissionOutcome } from './admission.ts';

export type TlsReloadResult = 'loaded' | 'unchanged' | 'rejected';
export type ServiceAccountLookupResult = 'hit' | 'miss' | 'error' | 'timeout';

export interface WebhookMetrics {
  registry: Registry;
  admissions: Counter<'outcome'>;
  admissionDuration: Histogram;
  tlsReloads: Counter<'result'>;
  certificateExpiry: Gauge;
  serviceAccountLookups: Counter<'result'>;
}

const OUTCOMES: readonly AdmissionOutcome[] = ['injected', 'reconciled', 'skipped', 'denied', 'error'];

export function createWebhookMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const admissions = new Counter({
    name: 'token_broker_webhook_admissions_total',
    help: 'Pod admission reviews answered, by outcome (injected, reconciled, skipped, denied, error).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  // Start every outcome at 0 so rate() and alerts see the series before the first event.
  for (const outcome of OUTCOMES) admissions.inc({ outcome }, 0);
  const admissionDuration = new Histogram({
    name: 'token_broker_webhook_admission_duration_seconds',
    help: 'Time to answer one admission review, including the ServiceAccount lookup.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const tlsReloads = new Counter({
    name: 'token_broker_webhook_tls_reloads_total',
    help: 'Serving certificate reload attempts, by result (loaded, unchanged, rejected).',
    labelNames: ['result'],
    registers: [registry],
  });
  const certificateExpiry = new Gauge({
    name: 'token_broker_webhook_certificate_expiry_timestamp_seconds',
    help: 'Unix time at which the serving certificate in use expires (alert well before it).',
    registers: [registry],
  });
  const serviceAccountLookups = new Counter({
    name: 'token_broker_webhook_service_account_lookups_total',
    help: 'ServiceAccount annotation lookups, by result (hit = cache, miss = API call, error, timeout).',
    labelNames: ['result'],
    registers: [registry],
  });
  return { registry, admissions, admissionDuration, tlsReloads, certificateExpiry, serviceAccountLookups };
}
