/**
 * Coded configuration errors. Spec resolution collects all of them (never stops at the first) so one
 * denial tells the user everything to fix; tests assert the codes, users read the rendered message.
 */

export type ConfigErrorCode =
  | 'unknown-annotation'
  | 'invalid-value'
  | 'invalid-target-name'
  | 'duplicate-target-name'
  | 'no-targets'
  | 'invalid-uri'
  | 'unsupported-scheme'
  | 'password-in-uri'
  | 'credentials-in-uri'
  | 'missing-user'
  | 'missing-database'
  | 'invalid-host'
  | 'invalid-port'
  | 'missing-region'
  | 'invalid-region'
  | 'region-mismatch'
  | 'invalid-role-arn'
  | 'invalid-external-id'
  | 'unknown-uri-option'
  | 'duplicate-uri-option'
  | 'denied-uri-option'
  | 'invalid-quantity'
  | 'request-exceeds-limit'
  | 'unknown-aws-credentials-target'
  | 'unknown-container'
  | 'conflicting-run-as-user'
  | 'env-collision'
  | 'reserved-name'
  | 'no-containers';

export interface ConfigError {
  code: ConfigErrorCode;
  /** The annotation key at fault (or the pod field, e.g. `spec.containers`). */
  annotation: string;
  /** The offending value as the user wrote it, with any possible secret replaced by REDACTED. */
  value: string;
  /** What is wrong. Never contains a secret. */
  message: string;
  /** What to do about it. */
  fix: string;
}

/** Stands in for anything that may be a secret (a password, a session token). */
export const REDACTED = '<redacted>';

export function configError(
  code: ConfigErrorCode,
  annotation: string,
  value: string,
  message: string,
  fix: string,
): ConfigError {
  return { code, annotation, value, message, fix };
}

/**
 * The admission denial text: every error, grouped under the annotation and (redacted) value it is
 * about, each with the problem, its code and the fix, so `kubectl apply` shows all of it at once.
 */
export function renderDenialMessage(errors: readonly ConfigError[]): string {
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
  const groups = new Map<string, ConfigError[]>();
  for (const e of errors) {
    const heading = `${e.annotation}=${JSON.stringify(e.value)}`;
    groups.set(heading, [...(groups.get(heading) ?? []), e]);
  }
  const lines = [`token-broker: the pod's token-broker.io configuration is invalid (${count}):`];
  for (const [heading, group] of groups) {
    lines.push(`- ${heading}:`);
    for (const e of group) lines.push(`    ${e.message} [${e.code}]. Fix: ${e.fix}`);
  }
  return lines.join('\n');
}
