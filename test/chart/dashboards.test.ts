/**
 * The Grafana dashboards the chart ships: committed JSON equal to the generator's output, every panel
 * described and queried, every query parsed by promtool and reading only metrics and labels the
 * sidecar and the webhook really export (taken from their registries, not from our own list).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { FLEET_FILE, FLEET_UID } from '../../scripts/dashboards/fleet.ts';
import { readPanelTable } from '../../scripts/dashboards/readme-table.ts';
import { DASHBOARDS_DIR, renderDashboards, renderReadmePanelTable } from '../../scripts/dashboards/render.ts';
import { TARGET_FILE, TARGET_UID } from '../../scripts/dashboards/target.ts';
import { normalizeMarkdownTable } from '../../scripts/annotation-table-doc.ts';
import { createMetrics } from '../../sidecar/src/metrics.ts';
import { createProxyMetrics } from '../../sidecar/src/pg-proxy/metrics.ts';
import { createWebhookMetrics } from '../../webhook/src/server/metrics.ts';
import { rdsTarget } from '../fakes/sidecar-config.ts';
import { REPO_ROOT } from './support/helm.ts';
import { runPromtool } from './support/promtool.ts';

interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; refId?: string; datasource?: { uid?: string } }[];
}
interface Variable {
  type: string;
  name: string;
  query?: unknown;
  datasource?: { uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  templating: { list: Variable[] };
  panels: Panel[];
}

const REGENERATE = 'run `npm run dashboards` and commit the result';

async function committed(file: string): Promise<string> {
  return readFile(join(REPO_ROOT, DASHBOARDS_DIR, file), 'utf8');
}
const dashboards = async () => ({
  fleet: JSON.parse(await committed(FLEET_FILE)) as Dashboard,
  target: JSON.parse(await committed(TARGET_FILE)) as Dashboard,
});
const queryPanels = (d: Dashboard) => d.panels.filter((p) => p.type !== 'row');
const exprs = (d: Dashboard) => queryPanels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));

/** Grafana's variables the queries may use, each with a value that makes the query plain PromQL. */
const FLEET_VARIABLES: Record<string, string> = { __rate_interval: '1m', __interval: '30s', __range: '1h' };
const TARGET_VARIABLES: Record<string, string> = {
  ...FLEET_VARIABLES,
  namespace: 'billing',
  pod: 'invoicing-7d9f',
  target: 'invoicing-db',
};
function fillVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$(\w+)/g, (whole, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `unknown variable ${whole} in: ${expr}`);
    return value;
  });
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool']);
const PROMQL_KEYWORDS_BINARY = new Set(['or', 'and', 'unless', 'offset']);

