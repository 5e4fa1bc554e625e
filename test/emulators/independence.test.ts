/**
 * The judges (the STS emulator, the SigV4 and RDS token verifiers, the PostgreSQL/LDAP and MongoDB
 * stand-ins) must not share code with the product they judge: a bug shared by both would pass.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const PRODUCT_IMPORT = /from\s+'(?:\.\.\/)+(?:webhook|sidecar|contract|cli)\//;

const JUDGES: Array<[folder: string, files: string[] | 'all']> = [
  ['test/emulators', 'all'],
  [
    'test/e2e/support',
    [
      'ldap-iam-verifier.ts',
      'mongo-wire.ts',
      'mongo-aws-auth.ts',
      'sts-forwarder.ts',
      'postgres.ts',
      'pgpass.ts',
      'container-credentials.ts',
      'http-iam-verifier.ts',
      'mariadb.ts',
      'mysql-plain-server.ts',
    ],
  ],
];

test('no verifier or emulator imports product code', () => {
  let checked = 0;
  for (const [folder, files] of JUDGES) {
    const dir = new URL(`../../${folder}/`, import.meta.url);
    const names = files === 'all' ? readdirSync(dir).filter((n) => n.endsWith('.ts')) : files;
    for (const name of names) {
      const source = readFileSync(new URL(name, dir), 'utf8');
      assert.doesNotMatch(source, PRODUCT_IMPORT, `${folder}/${name} imports product code`);
      checked += 1;
    }
  }
  assert.ok(checked >= 15, `only ${checked} files checked: did the judges move?`);
});
