/**
 * Both dashboards as the files the chart ships: pretty JSON as Prettier writes it, with a trailing
 * newline, so the committed files stay prettier-clean and a test can compare them byte for byte.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { parse } from 'yaml';
import { FLEET_FILE, fleetDashboard, type FleetSettings } from './fleet.ts';
import { renderPanelTable, type DashboardPanels } from './readme-table.ts';
import { TARGET_FILE, targetDashboard } from './target.ts';

export const DASHBOARDS_DIR = 'charts/token-broker/dashboards';
const VALUES_FILE = 'charts/token-broker/values.yaml';

/** The chart defaults a dashboard shows (read from values.yaml, so the two never disagree). */
export function chartSettings(valuesYaml: string): FleetSettings {
  const values = parse(valuesYaml) as { webhook?: { timeoutSeconds?: unknown } };
  const timeout = values.webhook?.timeoutSeconds;
  if (typeof timeout !== 'number') {
    throw new Error(
      `${VALUES_FILE}: webhook.timeoutSeconds must be a number (the dashboards show it), got ${String(timeout)}`,
    );
  }
  return { webhookTimeoutSeconds: timeout };
}

/** The dashboards by file name, as plain objects. */
export function buildDashboards(settings: FleetSettings): ReadonlyMap<string, object> {
  return new Map<string, object>([
    [FLEET_FILE, fleetDashboard(settings)],
    [TARGET_FILE, targetDashboard()],
  ]);
}

async function repoDashboards(repoRoot: string): Promise<ReadonlyMap<string, object>> {
  return buildDashboards(chartSettings(await readFile(join(repoRoot, VALUES_FILE), 'utf8')));
}

/** File name -> file text, formatted with the repository's Prettier settings. */
export async function renderDashboards(repoRoot: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [file, dashboard] of await repoDashboards(repoRoot)) {
    const path = join(repoRoot, DASHBOARDS_DIR, file);
    const options = (await resolveConfig(path)) ?? {};
    out.set(file, await format(JSON.stringify(dashboard), { ...options, filepath: path }));
  }
  return out;
}

/** The README's panel table, formatted as Prettier formats README.md. */
export async function renderReadmePanelTable(repoRoot: string): Promise<string> {
  const dashboards = [...(await repoDashboards(repoRoot)).values()] as DashboardPanels[];
  const readme = join(repoRoot, 'README.md');
  const options = (await resolveConfig(readme)) ?? {};
  return (await format(renderPanelTable(dashboards), { ...options, filepath: readme })).trimEnd();
}
