/**
 * The README's table of dashboard panels, rendered from the built dashboards and kept between two
 * marker comments (`npm run dashboards` rewrites it; a test compares it).
 */
export const PANELS_START = '<!-- dashboard-panels:start';
export const PANELS_END = '<!-- dashboard-panels:end -->';

/** The part of a built dashboard the table reads. */
export interface DashboardPanels {
  title: string;
  panels?: { type?: string; title?: string; description?: string; targets?: { expr?: string }[] }[];
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderPanelTable(dashboards: readonly DashboardPanels[]): string {
  const rows = ['| dashboard | panel | what it shows | query |', '| --- | --- | --- | --- |'];
  for (const d of dashboards) {
    for (const p of d.panels ?? []) {
      if (p.type === 'row') continue;
      const queries = (p.targets ?? []).map((t) => `\`${cell(t.expr ?? '')}\``).join('<br>');
      rows.push(`| ${cell(d.title)} | ${cell(p.title ?? '')} | ${cell(p.description ?? '')} | ${queries} |`);
    }
  }
  return rows.join('\n');
}

/** The table between the markers (start marker's line excluded), or undefined without markers. */
export function readPanelTable(doc: string): string | undefined {
  const start = doc.indexOf(PANELS_START);
  const end = doc.indexOf(PANELS_END);
  if (start < 0 || end < start) return undefined;
  return doc.slice(doc.indexOf('\n', start) + 1, end).trim();
}

export function replacePanelTable(doc: string, table: string): string {
  const start = doc.indexOf(PANELS_START);
  const end = doc.indexOf(PANELS_END);
  if (start < 0 || end < start)
    throw new Error(`README.md: no "${PANELS_START}" ... "${PANELS_END}" markers found`);
  const afterStartLine = doc.indexOf('\n', start) + 1;
  // Blank lines around the table, as Prettier writes Markdown.
  return `${doc.slice(0, afterStartLine)}\n${table}\n\n${doc.slice(end)}`;
}