/** Metric names and label names an expression reads (label_values() queries included). */
function promqlNames(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  let rest = noStrings.replace(/\{([^}]*)\}/g, (_, matchers: string) => {
    for (const [, name] of matchers.matchAll(/([A-Za-z_]\w*)\s*(?:=|!=|=~|!~)/g)) labels.push(name!);
    return ' ';
  });
  rest = rest.replace(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g, (_, names: string) => {
    labels.push(
      ...names
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  // label_values(metric, label): the last argument is a label name.
  rest = rest.replace(/label_values\(([^,]*),\s*(\w+)\)/g, (_, metric: string, label: string) => {
    labels.push(label);
    return ` ${metric} `;
  });
  const metrics: string[] = [];
  for (const m of rest.matchAll(/([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call !== undefined || PROMQL_KEYWORDS.has(name!) || PROMQL_KEYWORDS_BINARY.has(name!)) continue;
    metrics.push(name!);
  }
  return { metrics, labels };
}

/** What the components export, read from their registries (histograms as their _bucket/_sum/_count). */
async function exported(): Promise<{ metrics: Set<string>; labels: Map<string, Set<string>> }> {
  const target = rdsTarget();
  const sidecar = createMetrics({
    isReady: () => true,
    targets: () => [
      {
        target,
        expiresAt: Date.UTC(2030, 0, 1, 1),
        lastSuccessAt: Date.UTC(2030, 0, 1),
        state: 'failing',
        consecutiveFailures: 1,
        lastFailureAt: Date.UTC(2030, 0, 1),
        lastErrorClass: 'access-denied',
      },
    ],
    clockSkewSeconds: () => 0,
    defaultMetrics: false,
  });
  // One event of each kind, so every labelled series exists and shows its label names.
  sidecar.initTargets([target]);
  sidecar.refreshAttempt(target);
  sidecar.refreshFailure(target, 'access-denied', 10);
  sidecar.stsRequest('AssumeRole', 'success', 10);
  // The PostgreSQL proxy reports on the sidecar's registry (sidecar/src/pg-proxy/proxies.ts).
  createProxyMetrics(sidecar.registry, [target.name]);
  const webhook = createWebhookMetrics({ defaultMetrics: false });
  webhook.admissionDuration.observe(0.01);
  webhook.certificateExpiry.set(Date.UTC(2031, 0, 1) / 1000);
  const metrics = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const m of [
    ...(await sidecar.registry.getMetricsAsJSON()),
    ...(await webhook.registry.getMetricsAsJSON()),
  ]) {
    for (const v of m.values) {
      const name = (v as { metricName?: string }).metricName ?? m.name;
      metrics.add(name);
      const set = labels.get(name) ?? new Set<string>();
      for (const label of Object.keys(v.labels)) set.add(label);
      labels.set(name, set);
    }
  }
  return { metrics, labels };
}

/** Labels a scrape adds to every series: the PodMonitors' namespace and pod (and Prometheus's job). */
const SCRAPE_LABELS = new Set(['namespace', 'pod', 'job', 'instance']);

describe('Grafana dashboards', { timeout: 60_000 }, () => {
  it('the committed JSON is what the generator writes', async () => {
    for (const [file, text] of await renderDashboards(REPO_ROOT)) {
      assert.ok(
        (await committed(file)) === text,
        `${DASHBOARDS_DIR}/${file} differs from the builders in scripts/dashboards/: ${REGENERATE}`,
      );
    }
  });

  it("the README's panel table is the one the builders give", async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const table = readPanelTable(readme);
    assert.ok(table !== undefined, `README.md has no dashboard-panels markers: ${REGENERATE}`);
    assert.equal(
      normalizeMarkdownTable(table),
      normalizeMarkdownTable(await renderReadmePanelTable(REPO_ROOT)),
      `README.md's panel table is out of date: ${REGENERATE}`,
    );
  });

  it('have stable uids, titles, tags and a Prometheus datasource variable', async () => {
    const { fleet, target } = await dashboards();
    assert.equal(fleet.uid, FLEET_UID);
    assert.equal(target.uid, TARGET_UID);
    for (const d of [fleet, target]) {
      assert.match(d.title, /^token-broker \/ /);
      assert.ok(d.tags.includes('token-broker'), `${d.title}: tags`);
      const ds = d.templating.list[0];
      assert.deepEqual([ds?.type, ds?.name, ds?.query], ['datasource', 'datasource', 'prometheus'], d.title);
    }
    assert.deepEqual(
      fleet.templating.list.map((v) => v.name),
      ['datasource'],
    );
  });

  it('the target dashboard chains namespace -> pod -> target from label_values queries', async () => {
    const { target } = await dashboards();
    const vars = target.templating.list;
    assert.deepEqual(
      vars.map((v) => [v.name, v.type]),
      [
        ['datasource', 'datasource'],
        ['namespace', 'query'],
        ['pod', 'query'],
        ['target', 'query'],
      ],
    );
    const query = (name: string) => String(vars.find((v) => v.name === name)?.query);
    assert.match(query('namespace'), /^label_values\(\w+, namespace\)$/);
    assert.match(query('pod'), /^label_values\(\w+\{namespace="\$namespace"\}, pod\)$/);
    assert.match(query('target'), /^label_values\(\w+\{namespace="\$namespace", pod="\$pod"\}, target\)$/);
    for (const v of vars.slice(1)) assert.equal(v.datasource?.uid, '${datasource}', v.name);
  });

  it('every panel has a title, a description and PromQL queries on the datasource variable', async () => {
    const { fleet, target } = await dashboards();
    for (const d of [fleet, target]) {
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${d.title}: panel ids are unique`);
      assert.ok(queryPanels(d).length >= 8, `${d.title}: panels`);
      for (const p of queryPanels(d)) {
        const where = `${d.title} / ${p.title ?? `panel ${p.id}`}`;
        assert.ok(p.title?.trim(), `${where}: title`);
        assert.ok(p.description?.trim(), `${where}: description`);
        assert.equal(p.datasource?.uid, '${datasource}', `${where}: datasource`);
        assert.ok((p.targets ?? []).length > 0, `${where}: no query`);
        for (const t of p.targets ?? []) {
          assert.ok(t.expr?.trim(), `${where}: query ${t.refId} has no expr`);
          assert.equal(t.datasource?.uid, '${datasource}', `${where}: query datasource`);
        }
      }
    }
  });

  it('the panels the fleet needs are there', async () => {
    const { fleet, target } = await dashboards();
    const titles = (d: Dashboard) => queryPanels(d).map((p) => p.title);
    for (const title of [
      'Opted-in pods',
      'Targets',
      'Targets by state',
      'Soonest expiry per namespace',
      'Refresh failures by reason',
      'STS call latency',
      'Sidecars not ready',
      'Webhook admissions by outcome',
      'Webhook latency against timeoutSeconds',
      'Webhook certificate expiry',
      'Open proxied connections',
      'Proxy connections and logins',
      'Proxy login failures by reason',
      'Proxy login latency',
      'Proxy bytes relayed',
    ]) {
      assert.ok(titles(fleet).includes(title), `fleet: ${title}`);
    }
    for (const title of [
      'Expiry countdown',
      'Refresh history',
      'Last error class',
      'Consecutive failures',
      'State',
      'Clock skew',
      'Open proxied connections',
      'Proxy connections and logins',
      'Proxy login failures by reason',
      'Proxy login latency (p99)',
      'Proxy bytes relayed',
    ]) {
      assert.ok(titles(target).includes(title), `target: ${title}`);
    }
    // The webhook's latency is drawn against the chart's timeoutSeconds.
    const values = await readFile(join(REPO_ROOT, 'charts/token-broker/values.yaml'), 'utf8');
    const timeout = /^ {2}timeoutSeconds: (\d+)$/m.exec(values)?.[1];
    const latency = queryPanels(fleet).find((p) => p.title === 'Webhook latency against timeoutSeconds');
    assert.ok(
      latency?.targets?.some((t) => t.expr === `vector(${timeout})`),
      `vector(${timeout})`,
    );
  });

  it('queries use only the plain variables, and promtool parses each with them filled in', async () => {
    const { fleet, target } = await dashboards();
    const filled = [
      ...exprs(fleet).map((e) => fillVariables(e, FLEET_VARIABLES)),
      ...exprs(target).map((e) => fillVariables(e, TARGET_VARIABLES)),
    ];
    const dir = await mkdtemp(join(tmpdir(), 'tb-dashboards-'));
    try {
      const file = join(dir, 'panels.rules.yaml');
      const rules = filled.map((expr, i) => ({ record: `dashboard:panel_${i}`, expr }));
      await writeFile(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const run = runPromtool(['check', 'rules', file], dir);
      assert.equal(run.status, 0, run.output);
      assert.match(run.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every metric and label a query reads is exported by the sidecar or the webhook', async () => {
    const { fleet, target } = await dashboards();
    const { metrics, labels } = await exported();
    const queries = [
      ...exprs(fleet),
      ...exprs(target),
      ...target.templating.list.filter((v) => v.type === 'query').map((v) => String(v.query)),
    ];
    for (const expr of queries) {
      const names = promqlNames(expr);
      // A constant (the webhook's timeout line) is the only query allowed to read no metric.
      if (!/^vector\(\d+\)$/.test(expr)) assert.ok(names.metrics.length > 0, `${expr} reads no metric`);
      for (const name of names.metrics) {
        assert.ok(
          metrics.has(name),
          `${name} (in ${expr}) is exported by neither the sidecar nor the webhook`,
        );
      }
      const known = new Set([...SCRAPE_LABELS, ...names.metrics.flatMap((m) => [...(labels.get(m) ?? [])])]);
      for (const label of names.labels) {
        assert.ok(known.has(label), `label ${label} (in ${expr}) is on none of ${names.metrics.join(', ')}`);
      }
    }
  });

  it('promqlNames finds the metrics and labels of a query', () => {
    assert.deepEqual(
      promqlNames(
        'histogram_quantile(0.99, sum by (le, action) (rate(a_bucket{pod="$pod", x!~"y"}[$__rate_interval]))) or vector(0)',
      ),
      { metrics: ['a_bucket'], labels: ['pod', 'x', 'le', 'action'] },
    );
    assert.deepEqual(promqlNames('label_values(m{namespace="$namespace"}, pod)'), {
      metrics: ['m'],
      labels: ['namespace', 'pod'],
    });
    assert.deepEqual(promqlNames('min(a) - time() + b * 1000'), { metrics: ['a', 'b'], labels: [] });
  });
});
