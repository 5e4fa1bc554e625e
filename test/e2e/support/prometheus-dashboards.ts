/**
 * The generated Grafana dashboards read as Grafana would run them against Prometheus: every panel's
 * PromQL (rows and nested panels included) and every template variable's query, with the variables
 * filled in the way Grafana interpolates them (`$var`, `${var}`, `${var:format}`, `[[var]]`, and the
 * built-ins `$__rate_interval`, `$__interval`, `$__range`, ...). Pure apart from reading the files.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Dashboard {
  readonly file: string;
  readonly title: string;
  readonly json: Readonly<Record<string, unknown>>;
}

export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

export interface VariableQuery {
  readonly dashboard: string;
  readonly name: string;
  readonly query: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const objects = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export async function loadDashboards(dir: string): Promise<Dashboard[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return await Promise.all(
    files.map(async (file) => {
      const json = JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown;
      if (!isObject(json)) throw new Error(`${file}: not a dashboard object`);
      return { file, title: text(json.title) ?? file, json };
    }),
  );
}

/** Every panel's PromQL, walking rows (`panels[].panels`) and the old `rows[].panels` layout. */
export function panelQueries(dashboard: Dashboard): PanelQuery[] {
  const found: PanelQuery[] = [];
  const walk = (panels: Json[], path: string): void => {
    for (const panel of panels) {
      const title = text(panel.title) ?? `(untitled ${text(panel.type) ?? 'panel'})`;
      const name = path === '' ? title : `${path} / ${title}`;
      for (const target of objects(panel.targets)) {
        const expr = text(target.expr);
        if (expr !== undefined && expr.trim() !== '') {
          found.push({ dashboard: dashboard.title, panel: name, refId: text(target.refId) ?? '?', expr });
        }
      }
      walk(objects(panel.panels), panel.type === 'row' ? title : name);
    }
  };
  walk(objects(dashboard.json.panels), '');
  for (const row of objects(dashboard.json.rows)) walk(objects(row.panels), text(row.title) ?? '');
  return found;
}

/** Query-type template variables (`label_values(...)`, `query_result(...)` or plain PromQL). */
export function variableQueries(dashboard: Dashboard): VariableQuery[] {
  const templating = isObject(dashboard.json.templating) ? dashboard.json.templating : {};
  return objects(templating.list)
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = isObject(v.query) ? text(v.query.query) : text(v.query);
      return { dashboard: dashboard.title, name: text(v.name) ?? '?', query: query ?? '' };
    });
}

const VARIABLE = /\$\{(\w+)(?::[\w-]+)?\}|\[\[(\w+)(?::[\w-]+)?\]\]|\$(\w+)/g;

/**
 * Replaces the variables named in `values`. A reference to any other variable that Grafana would
 * interpolate (a built-in `__` one or a name in `known`) is an error naming it; anything else (e.g. a
 * `$1` in a label_replace replacement) is left as Grafana leaves it.
 */
export function fillVariables(
  expr: string,
  values: Readonly<Record<string, string>>,
  known: ReadonlySet<string> = new Set(),
): string {
  const unresolved = new Set<string>();
  const filled = expr.replace(VARIABLE, (whole, braced?: string, bracketed?: string, bare?: string) => {
    const name = braced ?? bracketed ?? bare ?? '';
    const value = values[name];
    if (value !== undefined) return value;
    if (name.startsWith('__') || known.has(name)) unresolved.add(name);
    return whole;
  });
  if (unresolved.size > 0) {
    throw new Error(`no value for ${[...unresolved].map((n) => `$${n}`).join(', ')} in: ${expr}`);
  }
  return filled;
}

/**
 * The PromQL behind a variable query: `label_values(expr, label)` lists the label's values of
 * `expr`'s series, i.e. `group by (label) (expr)` (without `expr`: every series that has the label);
 * `query_result(expr)` and plain PromQL run as they are.
 */
export function variablePromql(query: string): { expr: string; label?: string } {
  const labelValues = /^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$/s.exec(query);
  if (labelValues?.[1] !== undefined && labelValues[2] !== undefined) {
    return { expr: `group by (${labelValues[2]}) (${labelValues[1]})`, label: labelValues[2] };
  }
  const bare = /^\s*label_values\(\s*(\w+)\s*\)\s*$/.exec(query)?.[1];
  if (bare !== undefined) return { expr: `group by (${bare}) ({${bare}!=""})`, label: bare };
  const result = /^\s*query_result\((.+)\)\s*$/s.exec(query);
  return { expr: result?.[1] ?? query };
}
