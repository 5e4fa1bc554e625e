/**
 * `token-broker doctor` against the STS emulator, the real AWS SDK, real sockets and a real temp
 * directory, in a good and in broken set-ups; each output is compared with a golden text file
 * (test/cli/golden/doctor-*.txt, UPDATE_GOLDEN=1 rewrites them) and searched for every secret the
 * run handled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runDoctor, type DepsOverride } from '../../cli/doctor/doctor-command.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { freePort } from '../e2e/support/net.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { assertGolden } from './support/golden.ts';
import { normalizeOutput } from './support/normalize.ts';
import {
  DB_ROLE,
  doctorSetup as newSetup,
  issuedSecrets,
  POD_ROLE,
  startTcpListener,
  type DoctorSetup,
} from './support/doctor-setup.ts';

let sts: StsEmulator;
/** 6 min 40.5 s ahead of this machine: a node clock that far behind AWS. */
let skewedSts: StsEmulator;
let db: { port: number; close(): Promise<void> };
/** Removed after all tests, also those of a test that failed half-way. */
const setups: DoctorSetup[] = [];

async function doctorSetup(o: Parameters<typeof newSetup>[0]): Promise<DoctorSetup> {
  const setup = await newSetup(o);
  setups.push(setup);
  return setup;
}

before(async () => {
  sts = await startStsEmulator({ region: 'eu-west-1', roles: { [POD_ROLE]: {}, [DB_ROLE]: {} } });
  skewedSts = await startStsEmulator({ region: 'eu-west-1', now: () => Date.now() + 400_500 });
  db = await startTcpListener();
});
after(async () => {
  await Promise.all(setups.map((s) => s.cleanup()));
  await db.close();
  await skewedSts.close();
  await sts.close();
});

/** The sample pod's two targets: PostgreSQL through DB_ROLE, MongoDB as the pod's own identity. */
function targets(dbPort: number, rdsRole = DB_ROLE) {
  return () => [
    rdsTarget({ host: '127.0.0.1', port: dbPort, roleArn: rdsRole }),
    mongoTarget({ scheme: 'mongodb', hosts: [`127.0.0.1:${dbPort}`] }),
  ];
}

interface DoctorRun {
  code: number;
  text: string;
  stderr: string;
}

async function doctor(
  setup: DoctorSetup,
  golden: string,
  override: DepsOverride = (d) => d,
  argv: string[] = [],
): Promise<DoctorRun> {
  const out: string[] = [];
  const err: string[] = [];
  const signed: string[] = [];
  const code = await runDoctor(
    argv,
    {
      env: setup.env,
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      now: () => Date.now(),
    },
    (real) => {
      const deps = override(real);
      return {
        ...deps,
        signRds: async (p) => {
          const token = await deps.signRds(p);
          signed.push(token);
          return token;
        },
      };
    },
  );
  const text = out.join('');
  const secrets = [...issuedSecrets(sts), ...issuedSecrets(skewedSts), setup.webIdentityToken, ...signed];
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `doctor printed a secret (${secret.slice(0, 4)}...)`);
    // The JWT's payload alone is a secret too (its signature part proves nothing without it).
    const payload = secret.split('.')[1];
    if (payload !== undefined && payload.length > 16)
      assert.ok(!text.includes(payload), 'doctor printed the JWT body');
  }
  assertGolden(golden, normalizeOutput(text, { dirs: [setup.root] }));
  return { code, text, stderr: err.join('') };
}

const statusOf = (text: string, id: string) =>
  new RegExp(`^(PASS|FAIL|WARN|SKIP) {1,2}${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`, 'm').exec(
    text,
  )?.[1];

