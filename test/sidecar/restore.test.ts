import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RdsTarget, SidecarConfig } from '../../contract/sidecar-config.ts';
import { parseCredentialsJson, renderCredentialsJson } from '../../sidecar/src/credentials-json.ts';
import { makeMongoCredentials } from '../../sidecar/src/mongo-credentials.ts';
import { renderMongoUri } from '../../sidecar/src/mongo-uri.ts';
import { renderMysqlOptionFile } from '../../sidecar/src/mysql-option-file.ts';
import { renderPgpass } from '../../sidecar/src/pgpass.ts';
import { FilePublisher } from '../../sidecar/src/publisher.ts';
import { RDS_TOKEN_LIFETIME_MS, rdsTokenValidUntil, sdkRdsSigner } from '../../sidecar/src/rds-token.ts';
import { readPreviousValues } from '../../sidecar/src/restore.ts';
import { FAKE_EPOCH } from '../fakes/fake-clock.ts';
import { fakeRdsSigner } from '../fakes/fake-credentials.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';
import { nodeFileOps } from '../../sidecar/src/files.ts';
import { renderTokenMeta } from '../../sidecar/src/token-meta.ts';

const pg = rdsTarget({
  name: 'pg',
  host: 'pg.cluster-x.eu-west-1.rds.amazonaws.com',
  database: 'app',
  user: 'app user',
});
const pg2: RdsTarget = { ...pg, name: 'pg2', host: 'pg2.example', user: 'other' };
const docs = mongoTarget({ name: 'docs' });
const creds = (expiresAt: number) => ({
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'c2VjcmV0/+=c2VjcmV0c2VjcmV0c2VjcmV0c2Vj',
  sessionToken: 'IQoJb3JpZ2luX2Vj/+=session',
  expiresAt,
});

async function sign(target: RdsTarget, at: number): Promise<string> {
  return fakeRdsSigner(
    [],
    () => at,
  )({
    hostname: target.host,
    port: target.port,
    username: target.user,
    region: target.region,
    credentials: creds(at + 3600_000),
  });
}

describe('rdsTokenValidUntil', () => {
  it('X-Amz-Date + X-Amz-Expires of a token for this target', async () => {
    assert.equal(rdsTokenValidUntil(pg, await sign(pg, FAKE_EPOCH + 1_234)), FAKE_EPOCH + 1_000 + 900_000);
  });
  it("reads the SDK signer's own tokens", async () => {
    const before = Date.now();
    const token = await sdkRdsSigner({
      hostname: pg.host,
      port: pg.port,
      username: pg.user,
      region: pg.region,
      credentials: creds(before + 3600_000),
    });
    const until = rdsTokenValidUntil(pg, token);
    assert.ok(until !== undefined);
    assert.ok(until >= Math.floor(before / 1000) * 1000 + RDS_TOKEN_LIFETIME_MS);
    assert.ok(until <= Date.now() + RDS_TOKEN_LIFETIME_MS);
  });
  it('undefined for a token of another target, a damaged one, or one claiming more than 15 minutes', async () => {
    const token = await sign(pg, FAKE_EPOCH);
    const cases: [string, string, RdsTarget][] = [
      ['another host', token, pg2],
      ['another user', token, { ...pg, user: 'app' }],
      ['another port', token, { ...pg, port: 5433 }],
      ['another region', token, { ...pg, region: 'us-east-1' }],
      ['no date', token.replace(/X-Amz-Date=[^&]+&/, ''), pg],
      ['bad date', token.replace(/X-Amz-Date=\d{8}/, 'X-Amz-Date=2030XX01'), pg],
      ['no expires', token.replace(/X-Amz-Expires=900&/, ''), pg],
      ['no signature', token.replace(/X-Amz-Signature=[^&]+&/, ''), pg],
      ['truncated', token.slice(0, 60), pg],
      ['trailing line break', `${token}\n`, pg],
      ['empty', '', pg],
    ];
    for (const [name, text, target] of cases) {
      assert.equal(rdsTokenValidUntil(target, text), undefined, name);
    }
    const long = token.replace('X-Amz-Expires=900', 'X-Amz-Expires=86400');
    assert.equal(rdsTokenValidUntil(pg, long), FAKE_EPOCH + RDS_TOKEN_LIFETIME_MS, 'capped at 15 minutes');
  });
});

