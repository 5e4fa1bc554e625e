import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RdsTarget, SidecarConfig } from '../../contract/sidecar-config.ts';
import { parseCredentialsJson, renderCredentialsJson } from '../../sidecar/src/credentials-json.ts';
import { makeMongoCredentials } from '../../sidecar/src/mongo-credentials.ts';
import { renderMongoUri } from '../../sidecar/src/mongo-uri.ts';
import { renderPgpass } from '../../sidecar/src/pgpass.ts';
import { FilePublisher } from '../../sidecar/src/publisher.ts';
import { RDS_TOKEN_LIFETIME_MS, rdsTokenValidUntil, sdkRdsSigner } from '../../sidecar/src/rds-token.ts';
import { readPreviousValues } from '../../sidecar/src/restore.ts';
import { FAKE_EPOCH } from '../fakes/fake-clock.ts';
import { fakeRdsSigner } from '../fakes/fake-credentials.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';
import { nodeFileOps } from '../../sidecar/src/files.ts';

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
});
