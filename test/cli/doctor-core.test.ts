/** The doctor's pure decisions and each check's branches, with fakes (no network, no disk). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkClockSkew } from '../../cli/doctor/check-clock-skew.ts';
import { checkDatabase } from '../../cli/doctor/check-database.ts';
import { checkDirectory } from '../../cli/doctor/check-directory.ts';
import { checkIdentity } from '../../cli/doctor/check-identity.ts';
import { mongoDatabasePrincipal, roleArnOfSession } from '../../cli/doctor/database-principal.ts';
import { parseHostPort, staticEndpoints } from '../../cli/doctor/database-endpoints.ts';
import { doctorChecks } from '../../cli/doctor/doctor-checks.ts';
import type { DoctorFindings } from '../../cli/doctor/doctor-deps.ts';
import { pickIdentitySource } from '../../cli/doctor/identity-source.ts';
import { decodeWebIdentityClaims, serviceAccountOf } from '../../cli/doctor/jwt-claims.ts';
import { doctorExitCode, runChecks } from '../../cli/doctor/run-checks.ts';
import { clockSkewStatus } from '../../cli/doctor/skew-verdict.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { FAKE_NOW, fakeDoctorDeps, fakeFs, fileFacts } from './support/fake-doctor-deps.ts';

const found = (): DoctorFindings => ({ targetCredentials: new Map() });
const DIR = '/var/run/token-broker';

describe('identity source the SDK chain picks', () => {
  const irsa = { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' };
  const podIdentity = { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials' };
  const keys = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' };
  const cases: [string, Record<string, string>, string][] = [
    ['IRSA', irsa, 'irsa'],
    ['EKS Pod Identity', podIdentity, 'pod-identity'],
    ['IRSA before Pod Identity', { ...irsa, ...podIdentity }, 'irsa'],
    ['static keys before everything', { ...keys, ...irsa }, 'static-keys'],
    ['half of IRSA', { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }, 'none'],
    ['nothing', {}, 'none'],
  ];
  for (const [name, env, kind] of cases) {
    it(`${name}: ${kind}`, () => assert.equal(pickIdentitySource(env).kind, kind));
  }
  it('says what static keys hide', () => {
    const source = pickIdentitySource({ ...keys, ...irsa });
    assert.deepEqual(source.kind === 'static-keys' && source.alsoSet, ['IRSA']);
  });
});

describe('web identity claims', () => {
  it('reads aud, sub, iss and exp; not a JWT: undefined', () => {
    const token = makeWebIdentityToken({
      subject: 'system:serviceaccount:billing:invoicing',
      expiresAt: FAKE_NOW,
    });
    assert.deepEqual(decodeWebIdentityClaims(`${token}\n`), {
      audience: ['sts.amazonaws.com'],
      subject: 'system:serviceaccount:billing:invoicing',
      issuer: 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE',
      expiresAt: FAKE_NOW,
    });
    assert.equal(decodeWebIdentityClaims('not-a-jwt'), undefined);
    assert.equal(decodeWebIdentityClaims('a.!!!.c'), undefined);
  });
  it('service account from the subject', () => {
    assert.deepEqual(serviceAccountOf('system:serviceaccount:ns:sa'), { namespace: 'ns', name: 'sa' });
    assert.equal(serviceAccountOf('user:alice'), undefined);
  });
});

describe('the ARN a MongoDB user is registered for', () => {
  const session = 'arn:aws:sts::111122223333:assumed-role/invoicing-pod/aws-sdk-js-1';
  it('the role behind an assumed-role session', () => {
    assert.equal(roleArnOfSession(session), 'arn:aws:iam::111122223333:role/invoicing-pod');
    assert.equal(roleArnOfSession('arn:aws:iam::111122223333:user/alice'), undefined);
  });
  it("the pod's role, keeping its path from AWS_ROLE_ARN", () => {
    const p = mongoDatabasePrincipal(
      mongoTarget(),
      session,
      'arn:aws:iam::111122223333:role/apps/invoicing-pod',
      's',
    );
    assert.deepEqual(p, {
      registerArn: 'arn:aws:iam::111122223333:role/apps/invoicing-pod',
      presentedArn: session,
    });
  });
  it("the target's role when it has one, with the session the sidecar names", () => {
    const p = mongoDatabasePrincipal(
      mongoTarget({ roleArn: 'arn:aws:iam::444455556666:role/docs-reader' }),
      session,
      undefined,
      'tb-billing-pod',
    );
    assert.deepEqual(p, {
      registerArn: 'arn:aws:iam::444455556666:role/docs-reader',
      presentedArn: 'arn:aws:sts::444455556666:assumed-role/docs-reader/tb-billing-pod',
    });
  });
  it('an IAM user as it is', () => {
    const user = 'arn:aws:iam::111122223333:user/alice';
    assert.deepEqual(mongoDatabasePrincipal(mongoTarget(), user, undefined, 's'), {
      registerArn: user,
      presentedArn: undefined,
    });
  });
});

describe('clock skew verdict', () => {
  const cases: [number, string][] = [
    [0, 'PASS'],
    [-60_000, 'PASS'],
    [60_001, 'WARN'],
    [-299_999, 'WARN'],
    [300_000, 'FAIL'],
    [-400_000, 'FAIL'],
  ];
  for (const [offset, status] of cases)
    it(`${offset} ms: ${status}`, () => assert.equal(clockSkewStatus(offset), status));

  it('without an STS answer the check is skipped', async () => {
    assert.equal((await checkClockSkew(fakeDoctorDeps())).status, 'SKIP');
  });
  it('a 90 s offset warns with the time-sync fix', async () => {
    const deps = fakeDoctorDeps();
    const r = await checkClockSkew({ ...deps, aws: { ...deps.aws, stsOffsetMs: () => 90_000 } });
    assert.equal(r.status, 'WARN');
    assert.match(r.summary, /1 min 30 s behind STS/);
    assert.match(r.fix ?? '', /chronyd/);
  });
});

describe('identity check branches', () => {
  it('no identity: FAIL naming IRSA and Pod Identity', async () => {
    const r = await checkIdentity(fakeDoctorDeps(), found());
    assert.equal(r.status, 'FAIL');
    assert.match(r.fix ?? '', /eks\.amazonaws\.com\/role-arn/);
  });
  it('static keys: WARN, and the keys are not printed', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIASECRETKEYID12345', AWS_SECRET_ACCESS_KEY: 'very-secret-value' };
    const r = await checkIdentity(fakeDoctorDeps({ env }), found());
    assert.equal(r.status, 'WARN');
    assert.ok(
      !JSON.stringify(r).includes('AKIASECRETKEYID12345') && !JSON.stringify(r).includes('very-secret'),
    );
  });
  it('IRSA with an unreadable token file: FAIL with the error code', async () => {
    const env = { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' };
    const fs = fakeFs(
      {},
      { readFile: () => Promise.reject(Object.assign(new Error('x'), { code: 'EACCES' })) },
    );
    const r = await checkIdentity(fakeDoctorDeps({ env, fs }), found());
    assert.equal(r.status, 'FAIL');
    assert.match(r.summary, /cannot be read \(EACCES\)/);
  });
  it('IRSA token for another audience: WARN', async () => {
    const env = { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' };
    const token = makeWebIdentityToken({ audience: 'vault', expiresAt: FAKE_NOW + 3_600_000 });
    const fs = fakeFs({}, { readFile: () => Promise.resolve(token) });
    const r = await checkIdentity(fakeDoctorDeps({ env, fs }), found());
    assert.equal(r.status, 'WARN');
    assert.ok(!JSON.stringify(r).includes(token.split('.')[1] ?? '-'), 'the JWT body is not shown');
  });
  it('EKS Pod Identity with its token file: PASS', async () => {
    const env = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE:
        '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    };
    const fs = fakeFs({}, { readFile: () => Promise.resolve('pod-identity-token-value') });
    const r = await checkIdentity(fakeDoctorDeps({ env, fs }), found());
    assert.equal(r.status, 'PASS');
    assert.ok(!JSON.stringify(r).includes('pod-identity-token-value'));
  });
});

describe('database check branches', () => {
  it('host:port parsing', () => {
    assert.deepEqual(parseHostPort('db:27018', 27017), { host: 'db', port: 27018 });
    assert.deepEqual(parseHostPort('db', 27017), { host: 'db', port: 27017 });
    assert.deepEqual(parseHostPort('[::1]:5', 27017), { host: '::1', port: 5 });
    assert.equal(staticEndpoints(mongoTarget()), undefined, 'mongodb+srv needs an SRV lookup');
  });
  it('a name that does not resolve: FAIL with the DNS fix', async () => {
    const deps = fakeDoctorDeps({
      dns: {
        lookup: () => Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' })),
        resolveSrv: () => Promise.reject(new Error('x')),
      },
    });
    const r = await checkDatabase(deps, rdsTarget());
    assert.equal(r.status, 'FAIL');
    assert.match(r.details.join('\n'), /does not resolve \(ENOTFOUND\)/);
    assert.match(r.fix ?? '', /private hosted zone/);
  });
  it('mongodb+srv: the SRV members; one of two unreachable: WARN', async () => {
    const deps = fakeDoctorDeps({
      dns: {
        lookup: (host) => Promise.resolve([host === 'a.example.net' ? '10.0.0.1' : '10.0.0.2']),
        resolveSrv: (name) =>
          name === '_mongodb._tcp.c0.example.mongodb.net'
            ? Promise.resolve([
                { name: 'a.example.net', port: 27017 },
                { name: 'b.example.net', port: 27017 },
              ])
            : Promise.reject(new Error(name)),
      },
      connect: (host) =>
        host === 'a.example.net'
          ? Promise.resolve()
          : Promise.reject(Object.assign(new Error('t'), { code: 'ETIMEDOUT' })),
    });
    const r = await checkDatabase(deps, mongoTarget());
    assert.equal(r.status, 'WARN');
    assert.match(
      r.details.join('\n'),
      /b\.example\.net resolves to 10\.0\.0\.2; port 27017 does not accept TCP \(ETIMEDOUT\)/,
    );
  });
});

describe('directory check branches', () => {
  const dir = fileFacts({ isDirectory: true, isFile: false, mode: 0o777, uid: 0, gid: 0 });
  it('missing: FAIL', async () => {
    assert.equal((await checkDirectory(fakeDoctorDeps({ fs: fakeFs({}) }))).status, 'FAIL');
  });
  it('an emptyDir (root-owned, 0777) with the app-owned 0600 files: PASS', async () => {
    const fs = fakeFs({
      [DIR]: dir,
      [`${DIR}/auth-token`]: fileFacts(),
      [`${DIR}/broker.sock`]: fileFacts({ isFile: false, mode: 0o600, uid: 0 }),
    });
    const r = await checkDirectory(fakeDoctorDeps({ fs }));
    assert.equal(r.status, 'PASS', JSON.stringify(r));
  });
  it('a file readable by others: WARN', async () => {
    const fs = fakeFs({ [DIR]: dir, [`${DIR}/pgpass`]: fileFacts({ mode: 0o644 }) });
    const r = await checkDirectory(fakeDoctorDeps({ fs }));
    assert.equal(r.status, 'WARN');
    assert.match(r.summary, /pgpass \(0644\)/);
  });
  it('cannot be listed: FAIL', async () => {
    const fs = fakeFs(
      { [DIR]: dir },
      { readdir: () => Promise.reject(Object.assign(new Error('x'), { code: 'EACCES' })) },
    );
    const r = await checkDirectory(fakeDoctorDeps({ fs }));
    assert.equal(r.status, 'FAIL');
    assert.match(r.summary, /cannot be listed by uid 1000 \(EACCES\)/);
  });
});

describe('runner', () => {
  it('runs the checks in the documented order, one per target where it applies', () => {
    const config = fakeDoctorDeps({}, [rdsTarget(), mongoTarget()]).config;
    assert.deepEqual(
      doctorChecks(config).map((c) => c.id),
      [
        'identity',
        'sts',
        'assume-role:invoicing-db',
        'assume-role:docs',
        'rds-signing:invoicing-db',
        'database:invoicing-db',
        'database:docs',
        'directory',
        'clock-skew',
      ],
    );
  });

  it('skips what needs a failed check, keeps running the rest, and a throwing check is a FAIL', async () => {
    const results = await runChecks(
      [
        {
          id: 'a',
          needs: [],
          run: () => Promise.resolve({ status: 'FAIL', summary: 'no', details: [], fix: 'f' }),
        },
        { id: 'b', needs: ['a'], run: () => Promise.reject(new Error('must not run')) },
        { id: 'c', needs: ['b'], run: () => Promise.reject(new Error('must not run')) },
        {
          id: 'd',
          needs: [],
          run: () => Promise.resolve({ status: 'WARN', summary: 'meh', details: [], fix: 'f' }),
        },
        { id: 'e', needs: ['d'], run: () => Promise.reject(new TypeError('bug')) },
      ],
      fakeDoctorDeps(),
    );
    assert.deepEqual(
      results.map((r) => [r.id, r.status]),
      [
        ['a', 'FAIL'],
        ['b', 'SKIP'],
        ['c', 'SKIP'],
        ['d', 'WARN'],
        ['e', 'FAIL'],
      ],
    );
    assert.match(results[1]?.summary ?? '', /needs "a" to pass first/);
    assert.equal(doctorExitCode(results), 1);
    assert.equal(doctorExitCode(results.filter((r) => r.status !== 'FAIL')), 0);
  });
});
