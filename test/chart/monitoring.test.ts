/**
 * Alerts (charts/token-broker/files/alerts.yaml) checked and unit-tested with the real promtool, the
 * PrometheusRule that wraps them, and the ServiceMonitor / PodMonitor options.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CHART_DIR, NAMESPACE, REPO_ROOT, findOne, render, renderRun } from './support/helm.ts';
import { runPromtool } from './support/promtool.ts';
import { exportedMetricNames } from './support/exported-metrics.ts';

const ALERTS_FILE = join(CHART_DIR, 'files/alerts.yaml');
const ALERTS_TEST = join(REPO_ROOT, 'test/chart/alerts.test.yaml');

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const ruleFile = parse(readFileSync(ALERTS_FILE, 'utf8')) as RuleFile;
const allRules = ruleFile.groups.flatMap((g) => g.rules);

void describe('alert rules with promtool', () => {
  it('promtool check rules passes', () => {
    const run = runPromtool(['check', 'rules', ALERTS_FILE], REPO_ROOT);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${allRules.length} rules found`));
  });

  it('promtool test rules passes (each alert fires and stays quiet on its synthetic series)', () => {
    const run = runPromtool(['test', 'rules', ALERTS_TEST], REPO_ROOT);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });

  it('the unit tests cover every alert, both firing and silent', () => {
    const tests = (
      parse(readFileSync(ALERTS_TEST, 'utf8')) as {
        tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test);
    for (const rule of allRules) {
      const own = tests.filter((t) => t.alertname === rule.alert);
      assert.ok(
        own.some((t) => t.exp_alerts.length > 0),
        `${rule.alert} has a firing case`,
      );
      assert.ok(
        own.some((t) => t.exp_alerts.length === 0),
        `${rule.alert} has a silent case`,
      );
    }
  });

  it('every alert has a severity, a summary and a description', () => {
    for (const rule of allRules) {
      assert.match(rule.labels?.severity ?? '', /^(info|warning|critical)$/, rule.alert);
      assert.ok(rule.annotations?.summary, `${rule.alert} summary`);
      assert.ok(rule.annotations?.description, `${rule.alert} description`);
    }
  });

  it('uses only metric names the sidecar and the webhook export', async () => {
    const exported = await exportedMetricNames();
    for (const rule of allRules) {
      for (const name of rule.expr.match(/token_broker_[a-z_]+/g) ?? []) {
        assert.ok(exported.has(name), `${rule.alert} uses ${name}, which no component exports`);
      }
    }
  });
});

void describe('PrometheusRule', () => {
  it('is off by default', () => {
    assert.ok(!render().some((o) => o.kind === 'PrometheusRule'));
  });

  it('wraps files/alerts.yaml unchanged, with the selector labels and extra alert labels', () => {
    const objects = render({
      set: {
        'prometheusRule.enabled': true,
        'prometheusRule.labels.release': 'kube-prometheus-stack',
        'prometheusRule.additionalRuleLabels.team': 'platform',
      },
    });
    const rule = findOne(objects, 'PrometheusRule');
    assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(
      (rule.metadata as { labels?: Record<string, string> }).labels?.release,
      'kube-prometheus-stack',
    );
    const expected = structuredClone(ruleFile);
    for (const r of expected.groups.flatMap((g) => g.rules)) r.labels = { ...r.labels, team: 'platform' };
    assert.deepEqual(rule.spec, expected);
    // The Prometheus template syntax in annotations survives Helm untouched.
    assert.match(JSON.stringify(rule.spec), /\{\{ \$labels\.target \}\}/);
  });
});

void describe('ServiceMonitor / PodMonitor', () => {
  const serviceHost = `token-broker-webhook.${NAMESPACE}.svc`;

  it('scrape the webhook /metrics over HTTPS, verified with the chart CA and the Service name', () => {
    const objects = render({
      set: { 'metrics.serviceMonitor.enabled': true, 'metrics.podMonitor.enabled': true },
    });
    const expectedTls = {
      ca: { secret: { name: 'token-broker-webhook-tls', key: 'ca.crt' } },
      serverName: serviceHost,
    };
    const sm = findOne(objects, 'ServiceMonitor').spec as { endpoints: Record<string, unknown>[] };
    assert.deepEqual(sm.endpoints, [
      { port: 'https', path: '/metrics', scheme: 'https', interval: '30s', tlsConfig: expectedTls },
    ]);
    const pm = findOne(objects, 'PodMonitor', 'token-broker-webhook').spec as {
      podMetricsEndpoints: Record<string, unknown>[];
    };
    assert.deepEqual(pm.podMetricsEndpoints, [
      { port: 'https', path: '/metrics', scheme: 'https', interval: '30s', tlsConfig: expectedTls },
    ]);
  });

  it('need an explicit tlsConfig with tls.mode=secret, and take it as given', () => {
    const secretMode = { 'tls.mode': 'secret', 'tls.secret.name': 'my-tls', 'tls.secret.caBundle': 'Zm9v' };
    const run = renderRun({ set: { ...secretMode, 'metrics.serviceMonitor.enabled': true } });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /tlsConfig is required with tls\.mode=secret/);
    const objects = render({
      set: {
        ...secretMode,
        'metrics.serviceMonitor.enabled': true,
        'metrics.serviceMonitor.tlsConfig.insecureSkipVerify': true,
      },
    });
    const sm = findOne(objects, 'ServiceMonitor').spec as { endpoints: { tlsConfig: unknown }[] };
    assert.deepEqual(sm.endpoints[0]?.tlsConfig, { insecureSkipVerify: true });
  });

  it('sidecar PodMonitor scrapes the injected tb-metrics port in the chosen namespaces', () => {
    const objects = render({ set: { 'metrics.sidecarPodMonitor.enabled': true } });
    const pm = findOne(objects, 'PodMonitor', 'token-broker-sidecars').spec as Record<string, unknown>;
    assert.deepEqual(pm, {
      selector: {},
      namespaceSelector: { any: true },
      podMetricsEndpoints: [{ port: 'tb-metrics', path: '/metrics', scheme: 'http', interval: '30s' }],
    });
  });
});