describe('parseCredentialsJson', () => {
  it('reads back what renderCredentialsJson wrote (expiry in whole seconds)', () => {
    const c = creds(FAKE_EPOCH + 5_678);
    assert.deepEqual(parseCredentialsJson(renderCredentialsJson(c)), { ...c, expiresAt: FAKE_EPOCH + 5_000 });
    const longTerm = { ...c, sessionToken: undefined };
    assert.equal(parseCredentialsJson(renderCredentialsJson(longTerm))?.sessionToken, undefined);
  });
  it('undefined unless every field is there and Expiration is a UTC timestamp', () => {
    const good = JSON.parse(renderCredentialsJson(creds(FAKE_EPOCH))) as Record<string, unknown>;
    const cases: [string, string][] = [
      ['not JSON', '{'],
      ['null', 'null'],
      ['no key id', JSON.stringify({ ...good, AccessKeyId: undefined })],
      ['empty secret', JSON.stringify({ ...good, SecretAccessKey: '' })],
      ['no Token', JSON.stringify({ ...good, Token: undefined })],
      ['no Expiration', JSON.stringify({ ...good, Expiration: undefined })],
      ['local time', JSON.stringify({ ...good, Expiration: '2030-01-01T00:00:00' })],
      ['nonsense date', JSON.stringify({ ...good, Expiration: '2030-13-45T99:00:00Z' })],
      ['number', JSON.stringify({ ...good, Expiration: 1 })],
    ];
    for (const [name, text] of cases) assert.equal(parseCredentialsJson(text), undefined, name);
  });
});

