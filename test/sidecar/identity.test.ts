import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { StsClock } from '../../sidecar/src/clock-skew.ts';
import { classifyError } from '../../sidecar/src/error-class.ts';
import {
  ASSUME_ROLE_DURATION_SECONDS,
  assumeRoleFetcher,
  baseIdentityFetcher,
  createCredentialFetcher,
  NO_EXPIRY_REFRESH_PERIOD_MS,
  roleSessionName,
  webIdentityFrom,
  webIdentityProvider,
  WebIdentityTokenFileError,
  type BaseProvider,
  type StsLike,
  type WebIdentityStsLike,
} from '../../sidecar/src/identity.ts';
import { FAKE_EPOCH } from '../fakes/fake-clock.ts';
import { rdsTarget } from '../fakes/sidecar-config.ts';

const VALID = /^[\w+=,.@-]{2,64}$/;

describe('roleSessionName', () => {
  it('is tb-<namespace>-<pod>', () => {
    assert.equal(roleSessionName('billing', 'invoicing-7d9f-abcde'), 'tb-billing-invoicing-7d9f-abcde');
  });
  it('replaces characters STS refuses', () => {
    assert.equal(roleSessionName('ns', 'a b/c:d'), 'tb-ns-a-b-c-d');
  });
  it('truncates to 64 characters with a hash suffix that keeps long names distinct', () => {
    const ns = 'n'.repeat(40);
    const a = roleSessionName(ns, `${'p'.repeat(40)}-aaaaa`);
    const b = roleSessionName(ns, `${'p'.repeat(40)}-bbbbb`);
    assert.equal(a.length, 64);
    assert.match(a, VALID);
    assert.notEqual(a, b);
    assert.ok(a.startsWith('tb-nnnn'));
  });
  it('is always valid for STS', () => {
    for (const [ns, pod] of [
      ['default', 'x'],
      ['ü', 'ñ'],
      ['a'.repeat(63), 'b'.repeat(253)],
    ] as const) {
      assert.match(roleSessionName(ns, pod), VALID);
    }
  });
});

function fakeSts(expiration?: Date): StsLike & { inputs: unknown[] } {
  const inputs: unknown[] = [];
  return {
    inputs,
    send: (command: AssumeRoleCommand) => {
      inputs.push(command.input);
      return Promise.resolve({
        Credentials: {
          AccessKeyId: 'ASIAROLE',
          SecretAccessKey: 'secret',
          SessionToken: 'session',
          Expiration: expiration,
        },
      });
    },
  };
}

describe('assumeRoleFetcher', () => {
  it('one AssumeRole per call with the session name, ExternalId and the role-chaining duration', async () => {
    const sts = fakeSts(new Date(Date.UTC(2030, 0, 1, 1)));
    const fetch = assumeRoleFetcher(
      sts,
      { roleArn: 'arn:aws:iam::111122223333:role/db', externalId: 'ext-1', sessionName: 'tb-ns-pod' },
      () => 0,
    );
    const c = await fetch();
    assert.deepEqual(sts.inputs, [
      {
        RoleArn: 'arn:aws:iam::111122223333:role/db',
        RoleSessionName: 'tb-ns-pod',
        DurationSeconds: ASSUME_ROLE_DURATION_SECONDS,
        ExternalId: 'ext-1',
      },
    ]);
    assert.equal(c.expiresAt, Date.UTC(2030, 0, 1, 1));
    await fetch();
    assert.equal(sts.inputs.length, 2, 'no caching: each call is one STS call');
  });
  it('omits ExternalId when none is configured; assumes an hour when STS gives no expiry', async () => {
    const sts = fakeSts(undefined);
    const c = await assumeRoleFetcher(
      sts,
      { roleArn: 'arn:aws:iam::1:role/r', externalId: undefined, sessionName: 's' },
      () => 1000,
    )();
    assert.equal((sts.inputs[0] as Record<string, unknown>).ExternalId, undefined);
    assert.equal(c.expiresAt, 1000 + 3600_000);
  });
  it('rejects an answer without credentials, classed with STS server failures', async () => {
    const sts: StsLike = { send: () => Promise.resolve({}) };
    const error = await assumeRoleFetcher(
      sts,
      { roleArn: 'arn:aws:iam::1:role/r', externalId: undefined, sessionName: 's' },
      () => 0,
    )().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.match(String(error), /returned no credentials/);
    assert.equal(classifyError(error), 'sts-unavailable');
  });
});

