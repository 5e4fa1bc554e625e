import assert from 'node:assert/strict';
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
  type BaseProvider,
  type StsLike,
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
