/**
 * Runbooks (docs/runbooks/<AlertName>.md) against the alerts they serve: one page per alert and no
 * orphan, every rendered rule's runbook_url pointing at its page, the sections an on-call reader looks
 * for, error classes and denial codes that exist in the code, the exact `kubectl exec` line for the
 * image, and links that resolve. Also the PrometheusRule values that go with them: runbookBaseUrl and
 * the per-alert `for:` overrides (prometheusRule.alertFor).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { ERROR_CLASSES, PROXY_ERROR_CLASSES } from '../../sidecar/src/error-class.ts';
import { SIDECAR_CONTAINER_NAME } from '../../webhook/src/injection/names.ts';
import { CHART_DIR, REPO_ROOT, findOne, render, renderRun } from './support/helm.ts';
import { runPromtool } from './support/promtool.ts';
import { exportedMetricNames } from './support/exported-metrics.ts';

const RUNBOOK_DIR = join(REPO_ROOT, 'docs/runbooks');
const INDEX = 'README.md';

interface Rule {
  alert: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const ruleFile = parse(readFileSync(join(CHART_DIR, 'files/alerts.yaml'), 'utf8')) as RuleFile;
const rules = ruleFile.groups.flatMap((g) => g.rules);
const alertNames = rules.map((r) => r.alert);
const defaultBase = (
  parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as {
    prometheusRule: { runbookBaseUrl: string };
  }
).prometheusRule.runbookBaseUrl;

const runbookFiles = readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith('.md'));
const readRunbook = (file: string) => readFileSync(join(RUNBOOK_DIR, file), 'utf8');
const alertPages = runbookFiles.filter((f) => f !== INDEX);

function renderedRules(set: Record<string, string | number | boolean> = {}): Rule[] {
  const objects = render({ set: { 'prometheusRule.enabled': true, ...set } });
  return (findOne(objects, 'PrometheusRule').spec as RuleFile).groups.flatMap((g) => g.rules);
}

/** Error classes a page names: "class `x`" (also "class `x`, `y` or `z`"), reason="x" in PromQL. */
function claimedErrorClasses(markdown: string): string[] {
  const claims: string[] = [];
  for (const m of markdown.matchAll(/\bclass(?:es)?\s+((?:`[^`]+`(?:\s*(?:,|\/|or|and)\s*)?)+)/g)) {
    for (const span of (m[1] ?? '').matchAll(/`([^`]+)`/g)) claims.push(span[1] ?? '');
  }
  for (const m of markdown.matchAll(/\breason=~?"([^"]+)"/g)) claims.push(...(m[1] ?? '').split('|'));
  return claims;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

function anchorsIn(markdown: string): Set<string> {
  const outsideCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...outsideCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] ?? '')));
}

void describe('runbooks: one page per alert', () => {
  it('every alert in files/alerts.yaml has docs/runbooks/<alert>.md', () => {
    const missing = alertNames.filter((name) => !runbookFiles.includes(`${name}.md`));
    assert.deepEqual(missing, [], `alerts without a runbook: ${missing.join(', ')}`);
  });

  it('every runbook page belongs to an alert', () => {
    const orphans = alertPages.filter((f) => !alertNames.includes(f.replace(/\.md$/, '')));
    assert.deepEqual(orphans, [], `runbooks without an alert: ${orphans.join(', ')}`);
  });

  it('the index lists every alert with its severity and a link to its page', () => {
    const index = readRunbook(INDEX);
    for (const rule of rules) {
      const row = new RegExp(
        `^\\| \\[${rule.alert}\\]\\(${rule.alert}\\.md\\) +\\| ${rule.labels.severity} +\\|`,
        'm',
      );
      assert.match(index, row, `${INDEX} row for ${rule.alert}`);
    }
  });

  it("the README's SRE table and the chart README list every alert with its severity", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Alerts and runbooks'));
    const chartReadme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    for (const rule of rules) {
      const severity = rule.labels.severity ?? '';
      const link = `[${rule.alert}](docs/runbooks/${rule.alert}.md)`;
      const row = section.split('\n').find((l) => l.startsWith(`| ${rule.alert} `));
      assert.ok(row, `README.md "Alerts and runbooks" has a row for ${rule.alert}`);
      assert.equal(row.split('|')[2]?.trim(), severity, `README.md severity of ${rule.alert}`);
      assert.ok(row.includes(link), `README.md row for ${rule.alert} links ${link}`);
      const chartRow = chartReadme.split('\n').find((l) => l.startsWith(`| ${rule.alert} `));
      assert.equal(
        chartRow?.split('|')[3]?.trim(),
        severity,
        `charts/token-broker/README.md row for ${rule.alert}`,
      );
    }
  });

  for (const rule of rules) {
    it(`${rule.alert}.md: title, severity and the sections on-call needs`, () => {
      const page = readRunbook(`${rule.alert}.md`);
      assert.match(page, new RegExp(`^# ${rule.alert}\\n`), 'title is the alert name');
      assert.match(
        page,
        new RegExp(`\\*\\*Severity:\\*\\* ${rule.labels.severity}\\.`),
        'severity as in the rule',
      );
      const headings = [...page.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
      assert.deepEqual(headings.slice(0, 5), [
        'Meaning',
        'Impact',
        'Confirm',
        'Causes and fixes',
        'Telling the causes apart',
      ]);
    });
  }
});

