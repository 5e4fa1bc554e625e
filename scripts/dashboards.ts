/**
 * `npm run dashboards`: writes the Grafana dashboards the chart ships (charts/token-broker/dashboards/)
 * from the builders in scripts/dashboards/, and their panel table in README.md (between its markers).
 * Commit the result; tests fail when either differs from what this writes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replacePanelTable } from './dashboards/readme-table.ts';
import { DASHBOARDS_DIR, renderDashboards, renderReadmePanelTable } from './dashboards/render.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, text] of await renderDashboards(repoRoot)) {
  await writeFile(join(repoRoot, DASHBOARDS_DIR, file), text);
  console.log(`wrote ${join(DASHBOARDS_DIR, file)}`);
}
const readme = join(repoRoot, 'README.md');
// Read just before writing: only the text between the markers changes.
const table = await renderReadmePanelTable(repoRoot);
await writeFile(readme, replacePanelTable(await readFile(readme, 'utf8'), table));
console.log('wrote the panel table in README.md');
