/** Keeps the README's annotation table equal to the one in code, between two marker comments. */
import { renderAnnotationTableMarkdown } from '../webhook/src/injection/annotations.ts';

export const TABLE_START = '<!-- annotation-table:start';
export const TABLE_END = '<!-- annotation-table:end -->';

/** The text between the markers (the start marker's line excluded), or undefined without markers. */
export function readAnnotationTable(doc: string): string | undefined {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  const afterStartLine = doc.indexOf('\n', start) + 1;
  return doc.slice(afterStartLine, end).trim();
}

export function replaceAnnotationTable(doc: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`no "${TABLE_START}" ... "${TABLE_END}" markers found`);
  const afterStartLine = doc.indexOf('\n', start) + 1;
  return `${doc.slice(0, afterStartLine)}${renderAnnotationTableMarkdown()}\n${doc.slice(end)}`;
}

/** Cell text only: Prettier pads Markdown table cells, which must not count as a difference. */
export function normalizeMarkdownTable(table: string): string {
  return table
    .trim()
    .split('\n')
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replace(/^:?-{3,}:?$/, '---'))
        .join('|'),
    )
    .join('\n');
}