void describe('runbooks: consistent with the code', () => {
  it('name only error classes that sidecar/src/error-class.ts has (refresh and proxy classes)', () => {
    const known = new Set<string>([...ERROR_CLASSES, ...PROXY_ERROR_CLASSES]);
    let claims = 0;
    for (const file of runbookFiles) {
      for (const claim of claimedErrorClasses(readRunbook(file))) {
        claims++;
        assert.ok(
          known.has(claim),
          `${file} names error class "${claim}"; the classes are ${[...known].join(', ')}`,
        );
      }
    }
    assert.ok(
      claims > ERROR_CLASSES.length,
      `only ${claims} error-class mentions found: the parser misses them`,
    );
  });

  it('TokenBrokerRefreshFailing has a section for every error class', () => {
    const page = readRunbook('TokenBrokerRefreshFailing.md');
    for (const errorClass of ERROR_CLASSES) {
      assert.match(page, new RegExp(`^### class \`${errorClass}\`:`, 'm'), `section for ${errorClass}`);
    }
  });

  it('TokenBrokerProxyLoginFailing has a section for every proxy error class', () => {
    const page = readRunbook('TokenBrokerProxyLoginFailing.md');
    for (const errorClass of PROXY_ERROR_CLASSES) {
      assert.match(page, new RegExp(`^### class \`${errorClass}\`:`, 'm'), `section for ${errorClass}`);
    }
  });

  it('TokenBrokerWebhookDenials names only denial codes that webhook/src/injection/config-error.ts has', () => {
    const source = readFileSync(join(REPO_ROOT, 'webhook/src/injection/config-error.ts'), 'utf8');
    const union = /export type ConfigErrorCode =([^;]+);/.exec(source)?.[1] ?? '';
    const codes = new Set([...union.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]));
    assert.ok(codes.size > 10, 'ConfigErrorCode parsed');
    const page = readRunbook('TokenBrokerWebhookDenials.md');
    const causes = page.slice(page.indexOf('## Causes and fixes'));
    const named = [...causes.matchAll(/`\[?([a-z]+(?:-[a-z]+)+)\]?`/g)].map((m) => m[1] ?? '');
    assert.ok(named.length > 5, 'denial codes found in the page');
    for (const code of named)
      assert.ok(codes.has(code), `TokenBrokerWebhookDenials.md names unknown code "${code}"`);
  });

  it('every `kubectl exec` into the sidecar names its container and the image ENTRYPOINT', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    assert.ok(entrypoint.length > 0, 'Dockerfile ENTRYPOINT parsed');
    const expected = `-c ${SIDECAR_CONTAINER_NAME} -- ${entrypoint.join(' ')} `;
    for (const file of runbookFiles) {
      for (const line of readRunbook(file).split('\n')) {
        const m = /kubectl exec -n <ns> <pod> (.*?)(status|doctor)\b/.exec(line);
        if (m) assert.equal(m[1], expected, `${file}: ${line.trim()}`);
      }
    }
    // Every sidecar alert's page tells how to run doctor.
    const sidecarAlerts = ruleFile.groups.find((g) => g.name === 'token-broker-sidecar')?.rules ?? [];
    assert.ok(sidecarAlerts.length > 0);
    for (const rule of sidecarAlerts) {
      assert.ok(
        readRunbook(`${rule.alert}.md`).includes(`${expected}doctor`),
        `${rule.alert}.md runs doctor`,
      );
    }
  });

  it('query only metrics the sidecar and the webhook export', async () => {
    const exported = await exportedMetricNames();
    for (const file of runbookFiles) {
      for (const [name = ''] of readRunbook(file).matchAll(/\btoken_broker_[a-z_]+/g)) {
        const metric = name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(exported.has(metric), `${file} uses ${name}, which no component exports`);
      }
    }
  });

  it('relative links and #anchors resolve', () => {
    for (const file of runbookFiles) {
      const page = readRunbook(file);
      for (const m of page.matchAll(/\]\(([^)\s]+)\)/g)) {
        const href = m[1] ?? '';
        if (/^https?:/.test(href)) continue;
        const [path = '', anchor] = href.split('#');
        const target = path === '' ? join(RUNBOOK_DIR, file) : resolve(RUNBOOK_DIR, path);
        assert.ok(existsSync(target), `${file} links to ${href}, which does not exist`);
        if (anchor !== undefined) {
          assert.ok(
            anchorsIn(readFileSync(target, 'utf8')).has(anchor),
            `${file} links to missing #${anchor}`,
          );
        }
      }
    }
  });
});

