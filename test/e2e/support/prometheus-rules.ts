/**
 * The chart's alert rules as a cluster's Prometheus gets them: `helm template` (the real binary) with
 * the PrometheusRule enabled, and its `spec` (a Prometheus rules file's `groups`) taken out of it, as
 * the Prometheus operator does. `alertFor` shortens `for:` through the chart's prometheusRule.alertFor.
 */
import { stringify } from 'yaml';
import { findOne, render } from '../../chart/support/helm.ts';

export interface AlertRule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

export interface RenderedRules {
  readonly groups: readonly RuleGroup[];
  /** The groups as a rules file for `rule_files`. */
  readonly rulesFileYaml: string;
}

export function renderChartAlertRules(alertFor: Readonly<Record<string, string>>): RenderedRules {
  const set: Record<string, string | boolean> = { 'prometheusRule.enabled': true };
  for (const [alert, duration] of Object.entries(alertFor))
    set[`prometheusRule.alertFor.${alert}`] = duration;
  const rule = findOne<{ spec?: { groups?: RuleGroup[] } }>(render({ set }), 'PrometheusRule');
  const groups = rule.spec?.groups;
  if (groups === undefined || groups.length === 0) {
    throw new Error('the rendered PrometheusRule has no spec.groups: check templates/prometheusrule.yaml');
  }
  return { groups, rulesFileYaml: stringify({ groups }) };
}

/** The rule of an alert, or an error listing the alerts there are. */
export function alertRule(rules: RenderedRules, alert: string): AlertRule {
  const all = rules.groups.flatMap((g) => g.rules);
  const found = all.find((r) => r.alert === alert);
  if (found === undefined) {
    const names = all.flatMap((r) => (r.alert === undefined ? [] : [r.alert])).join(', ');
    throw new Error(`no alert ${alert} in the rendered rules; there are: ${names}`);
  }
  return found;
}
