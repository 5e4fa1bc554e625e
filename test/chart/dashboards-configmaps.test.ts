/** The chart's dashboards.* values, rendered with the real helm binary. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHART_DIR, NAMESPACE, render, renderRun, type K8sObject } from './support/helm.ts';

interface ConfigMap extends K8sObject {
  metadata: K8sObject['metadata'] & { labels?: Record<string, string> };
  data?: Record<string, string>;
}

const DASHBOARDS = join(CHART_DIR, 'dashboards');
const files = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .sort();
/** What a ConfigMap may hold in all (etcd's object limit); the template refuses more. */
const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

const dashboardMaps = (objects: K8sObject[]) =>
  (objects.filter((o) => o.kind === 'ConfigMap') as ConfigMap[]).filter((c) =>
    Object.keys(c.data ?? {}).some((k) => k.endsWith('.json')),
  );

describe('dashboards ConfigMaps', { timeout: 60_000 }, () => {
  it('renders nothing by default', () => {
    assert.deepEqual(dashboardMaps(render()), []);
  });

  it('renders one ConfigMap per dashboard, with the Grafana sidecar label and the exact JSON', () => {
    assert.ok(files.length >= 2, 'fleet and target dashboards');
    const maps = dashboardMaps(render({ set: { 'dashboards.enabled': true } }));
    assert.equal(maps.length, files.length);
    for (const file of files) {
      const map = maps.find((m) => m.data?.[file] !== undefined);
      assert.ok(map, `a ConfigMap holds ${file}`);
      assert.deepEqual(Object.keys(map.data ?? {}), [file], 'one dashboard per ConfigMap');
      assert.equal(map.data?.[file], readFileSync(join(DASHBOARDS, file), 'utf8'), `${file} unchanged`);
      assert.equal(map.metadata.labels?.grafana_dashboard, '1');
      assert.equal(map.metadata.namespace, NAMESPACE);
      assert.equal(map.metadata.annotations, undefined);
      assert.match(map.metadata.name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    }
    assert.equal(new Set(maps.map((m) => m.metadata.name)).size, maps.length, 'distinct names');
  });

  it('honours a custom label key and value, namespace and annotations', () => {
    const maps = dashboardMaps(
      render({
        set: {
          'dashboards.enabled': true,
          'dashboards.label': 'example.com/grafana-dashboard',
          'dashboards.namespace': 'monitoring',
          'dashboards.annotations.grafana_folder': 'token-broker',
        },
        setString: { 'dashboards.labelValue': 'yes' },
      }),
    );
    assert.equal(maps.length, files.length);
    for (const map of maps) {
      assert.equal(map.metadata.labels?.['example.com/grafana-dashboard'], 'yes');
      assert.equal(map.metadata.labels?.grafana_dashboard, undefined);
      assert.equal(map.metadata.namespace, 'monitoring');
      assert.deepEqual(map.metadata.annotations, { grafana_folder: 'token-broker' });
    }
  });

  it('refuses a label value that is not a string, naming the value', () => {
    const run = renderRun({ set: { 'dashboards.enabled': true, 'dashboards.labelValue': 1 } });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /dashboards\/labelValue/);
  });

  it('each dashboard fits a ConfigMap with room to spare', () => {
    for (const file of files) {
      const size = Buffer.byteLength(readFileSync(join(DASHBOARDS, file)));
      assert.ok(size < CONFIGMAP_LIMIT_BYTES / 4, `${file}: ${size} bytes`);
    }
  });
});