void describe('runbook_url', () => {
  it('files/alerts.yaml carries the default base for every alert (the plain rules file links too)', () => {
    for (const rule of rules) {
      assert.equal(rule.annotations.runbook_url, `${defaultBase}/${rule.alert}.md`, rule.alert);
    }
  });

  it('every rendered rule points at <runbookBaseUrl>/<alert>.md, a trailing slash or not', () => {
    for (const base of [
      'https://wiki.example.com/sre/token-broker',
      'https://wiki.example.com/sre/token-broker/',
    ]) {
      const rendered = renderedRules({
        'prometheusRule.runbookBaseUrl': base,
        'prometheusRule.additionalRuleLabels.team': 'platform',
      });
      assert.deepEqual(
        rendered.map((r) => r.alert),
        alertNames,
      );
      for (const rule of rendered) {
        assert.equal(
          rule.annotations.runbook_url,
          `https://wiki.example.com/sre/token-broker/${rule.alert}.md`,
          rule.alert,
        );
        assert.equal(rule.labels.team, 'platform', `${rule.alert} keeps additionalRuleLabels`);
      }
    }
  });

  it('values.schema.json refuses a base that is not an http(s) URL', () => {
    const run = renderRun({ set: { 'prometheusRule.runbookBaseUrl': 'docs/runbooks' } });
    assert.notEqual(run.status, 0);
    assert.match(
      run.stderr,
      /at '\/prometheusRule\/runbookBaseUrl': 'docs\/runbooks' does not match pattern/,
    );
  });
});

void describe('prometheusRule.alertFor', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tb-alertfor-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('overrides `for:` of the named alerts, adds it where there was none, and leaves the rest', () => {
    const without = rules.find((r) => r.for === undefined);
    assert.ok(without, 'some alert has no for: (the case to add one)');
    const overrides: Record<string, string> = { TokenBrokerRefreshFailing: '5s', [without.alert]: '1m30s' };
    const rendered = renderedRules(
      Object.fromEntries(Object.entries(overrides).map(([k, v]) => [`prometheusRule.alertFor.${k}`, v])),
    );
    for (const [i, rule] of rendered.entries()) {
      assert.equal(rule.for, overrides[rule.alert] ?? rules[i]?.for, rule.alert);
    }
    // The rendered rules are still a valid Prometheus rules file.
    const file = join(tmp, 'rendered-rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'rendered', rules: rendered }] }));
    const run = runPromtool(['check', 'rules', file], dirname(file));
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('an unknown alert name fails rendering, naming the key and the known alerts (enabled or not)', () => {
    for (const enabled of [true, false]) {
      const run = renderRun({
        set: { 'prometheusRule.enabled': enabled, 'prometheusRule.alertFor.TokenBrokerRefreshFails': '5s' },
      });
      assert.notEqual(run.status, 0, `enabled=${enabled}`);
      assert.match(run.stderr, /prometheusRule\.alertFor\.TokenBrokerRefreshFails: there is no alert/);
      assert.match(run.stderr, new RegExp(`the alerts are ${alertNames.join(', ')}`));
    }
  });

  for (const bad of ['5min', '10', '', '1h-5m']) {
    it(`values.schema.json refuses the duration "${bad}"`, () => {
      const run = renderRun({ setString: { 'prometheusRule.alertFor.TokenBrokerRefreshFailing': bad } });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /at '\/prometheusRule\/alertFor\/TokenBrokerRefreshFailing'/);
    });
  }
});
