import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  ensureAuthToken,
  FileWriteError,
  nodeFileOps,
  removeStaleTempFiles,
  TEMP_FILE_PATTERN,
  tempFileName,
  writeFileAtomic,
  type FileOps,
} from '../../sidecar/src/files.ts';
import { FilePublisher } from '../../sidecar/src/publisher.ts';
import { mongoTarget, rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';
import { lookupPgpass } from './support/libpq-pgpass.ts';

let dir: string;
before(async () => {
  // The pod's volume is an emptyDir in memory: use tmpfs when the machine has it (fsync is cheap there).
  const base = await stat('/dev/shm').then(
    (s) => (s.isDirectory() ? '/dev/shm' : tmpdir()),
    () => tmpdir(),
  );
  dir = await mkdtemp(join(base, 'tb-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A reader on another thread that reads the file as fast as it can and counts reads that are neither payload. */
function startReader(path: string, valid: string[]) {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { readFileSync } = require('node:fs');
    const { workerData, parentPort } = require('node:worker_threads');
    const stop = new Int32Array(workerData.stop);
    const valid = new Set(workerData.valid);
    let reads = 0, bad = 0, missing = 0, sample = '';
    while (Atomics.load(stop, 0) === 0) {
      let text;
      try { text = readFileSync(workerData.path, 'utf8'); } catch { missing++; continue; }
      reads++;
      if (!valid.has(text)) { bad++; if (!sample) sample = text.slice(0, 20) + '… (' + text.length + ' chars)'; }
    }
    parentPort.postMessage({ reads, bad, missing, sample });
    `,
    { eval: true, workerData: { path, valid, stop: stop.buffer } },
  );
  const result = new Promise<{ reads: number; bad: number; missing: number; sample: string }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );
  return {
    async finish() {
      Atomics.store(stop, 0, 1);
      const r = await result;
      await worker.terminate();
      return r;
    },
  };
}

const payloads = ['A'.repeat(3000), `${'B'.repeat(70_000)}\n`];

describe('writeFileAtomic', { timeout: 20_000 }, () => {
  it('a concurrent reader never sees a partial or missing file over 2000 rewrites', async () => {
    await writeFileAtomic(dir, 'atomic.token', payloads[0] as string);
    const reader = startReader(join(dir, 'atomic.token'), payloads);
    for (let i = 0; i < 2000; i++) await writeFileAtomic(dir, 'atomic.token', payloads[i % 2] as string);
    const r = await reader.finish();
    assert.ok(r.reads > 100, `reader ran (${r.reads} reads)`);
    assert.equal(r.missing, 0, 'the file is never absent');
    assert.equal(r.bad, 0, `partial read seen: ${r.sample}`);
    const leftovers = (await readdir(dir)).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });

  it('control: the same reader does catch an in-place (non-atomic) writer', async () => {
    const path = join(dir, 'naive.token');
    await writeFile(path, payloads[0] as string);
    const reader = startReader(path, payloads);
    for (let i = 0; i < 500; i++) {
      const fh = await open(path, 'w');
      const text = payloads[i % 2] as string;
      await fh.write(text.slice(0, text.length / 2));
      await fh.write(text.slice(text.length / 2));
      await fh.close();
    }
    const r = await reader.finish();
    assert.ok(
      r.bad + r.missing > 0,
      'the reader must notice torn writes, else the atomicity test proves nothing',
    );
  });

  it('writes mode 0600 regardless of the umask', async () => {
    const old = process.umask(0o000);
    try {
      await writeFileAtomic(dir, 'mode.token', 'x');
    } finally {
      process.umask(old);
    }
    assert.equal((await stat(join(dir, 'mode.token'))).mode & 0o777, 0o600);
  });

  it('on failure keeps the old file, removes the temp file, and names the path (not the content)', async () => {
    await writeFileAtomic(dir, 'keep.token', 'old-value');
    const failing: FileOps = {
      ...nodeFileOps,
      rename: () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })),
    };
    await assert.rejects(
      writeFileAtomic(dir, 'keep.token', 'new-secret-value', 0o600, failing),
      (e: unknown) => {
        assert.ok(e instanceof FileWriteError);
        assert.match(e.message, /keep\.token \(EIO\)/);
        assert.ok(!e.message.includes('new-secret-value'));
        return true;
      },
    );
    assert.equal(await readFile(join(dir, 'keep.token'), 'utf8'), 'old-value');
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes('keep.token') && f.endsWith('.tmp')),
      [],
    );
  });
});

describe('temp files', { timeout: 20_000 }, () => {
  it('a write that fails half-way (volume full) removes its temp file and keeps the old file', async () => {
    const sub = await mkdtemp(join(dir, 'full-'));
    await writeFileAtomic(sub, 'db.token', 'old-value');
    const full: FileOps = {
      ...nodeFileOps,
      open: async (path, flags, mode) => {
        const handle = await nodeFileOps.open(path, flags, mode);
        return {
          ...handle,
          chmod: (m) => handle.chmod(m),
          sync: () => handle.sync(),
          close: () => handle.close(),
          writeFile: () =>
            Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })),
        };
      },
    };
    await assert.rejects(writeFileAtomic(sub, 'db.token', 'new-value', 0o600, full), /db\.token \(ENOSPC\)/);
    assert.deepEqual(await readdir(sub), ['db.token']);
    assert.equal(await readFile(join(sub, 'db.token'), 'utf8'), 'old-value');
  });

  it('our temp names are recognised, and names of other files are not', () => {
    for (const name of ['pgpass', 'auth-token', 'db.token', 'db.token.meta.json', 'docs.credentials.json']) {
      assert.match(tempFileName(name), TEMP_FILE_PATTERN, name);
    }
    assert.match('.docs.uri.1.12.tmp', TEMP_FILE_PATTERN, 'the pid naming of earlier versions');
    for (const other of [
      'pgpass',
      '.pgpass',
      'db.token.tmp',
      '.db.token.tmp',
      'x.1.2.tmp',
      '.Notes.1.2.tmp',
    ]) {
      assert.doesNotMatch(other, TEMP_FILE_PATTERN, other);
    }
  });

  it('removeStaleTempFiles removes ours and nothing else, and never throws', async () => {
    const sub = await mkdtemp(join(dir, 'stale-'));
    const ours = [tempFileName('pgpass'), '.db.token.1.1.tmp'];
    for (const f of [...ours, 'pgpass', 'keep.tmp']) await writeFile(join(sub, f), 'x');
    assert.equal(await removeStaleTempFiles(sub), 2);
    assert.deepEqual((await readdir(sub)).sort(), ['keep.tmp', 'pgpass']);
    assert.equal(await removeStaleTempFiles(join(sub, 'absent')), 0);
  });
});

describe('ensureAuthToken', { timeout: 20_000 }, () => {
  it('writes 32 random bytes as hex, 0600, once; keeps an existing valid token', async () => {
    const sub = await mkdtemp(join(dir, 'auth-'));
    const first = await ensureAuthToken(sub, 'auth-token');
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal((await stat(join(sub, 'auth-token'))).mode & 0o777, 0o600);
    assert.equal(await ensureAuthToken(sub, 'auth-token'), first);
  });
  it('replaces garbage', async () => {
    const sub = await mkdtemp(join(dir, 'auth-'));
    await writeFile(join(sub, 'auth-token'), 'not-a-token');
    const token = await ensureAuthToken(sub, 'auth-token', nodeFileOps, (n) => Buffer.alloc(n, 0xab));
    assert.equal(token, 'ab'.repeat(32));
  });
});

describe('FilePublisher', { timeout: 20_000 }, () => {
  it('writes token, pgpass (postgres only), credentials.json and uri, all 0600', async () => {
    const sub = await mkdtemp(join(dir, 'pub-'));
    const config = sidecarConfig({
      directory: sub,
      targets: [
        rdsTarget({ name: 'pg-a', host: 'a.example', port: 5432, database: 'da', user: 'ua' }),
        rdsTarget({ name: 'my', engine: 'mysql', host: 'm.example', port: 3306, database: 'dm', user: 'um' }),
        rdsTarget({ name: 'pg-b', host: 'b.example', port: 5433, database: 'db', user: 'ub' }),
        mongoTarget({ name: 'mo', scheme: 'mongodb+srv', hosts: ['c.example'], database: 'x' }),
      ],
    });
    const [pgA, my, pgB, mo] = config.targets as [never, never, never, never];
    const pub = new FilePublisher(config);
    await pub.publish(pgA, { kind: 'rds', token: 'a.example:5432/?Action=connect&X=1', expiresAt: 1 });
    await pub.publish(my, { kind: 'rds', token: 'mysql-token', expiresAt: 1 });
    await pub.publish(pgB, { kind: 'rds', token: 'b.example:5433/?Action=connect&X=2', expiresAt: 1 });
    const creds = {
      accessKeyId: 'ASIA1',
      secretAccessKey: 'se/cr+et=',
      sessionToken: 'to/k+en=',
      expiresAt: Date.UTC(2030, 0, 1),
    };
    await pub.publish(mo, { kind: 'mongo', credentials: creds, expiresAt: creds.expiresAt });
    await pub.idle();

    const read = (f: string) => readFile(join(sub, f), 'utf8');
    assert.equal(await read('pg-a.token'), 'a.example:5432/?Action=connect&X=1');
    assert.equal(await read('my.token'), 'mysql-token');
    const pgpass = await read('pgpass');
    assert.equal(lookupPgpass(pgpass, 'a.example', '5432', 'da', 'ua'), 'a.example:5432/?Action=connect&X=1');
    assert.equal(lookupPgpass(pgpass, 'b.example', '5433', 'db', 'ub'), 'b.example:5433/?Action=connect&X=2');
    assert.ok(!pgpass.includes('mysql-token'));
    assert.deepEqual(JSON.parse(await read('mo.credentials.json')), {
      AccessKeyId: 'ASIA1',
      SecretAccessKey: 'se/cr+et=',
      Token: 'to/k+en=',
      Expiration: '2030-01-01T00:00:00Z',
    });
    assert.match(
      await read('mo.uri'),
      /^mongodb\+srv:\/\/ASIA1:se%2Fcr%2Bet%3D@c\.example\/x\?authSource=%24external/,
    );
    for (const f of await readdir(sub)) assert.equal((await stat(join(sub, f))).mode & 0o777, 0o600, f);
  });

  it('writes <name>.my.cnf (0600) for each MySQL target with each new token, and none for PostgreSQL', async () => {
    const sub = await mkdtemp(join(dir, 'mycnf-'));
    const ledger = rdsTarget({
      name: 'ledger',
      engine: 'mysql',
      host: 'ledger.example',
      port: 3307,
      database: 'ledger',
      user: 'ledger_app',
    });
    const pgTarget = rdsTarget({ name: 'pg' });
    const pub = new FilePublisher(sidecarConfig({ directory: sub, targets: [ledger, pgTarget] }));
    const myCnf = (token: string) =>
      `[client]\nuser=ledger_app\npassword=${token}\nhost=ledger.example\nport=3307\n[mysql]\ndatabase=ledger\n`;
    await pub.publish(ledger, { kind: 'rds', token: 'ledger.example:3307/?first', expiresAt: 1 });
    await pub.publish(pgTarget, { kind: 'rds', token: 'pg-token', expiresAt: 1 });
    assert.equal(await readFile(join(sub, 'ledger.my.cnf'), 'utf8'), myCnf('ledger.example:3307/?first'));
    assert.equal((await stat(join(sub, 'ledger.my.cnf'))).mode & 0o777, 0o600);
    await pub.publish(ledger, { kind: 'rds', token: 'ledger.example:3307/?second', expiresAt: 2 });
    assert.equal(await readFile(join(sub, 'ledger.my.cnf'), 'utf8'), myCnf('ledger.example:3307/?second'));
    assert.deepEqual(
      (await readdir(sub)).filter((f) => f.endsWith('.my.cnf')),
      ['ledger.my.cnf'],
    );
  });

  it('a token too long for the MySQL option file fails the publish and leaves every file of the last token', async () => {
    const sub = await mkdtemp(join(dir, 'mycnf-long-'));
    const ledger = rdsTarget({ name: 'ledger', engine: 'mysql', port: 3306 });
    const pub = new FilePublisher(sidecarConfig({ directory: sub, targets: [ledger] }));
    await pub.publish(ledger, { kind: 'rds', token: 'first-token', expiresAt: 1 });
    const before = new Map<string, string>();
    for (const f of await readdir(sub)) before.set(f, await readFile(join(sub, f), 'utf8'));
    assert.deepEqual([...before.keys()].sort(), ['ledger.my.cnf', 'ledger.token', 'ledger.token.meta.json']);

    const long = 'x'.repeat(4086); // `password=` + 4,086 + newline: 4,096 bytes
    await assert.rejects(pub.publish(ledger, { kind: 'rds', token: long, expiresAt: 2 }), {
      name: 'MysqlOptionFileError',
      message: /^MySQL option file: password would be a line of 4096 bytes/,
    });
    const after = new Map<string, string>();
    for (const f of await readdir(sub)) after.set(f, await readFile(join(sub, f), 'utf8'));
    assert.deepEqual(after, before);
  });
});