describe('credential lifetimes on STS clock', () => {
  const HOUR = 3600_000;
  const MIN = 60_000;
  const params = { roleArn: 'arn:aws:iam::1:role/r', externalId: undefined, sessionName: 's' };
  const clockWithOffset = (offsetMs: number) => {
    const clock = new StsClock(() => FAKE_EPOCH);
    clock.observe(new Date(FAKE_EPOCH + offsetMs).toUTCString());
    return clock;
  };

  it('a clock 10 min behind STS: credentials end 10 min sooner on it than STS states', async () => {
    const clock = clockWithOffset(10 * MIN);
    const stsEnd = new Date(FAKE_EPOCH + 10 * MIN + HOUR);
    const c = await assumeRoleFetcher(fakeSts(stsEnd), params, () => FAKE_EPOCH, clock)();
    assert.equal(c.expiresAt, FAKE_EPOCH + HOUR - 1_000, 'an hour on our clock, less the Date resolution');
  });

  it('a clock 2 h ahead of STS: fresh credentials are an hour long on it, not already expired', async () => {
    const clock = clockWithOffset(-2 * HOUR);
    const stsEnd = new Date(FAKE_EPOCH - 2 * HOUR + HOUR);
    const c = await assumeRoleFetcher(fakeSts(stsEnd), params, () => FAKE_EPOCH, clock)();
    assert.equal(c.expiresAt, FAKE_EPOCH + HOUR - 1_000);
  });

  it('credentials already over on our clock (offset unknown) are a clock-skew error, not a value', async () => {
    const stale = new Date(FAKE_EPOCH - HOUR);
    const fromSts = assumeRoleFetcher(fakeSts(stale), params, () => FAKE_EPOCH)();
    await assert.rejects(fromSts, (e: unknown) => classifyError(e) === 'clock-skew');
    const base: BaseProvider = () =>
      Promise.resolve({ accessKeyId: 'ASIA', secretAccessKey: 's', sessionToken: 't', expiration: stale });
    await assert.rejects(baseIdentityFetcher(base, () => FAKE_EPOCH)(), /probably ahead of AWS/);
  });
});

describe('createCredentialFetcher', () => {
  const rds = rdsTarget({ name: 'db' });
  it('without a role: the base identity, forcing the SDK past its cache', async () => {
    const seen: unknown[] = [];
    const base: BaseProvider = (o) => {
      seen.push(o);
      return Promise.resolve({ accessKeyId: 'AKIA', secretAccessKey: 's' });
    };
    const fetch = createCredentialFetcher(rds, {
      base,
      stsFor: () => fakeSts(),
      stsRegion: () => 'eu-west-1',
      sessionName: 's',
      now: () => 5,
    });
    const c = await fetch();
    assert.deepEqual(seen, [{ forceRefresh: true }]);
    assert.equal(c.expiresAt, 5 + NO_EXPIRY_REFRESH_PERIOD_MS, 'long-term keys get a nominal period');
  });
  it('with a role: AssumeRole through the client of the STS region', async () => {
    const regions: string[] = [];
    const sts = fakeSts(new Date(10_000_000));
    const base: BaseProvider = () =>
      Promise.reject(new Error('the base identity is used by the STS client, not directly'));
    const fetch = createCredentialFetcher(
      { ...rds, roleArn: 'arn:aws:iam::1:role/r', externalId: 'x' },
      {
        base,
        stsFor: (r) => (regions.push(r), sts),
        stsRegion: (t) => t.region,
        sessionName: 's',
        now: () => 0,
      },
    );
    await fetch();
    assert.deepEqual(regions, ['eu-west-1']);
    assert.equal(sts.inputs.length, 1);
  });
});

