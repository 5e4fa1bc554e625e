import { escapeUnsafeCharacters } from '../../../contract/safe-text.ts';
import { redactValue, scrubSecrets } from './redact.ts';

export { REDACTED } from './redact.ts';

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
  | 'unsafe-character'
  | 'unusable-target'
  | 'invalid-quantity'
  | 'request-exceeds-limit'
  | 'unknown-aws-credentials-target'
  | 'unknown-container'
  | 'conflicting-run-as-user'
  | 'env-collision'
  | 'reserved-name'
  | 'no-containers'
  | 'invalid-proxy-port'
  | 'proxy-port-conflict'
  | 'proxy-unsupported-engine'
  | 'missing-rds-ca';

export interface ConfigError {
  code: ConfigErrorCode;
  /** The annotation key at fault (or the pod field, e.g. `spec.containers`). */
  annotation: string;
  /**
   * The offending value as the user wrote it, with any possible secret replaced by REDACTED;
   * undefined when the error is that the annotation is missing.
   */
  value: string | undefined;
  /** What is wrong. Never contains a secret. */
  message: string;
  /** What to do about it. */
  fix: string;
}

/**
 * The last value, redacted and escaped: one annotation often yields many errors, and redacting a
 * long value once per error would make a denial cost quadratic time. The result depends only on
 * the value, so the memo changes nothing else.
 */
let last: { value: string; shown: string; secrets: readonly string[] } | undefined;

function redacted(value: string): { shown: string; secrets: readonly string[] } {
  if (last?.value !== value) {
    const { shown, secrets } = redactValue(value);
    last = { value, shown: escapeUnsafeCharacters(shown), secrets };
  }
  return last;
}

/**
 * The one way to make a ConfigError. `value` is the raw user input: it is redacted here (redact.ts),
 * and any secret found in it is also cut out of `message` and `fix`, which may quote parts of it.
 * Control and bidi characters are then written as `\uXXXX`, so quoted input cannot forge lines or
 * reorder what kubectl shows.
 */
export function configError(
  code: ConfigErrorCode,
  annotation: string,
  value: string | undefined,
  message: string,
  fix: string,
): ConfigError {
  const { shown, secrets } = value === undefined ? { shown: undefined, secrets: [] } : redacted(value);
  return {
    code,
    annotation: escapeUnsafeCharacters(annotation),
    value: shown,
    message: escapeUnsafeCharacters(scrubSecrets(message, secrets)),
    fix: escapeUnsafeCharacters(scrubSecrets(fix, secrets)),
  };
}

/**
 * The admission denial text: every error, grouped under the annotation and (redacted) value it is
 * about, each with the problem, its code and the fix, so `kubectl apply` shows all of it at once.
 */
export function renderDenialMessage(errors: readonly ConfigError[]): string {
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
  const groups = new Map<string, ConfigError[]>();
  for (const e of errors) {
    const heading =
      e.value === undefined ? `${e.annotation} (not set)` : `${e.annotation}=${JSON.stringify(e.value)}`;
    groups.set(heading, [...(groups.get(heading) ?? []), e]);
  }
  const lines = [`token-broker: the pod's token-broker.io configuration is invalid (${count}):`];
  for (const [heading, group] of groups) {
    lines.push(`- ${heading}:`);
    for (const e of group) lines.push(`    ${e.message} [${e.code}]. Fix: ${e.fix}`);
  }
  return lines.join('\n');
}