async function withDir(fn: (dir: string, config: SidecarConfig) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-restore-'));
  const config = sidecarConfig({ directory: dir, targets: [pg, pg2, docs] });
  try {
    await fn(dir, config);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('readPreviousValues', () => {
  it('adopts valid files, and names why the others are not', async () => {
    await withDir(async (dir, config) => {
      const now = FAKE_EPOCH + 60_000;
      const token = await sign(pg, FAKE_EPOCH);
      await writeFile(join(dir, 'pg.token'), token);
      await writeFile(join(dir, 'pg.token.meta.json'), renderTokenMeta(token, FAKE_EPOCH + 900_000));
      await writeFile(join(dir, 'docs.credentials.json'), renderCredentialsJson(creds(now + 3600_000)));
      const outcomes = await readPreviousValues(config, now, nodeFileOps);
      assert.deepEqual(outcomes, [
        { target: pg, value: { kind: 'rds', token, expiresAt: FAKE_EPOCH + 900_000 } },
        { target: pg2, skipped: 'absent' },
        { target: docs, value: makeMongoCredentials(creds(now + 3600_000)) },
      ]);

      await writeFile(join(dir, 'pg2.token'), token); // pg's token under pg2's name
      const later = await readPreviousValues(config, FAKE_EPOCH + 900_000, nodeFileOps);
      assert.deepEqual(
        later.map((o) => ('skipped' in o ? o.skipped : 'adopted')),
        ['expired', 'unrecognized', 'adopted'],
      );
      await writeFile(join(dir, 'docs.credentials.json'), 'garbage');
      const damaged = await readPreviousValues(config, now, nodeFileOps);
      assert.deepEqual(damaged[2], { target: docs, skipped: 'unrecognized' });
    });
  });
});

describe('readPreviousValues: a restored RDS token is bounded by what its run knew', () => {
  it('trusted only until its credentials expired, when they expired before its own X-Amz-Expires', async () => {
    await withDir(async (dir, config) => {
      const token = await sign(pg, FAKE_EPOCH);
      const credentialsEnd = FAKE_EPOCH + 5 * 60_000; // the token itself claims 15 minutes
      await writeFile(join(dir, 'pg.token'), token);
      await writeFile(join(dir, 'pg.token.meta.json'), renderTokenMeta(token, credentialsEnd));
      const [outcome] = await readPreviousValues(config, FAKE_EPOCH + 60_000, nodeFileOps);
      assert.deepEqual(outcome, { target: pg, value: { kind: 'rds', token, expiresAt: credentialsEnd } });
      const [later] = await readPreviousValues(config, credentialsEnd, nodeFileOps);
      assert.deepEqual(later, { target: pg, skipped: 'expired' });
    });
  });

  it('not reused without a record of its own: absent, damaged, or about another token (a crash between the writes)', async () => {
    await withDir(async (dir, config) => {
      const token = await sign(pg, FAKE_EPOCH);
      await writeFile(join(dir, 'pg.token'), token);
      const now = FAKE_EPOCH + 60_000;
      const records: [string, string | undefined][] = [
        ['absent', undefined],
        ['damaged', '{"tokenSha256":'],
        ['another token', renderTokenMeta(await sign(pg, FAKE_EPOCH - 1_000), FAKE_EPOCH + 900_000)],
      ];
      for (const [name, record] of records) {
        if (record === undefined) await rm(join(dir, 'pg.token.meta.json'), { force: true });
        else await writeFile(join(dir, 'pg.token.meta.json'), record);
        const [outcome] = await readPreviousValues(config, now, nodeFileOps);
        assert.deepEqual(outcome, { target: pg, skipped: 'unbounded' }, name);
      }
    });
  });

  it('the record holds no secret: only a digest of the token and a time', async () => {
    const token = await sign(pg, FAKE_EPOCH);
    const text = renderTokenMeta(token, FAKE_EPOCH + 900_000);
    const signature = /X-Amz-Signature=([^&]+)/.exec(token)![1]!;
    assert.ok(!text.includes(signature) && !text.includes('X-Amz'), text);
    assert.deepEqual(Object.keys(JSON.parse(text) as object).sort(), ['expiresAt', 'tokenSha256']);
  });
});

describe('FilePublisher.restore', () => {
  it('leaves matching files untouched; the next pgpass rewrite keeps the restored lines', async () => {
    await withDir(async (dir, config) => {
      const token = await sign(pg, FAKE_EPOCH);
      const c = creds(FAKE_EPOCH + 3600_000);
      const pgpass = renderPgpass([{ ...pg, database: undefined, password: token }]);
      const uri = renderMongoUri(docs, c);
      await writeFile(join(dir, 'pgpass'), pgpass);
      await writeFile(join(dir, 'docs.uri'), uri);
      const before = [(await stat(join(dir, 'pgpass'))).mtimeMs, (await stat(join(dir, 'docs.uri'))).mtimeMs];
      const publisher = new FilePublisher(config);
      await publisher.restore([
        { target: pg, value: { kind: 'rds', token, expiresAt: FAKE_EPOCH + 900_000 } },
        { target: docs, value: makeMongoCredentials(c) },
      ]);
      assert.deepEqual(
        [(await stat(join(dir, 'pgpass'))).mtimeMs, (await stat(join(dir, 'docs.uri'))).mtimeMs],
        before,
      );
      const token2 = await sign(pg2, FAKE_EPOCH + 1_000);
      await publisher.publish(pg2, { kind: 'rds', token: token2, expiresAt: FAKE_EPOCH + 901_000 });
      assert.equal(
        await readFile(join(dir, 'pgpass'), 'utf8'),
        renderPgpass([
          { ...pg, database: undefined, password: token },
          { ...pg2, database: undefined, password: token2 },
        ]),
      );
    });
  });

  it('rewrites a derived file that does not match (a run stopped between two writes)', async () => {
    await withDir(async (dir, config) => {
      const token = await sign(pg, FAKE_EPOCH);
      const c = creds(FAKE_EPOCH + 3600_000);
      await writeFile(join(dir, 'pgpass'), 'stale:5432:app:app:old\n');
      const publisher = new FilePublisher(config);
      await publisher.restore([
        { target: pg, value: { kind: 'rds', token, expiresAt: FAKE_EPOCH + 900_000 } },
        { target: docs, value: makeMongoCredentials(c) },
      ]);
      assert.equal(
        await readFile(join(dir, 'pgpass'), 'utf8'),
        renderPgpass([{ ...pg, database: undefined, password: token }]),
      );
      assert.equal(await readFile(join(dir, 'docs.uri'), 'utf8'), renderMongoUri(docs, c));
      assert.equal((await stat(join(dir, 'docs.uri'))).mode & 0o777, 0o600);
    });
  });

  it("renders a MySQL target's option file again from the restored token: a stale or missing one is rewritten, a matching one kept", async () => {
    const ledger = rdsTarget({
      name: 'ledger',
      engine: 'mysql',
      host: 'ledger.cluster-x.eu-west-1.rds.amazonaws.com',
      port: 3306,
      database: 'ledger',
      user: 'ledger_app',
    });
    const dir = await mkdtemp(join(tmpdir(), 'tb-restore-mysql-'));
    try {
      const config = sidecarConfig({ directory: dir, targets: [ledger] });
      const token = await sign(ledger, FAKE_EPOCH);
      const expected = renderMysqlOptionFile({ ...ledger, password: token });
      await writeFile(join(dir, 'ledger.token'), token);
      await writeFile(join(dir, 'ledger.token.meta.json'), renderTokenMeta(token, FAKE_EPOCH + 900_000));
      const restoreNow = async () => {
        const outcomes = await readPreviousValues(config, FAKE_EPOCH + 60_000, nodeFileOps);
        const restored = outcomes.flatMap((o) => ('value' in o ? [o] : []));
        assert.equal(restored.length, 1);
        await new FilePublisher(config).restore(restored);
        return readFile(join(dir, 'ledger.my.cnf'), 'utf8');
      };

      // A run stopped after the token and its record, before the option file: it holds an older token.
      const older = await sign(ledger, FAKE_EPOCH - 60_000);
      await writeFile(join(dir, 'ledger.my.cnf'), renderMysqlOptionFile({ ...ledger, password: older }));
      assert.equal(await restoreNow(), expected);
      assert.equal((await stat(join(dir, 'ledger.my.cnf'))).mode & 0o777, 0o600);

      await rm(join(dir, 'ledger.my.cnf'));
      assert.equal(await restoreNow(), expected);

      // An atomic rewrite is a new file (a new inode): a matching one keeps its own.
      const inode = (await stat(join(dir, 'ledger.my.cnf'))).ino;
      assert.equal(await restoreNow(), expected);
      assert.equal((await stat(join(dir, 'ledger.my.cnf'))).ino, inode);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
