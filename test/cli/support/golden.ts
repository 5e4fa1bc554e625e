/**
 * Golden text files under test/cli/golden/. `UPDATE_GOLDEN=1` rewrites them (review the diff);
 * otherwise the output must equal the file. Every golden is also checked for secrets.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const GOLDEN = new URL('../golden/', import.meta.url);
const UPDATE = process.env.UPDATE_GOLDEN === '1';

export function assertGolden(name: string, actual: string): void {
  const url = new URL(name, GOLDEN);
  if (UPDATE) {
    writeFileSync(url, actual);
    return;
  }
  assert.ok(existsSync(url), `test/cli/golden/${name} is missing; run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(actual, readFileSync(url, 'utf8'), `output differs from test/cli/golden/${name}`);
}

export function readGolden(name: string): string {
  return readFileSync(new URL(name, GOLDEN), 'utf8');
}
