/** Rewrites the annotation table in README.md from webhook/src/injection/annotations.ts (`npm run docs`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceAnnotationTable } from './annotation-table-doc.ts';

const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, replaceAnnotationTable(readFileSync(readme, 'utf8')));