describe('token-broker doctor', { timeout: 60_000 }, () => {
  it('good set-up: every check passes (a target without a role skips AssumeRole), exit 0', async () => {
    const setup = await doctorSetup({ stsUrl: sts.url, targets: targets(db.port) });
    const signedBefore = sts.calls.length;
    const r = await doctor(setup, 'doctor-good.txt');
    assert.equal(r.code, 0, r.text + r.stderr);
    assert.deepEqual(
      [
        'identity',
        'sts',
        'assume-role:invoicing-db',
        'rds-signing:invoicing-db',
        'database:docs',
        'directory',
        'clock-skew',
      ].map((id) => statusOf(r.text, id)),
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    );
    assert.equal(statusOf(r.text, 'assume-role:docs'), 'SKIP');
    assert.match(r.text, /register the database user for arn:aws:iam::111122223333:role\/invoicing-pod;/);
    assert.match(
      r.text,
      /sub: system:serviceaccount:billing:invoicing \(namespace billing, service account invoicing\)/,
    );
    const actions = sts.calls.slice(signedBefore).map((c) => `${c.action}:${c.outcome}`);
    assert.deepEqual(actions, ['AssumeRoleWithWebIdentity:ok', 'GetCallerIdentity:ok', 'AssumeRole:ok']);
  });

  it('--json: the same checks as a versioned document', async () => {
    const setup = await doctorSetup({ stsUrl: sts.url, targets: targets(db.port) });
    const r = await doctor(setup, 'doctor-good.json.txt', (d) => d, ['--json']);
    const doc = JSON.parse(r.text) as {
      apiVersion: string;
      ok: boolean;
      checks: { id: string; status: string }[];
    };
    assert.equal(doc.apiVersion, 'token-broker.io/doctor/v1');
    assert.equal(doc.ok, true);
    assert.equal(doc.checks.length, 9);
  });

  it('wrong role: AssumeRole is AccessDenied, signing for that target is skipped, exit 1', async () => {
    const setup = await doctorSetup({
      stsUrl: sts.url,
      targets: targets(db.port, 'arn:aws:iam::111122223333:role/not-this-one'),
    });
    const r = await doctor(setup, 'doctor-wrong-role.txt');
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.text, 'assume-role:invoicing-db'), 'FAIL');
    assert.match(
      r.text,
      /AssumeRole of arn:aws:iam::111122223333:role\/not-this-one failed \(access-denied\)/,
    );
    assert.equal(statusOf(r.text, 'rds-signing:invoicing-db'), 'SKIP');
  });

  it('expired web identity token: identity fails and every STS check is skipped', async () => {
    const setup = await doctorSetup({
      stsUrl: sts.url,
      targets: targets(db.port),
      webIdentityExpiresAt: Date.now() - 3 * 60_000,
    });
    const before = sts.calls.length;
    const r = await doctor(setup, 'doctor-expired-token.txt');
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.text, 'identity'), 'FAIL');
    assert.match(r.text, /IRSA token has expired/);
    assert.equal(statusOf(r.text, 'sts'), 'SKIP');
    assert.equal(statusOf(r.text, 'clock-skew'), 'SKIP');
    assert.equal(sts.calls.length, before, 'no STS call is made with an expired token');
  });

  it('unreachable STS (a closed loopback port): sts fails as network, clock skew is skipped', async () => {
    const setup = await doctorSetup({
      stsUrl: `http://127.0.0.1:${await freePort()}`,
      targets: targets(db.port),
    });
    const r = await doctor(setup, 'doctor-sts-unreachable.txt');
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.text, 'sts'), 'FAIL');
    assert.match(r.text, /could not get the pod's identity \(network\)/);
    assert.equal(statusOf(r.text, 'rds-signing:invoicing-db'), 'SKIP');
    assert.equal(statusOf(r.text, 'clock-skew'), 'SKIP');
  });

  it("skewed clock: STS's Date 6 min 40 s ahead fails the clock check and names the consequence", async () => {
    const setup = await doctorSetup({ stsUrl: skewedSts.url, targets: targets(db.port, POD_ROLE) });
    const r = await doctor(setup, 'doctor-clock-skew.txt');
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.text, 'clock-skew'), 'FAIL');
    const seconds = /this node's clock is (\d+) min (\d+) s behind STS/.exec(r.text);
    assert.ok(seconds, r.text);
    const measured = Number(seconds[1]) * 60 + Number(seconds[2]);
    assert.ok(measured >= 398 && measured <= 401, `measured ${measured} s`);
    assert.match(r.text, /RDS tokens are rejected/);
  });

  it('unwritable directory and a closed database port: both fail with their fix', async () => {
    const closed = await freePort();
    const setup = await doctorSetup({ stsUrl: sts.url, targets: targets(closed) });
    const r = await doctor(setup, 'doctor-directory-unwritable.txt', (d) => ({
      ...d,
      fs: {
        ...d.fs,
        probeWrite: () => Promise.reject(Object.assign(new Error('permission denied'), { code: 'EACCES' })),
      },
    }));
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.text, 'directory'), 'FAIL');
    assert.match(r.text, /is not writable by uid \d+ \(EACCES\)/);
    assert.equal(statusOf(r.text, 'database:invoicing-db'), 'FAIL');
    assert.match(r.text, /does not accept TCP \(ECONNREFUSED\)/);
  });

  it("files owned by another UID than the app's: the directory check fails", async () => {
    const setup = await doctorSetup({ stsUrl: sts.url, targets: targets(db.port) });
    const r = await doctor(setup, 'doctor-directory-foreign-owner.txt', (d) => ({
      ...d,
      fs: {
        ...d.fs,
        stat: async (path) => {
          const facts = await d.fs.stat(path);
          return path.endsWith('/auth-token') ? { ...facts, uid: 4242, mode: 0o600 } : facts;
        },
      },
      uid: 1000,
    }));
    assert.equal(r.code, 1);
    assert.equal(statusOf(r.text, 'directory'), 'FAIL');
    assert.match(
      r.text,
      /files not owned by uid 1000, so the app cannot read them \(they are 0600\): auth-token \(uid 4242, 0600\)/,
    );
  });
});