describe('webIdentityFrom: IRSA through the sidecar’s own STS client only where the SDK chain picks it', () => {
  const irsa = { AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token', AWS_ROLE_ARN: 'arn:aws:iam::1:role/pod' };
  const table: [string, Parameters<typeof webIdentityFrom>, ReturnType<typeof webIdentityFrom>][] = [
    [
      'IRSA from the environment',
      [{}, irsa],
      { tokenFile: '/var/run/token', roleArn: 'arn:aws:iam::1:role/pod', sessionName: undefined },
    ],
    [
      'explicit settings first, session name from the environment',
      [
        { webIdentityTokenFile: '/t', roleArn: 'arn:r' },
        { ...irsa, AWS_ROLE_SESSION_NAME: 's' },
      ],
      { tokenFile: '/t', roleArn: 'arn:r', sessionName: 's' },
    ],
    [
      'static keys come first in the chain',
      [{}, { ...irsa, AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 's' }],
      undefined,
    ],
    ['a named profile comes first in the chain', [{}, { ...irsa, AWS_PROFILE: 'dev' }], undefined],
    [
      'no role: not IRSA (EKS Pod Identity, IMDS: the chain)',
      [{}, { AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }],
      undefined,
    ],
    ['no token file: not IRSA', [{}, { AWS_ROLE_ARN: 'arn:r' }], undefined],
  ];
  for (const [name, args, expected] of table) {
    it(name, () => assert.deepEqual(webIdentityFrom(...args), expected));
  }
});

describe('webIdentityProvider', () => {
  function fakeSts(expiration: Date) {
    const inputs: { RoleArn?: string; RoleSessionName?: string; WebIdentityToken?: string }[] = [];
    const sts: WebIdentityStsLike = {
      send: (command) => {
        inputs.push(command.input);
        return Promise.resolve({
          Credentials: {
            AccessKeyId: `ASIAPOD${inputs.length}`,
            SecretAccessKey: 's',
            SessionToken: 't',
            Expiration: expiration,
          },
        });
      },
    };
    return { sts, inputs };
  }

  it('one AssumeRoleWithWebIdentity per call, reading the token file anew each time (the kubelet rotates it)', async (tc) => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-irsa-'));
    tc.after(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'jwt-one\n');
    const expiration = new Date(FAKE_EPOCH + 3600_000);
    const { sts, inputs } = fakeSts(expiration);
    const settings = { tokenFile, roleArn: 'arn:aws:iam::1:role/pod', sessionName: undefined };
    const provider = webIdentityProvider(
      () => sts,
      settings,
      () => FAKE_EPOCH,
    );
    const first = await provider();
    await writeFile(tokenFile, 'jwt-two');
    const second = await provider();
    assert.deepEqual(inputs, [
      {
        RoleArn: settings.roleArn,
        RoleSessionName: `aws-sdk-js-session-${FAKE_EPOCH}`,
        WebIdentityToken: 'jwt-one',
      },
      {
        RoleArn: settings.roleArn,
        RoleSessionName: `aws-sdk-js-session-${FAKE_EPOCH}`,
        WebIdentityToken: 'jwt-two',
      },
    ]);
    assert.deepEqual(first, { accessKeyId: 'ASIAPOD1', secretAccessKey: 's', sessionToken: 't', expiration });
    assert.equal(second.accessKeyId, 'ASIAPOD2');
  });

  it('a token file that cannot be read: names the file, the variable and the fix, and calls no STS', async () => {
    const { sts, inputs } = fakeSts(new Date(FAKE_EPOCH + 3600_000));
    const provider = webIdentityProvider(() => sts, {
      tokenFile: '/nonexistent/irsa-token',
      roleArn: 'arn:aws:iam::1:role/pod',
      sessionName: 'tb-ns-pod',
    });
    await assert.rejects(provider(), (e: unknown) => {
      assert.ok(e instanceof WebIdentityTokenFileError);
      assert.match(e.message, /\/nonexistent\/irsa-token \(AWS_WEB_IDENTITY_TOKEN_FILE\): ENOENT/);
      assert.match(e.message, /projected/);
      return true;
    });
    assert.equal(inputs.length, 0);
  });

  it('STS answering without credentials is an error naming the role', async () => {
    const sts: WebIdentityStsLike = { send: () => Promise.resolve({}) };
    const dir = await mkdtemp(join(tmpdir(), 'tb-irsa-'));
    await writeFile(join(dir, 'token'), 'jwt');
    const provider = webIdentityProvider(() => sts, {
      tokenFile: join(dir, 'token'),
      roleArn: 'arn:aws:iam::1:role/pod',
      sessionName: 's',
    });
    await assert.rejects(provider(), /AssumeRole for arn:aws:iam::1:role\/pod returned no credentials/);
    await rm(dir, { recursive: true, force: true });
  });
});
