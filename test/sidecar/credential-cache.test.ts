/**
 * The shared credential cache (credential-cache.ts), the shared base identity (base-identity.ts) and
 * the per-role sharing (assumed-role-cache.ts), on a fake clock with a fake credential source.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assumedRoleKey, AssumedRoleCache } from '../../sidecar/src/assumed-role-cache.ts';
import { shareBaseIdentity } from '../../sidecar/src/base-identity.ts';
import {
  CredentialCache,
  isServable,
  sharedRetryAt,
  type CredentialCachePolicy,
} from '../../sidecar/src/credential-cache.ts';
import { StepTimeoutError } from '../../sidecar/src/deadline.ts';
import { classifyError } from '../../sidecar/src/error-class.ts';
import type { BaseProvider, StsLike, TemporaryCredentials } from '../../sidecar/src/identity.ts';
import { nextRefreshAt } from '../../sidecar/src/refresh-policy.ts';
import { FakeClock, settle } from '../fakes/fake-clock.ts';
import { FAKE_ERRORS, FakeCredentialSource } from '../fakes/fake-credentials.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const MARGIN = 2 * MIN;

const errorOf = (e: unknown): unknown => e;

function policy(clock: FakeClock, random = () => 0.5): CredentialCachePolicy {
  return { now: () => clock.now(), marginMs: MARGIN, random, deadlineTimers: clock };
}

describe('isServable', () => {
  const held = (expiresAt: number, refreshAt?: number): TemporaryCredentials => ({
    accessKeyId: 'A',
    secretAccessKey: 's',
    sessionToken: 't',
    expiresAt,
    ...(refreshAt === undefined ? {} : { refreshAt }),
  });
  const table: [string, TemporaryCredentials | undefined, number, boolean][] = [
    ['nothing held', undefined, 0, false],
    ['before the refresh point', held(100, 50), 49, true],
    ['at the refresh point', held(100, 50), 50, false],
    ['no refresh point, before expiry', held(100), 99, true],
    ['no refresh point, at expiry', held(100), 100, false],
    ['a refresh point past expiry never serves expired credentials', held(100, 200), 100, false],
  ];
  for (const [name, credentials, now, expected] of table) {
    it(name, () => assert.equal(isServable(credentials, now), expected));
  }
});

describe('CredentialCache', { timeout: 10_000 }, () => {
  it('serves the held credentials until their refresh point, then fetches once', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now(), HOUR);
    const cache = new CredentialCache(source.fetch, policy(clock), 'test credentials');
    const first = await cache.get();
    assert.equal(
      first.refreshAt,
      nextRefreshAt(clock.now(), first.expiresAt, MARGIN, () => 0.5),
    );
    await clock.advance(first.refreshAt - clock.now() - 1);
    assert.equal(await cache.get(), first, 'the same credentials before the refresh point');
    assert.equal(source.calls.length, 1);
    await clock.advance(1);
    const second = await cache.get();
    assert.notEqual(second.accessKeyId, first.accessKeyId);
    assert.equal(source.calls.length, 2);
    assert.equal(await cache.get(), second);
  });

  it('single flight: concurrent callers share one fetch', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now());
    const cache = new CredentialCache(source.fetch, policy(clock), 'test credentials');
    source.hold();
    const callers = [cache.get(), cache.get(), cache.get()];
    await settle();
    source.release();
    const got = await Promise.all(callers);
    assert.equal(source.calls.length, 1);
    assert.ok(got.every((c) => c === got[0]));
  });

  it('a failure stands until its retry point: joined and later callers get it, then a new fetch', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now());
    const cache = new CredentialCache(source.fetch, policy(clock), 'test credentials');
    source.failNext(FAKE_ERRORS.throttling);
    source.hold();
    const callers = [cache.get(), cache.get()].map((p) => p.then(() => undefined, errorOf));
    await settle();
    source.release();
    const [joined, alsoJoined] = await Promise.all(callers);
    assert.equal(classifyError(joined), 'throttling', 'the error as the source threw it');
    assert.equal(alsoJoined, joined);
    const retryAt = sharedRetryAt(joined) as number;
    await clock.advance(retryAt - clock.now() - 1);
    assert.equal(
      await cache.get().then(() => undefined, errorOf),
      joined,
      'a later caller: the same failure',
    );
    assert.equal(source.calls.length, 1, 'and no call of its own before the retry point');
    await clock.advance(1);
    const next = await cache.get();
    assert.equal(source.calls.length, 2);
    assert.equal(next.accessKeyId, source.issued[0]?.accessKeyId);
  });

  it('while a failure stands, credentials still valid are served, due again at the retry point', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now(), HOUR);
    const cache = new CredentialCache(source.fetch, policy(clock), 'test credentials');
    const first = await cache.get();
    await clock.advance((first.refreshAt as number) - clock.now());
    source.failNext(FAKE_ERRORS.throttling);
    const failure = await cache.get().then(() => undefined, errorOf);
    const retryAt = sharedRetryAt(failure) as number;
    assert.ok(retryAt > clock.now() + 1 && retryAt < first.expiresAt, 'a retry point before the expiry');
    await clock.advance(1);
    const served = await cache.get();
    assert.equal(served.accessKeyId, first.accessKeyId, 'the held credentials, not the failure');
    assert.equal(served.refreshAt, retryAt);
    assert.equal(source.calls.length, 2, 'and no call of its own before the retry point');
  });

  it('a failed refresh leaves nothing stale behind: at the retry point it fetches, not the old credentials', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now());
    const cache = new CredentialCache(source.fetch, policy(clock), 'test credentials');
    const first = await cache.get();
    await clock.advance((first.refreshAt as number) - clock.now());
    source.failNext(FAKE_ERRORS.network);
    const failure = await cache.get().then(() => undefined, errorOf);
    assert.match(String(failure), /ECONNREFUSED/);
    await clock.advance((sharedRetryAt(failure) as number) - clock.now());
    const second = await cache.get();
    assert.notEqual(second.accessKeyId, first.accessKeyId);
    assert.equal(source.calls.length, 3);
  });

  it('a fetch that never settles times out; at its retry point the next caller starts a new one', async () => {
    const clock = new FakeClock();
    const source = new FakeCredentialSource(() => clock.now());
    const cache = new CredentialCache(
      source.fetch,
      { ...policy(clock), fetchTimeoutMs: 5_000 },
      "the pod's identity",
    );
    source.hold();
    const hung = cache.get().then(() => undefined, errorOf);
    await clock.advance(5_000);
    const error = await hung;
    assert.ok(error instanceof StepTimeoutError, String(error));
    assert.match(error.message, /fetching the pod's identity/);
    assert.equal(classifyError(error), 'timeout');
    source.release();
    await clock.advance((sharedRetryAt(error) as number) - clock.now());
    await cache.get();
    assert.equal(source.calls.length, 2, 'a new fetch, not a wait on the hung one');
  });
});

describe('shareBaseIdentity', () => {
  it('the targets and the STS clients get one fetch of the pod identity; the SDK adds no cache of its own', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const base: BaseProvider = (options) => {
      calls++;
      assert.deepEqual(options, { forceRefresh: true }, 'past the SDK chain cache');
      return Promise.resolve({
        accessKeyId: `ASIA${calls}`,
        secretAccessKey: 's',
        sessionToken: 't',
        expiration: new Date(clock.now() + HOUR),
      });
    };
    const identity = shareBaseIdentity(base, policy(clock));
    const [direct, forSts] = await Promise.all([identity.fetch(), identity.provider()]);
    assert.equal(calls, 1);
    assert.equal(forSts.accessKeyId, direct.accessKeyId);
    assert.equal(forSts.sessionToken, 't');
    assert.equal(forSts.expiration?.getTime(), direct.expiresAt);
    assert.equal((identity.provider as { memoized?: boolean }).memoized, true);
    await clock.advance((direct.refreshAt as number) - clock.now());
    assert.equal((await identity.provider()).accessKeyId, 'ASIA2', 'the STS clients follow the refresh');
    assert.equal((await identity.fetch()).accessKeyId, 'ASIA2');
    assert.equal(calls, 2);
  });

  it('long-term keys (no session token) are passed on without one', async () => {
    const clock = new FakeClock();
    const identity = shareBaseIdentity(
      () => Promise.resolve({ accessKeyId: 'AKIA', secretAccessKey: 's' }),
      policy(clock),
    );
    assert.equal('sessionToken' in (await identity.provider()), false);
  });
});

describe('AssumedRoleCache', () => {
  const ROLE = 'arn:aws:iam::111122223333:role/reporting';

  function fakeSts(clock: FakeClock) {
    const inputs: { RoleArn?: string; ExternalId?: string }[] = [];
    const sts: StsLike = {
      send: (command) => {
        inputs.push(command.input);
        return Promise.resolve({
          Credentials: {
            AccessKeyId: `ASIAROLE${inputs.length}`,
            SecretAccessKey: 's',
            SessionToken: 't',
            Expiration: new Date(clock.now() + HOUR),
          },
        });
      },
    };
    return { sts, inputs };
  }

  function roles(clock: FakeClock, sts: StsLike, base = new FakeCredentialSource(() => clock.now())) {
    const cache = new AssumedRoleCache(
      base.fetch,
      {
        base: () => Promise.reject(new Error('the fake STS signs nothing')),
        stsFor: () => sts,
        stsRegion: (t) => t.region,
        sessionName: 'tb-billing-invoicing',
        now: () => clock.now(),
      },
      policy(clock),
    );
    return { cache, base };
  }

  it('the key is the role and the external ID', () => {
    assert.equal(assumedRoleKey({ roleArn: undefined, externalId: undefined }), undefined);
    assert.equal(
      assumedRoleKey({ roleArn: ROLE, externalId: undefined }),
      assumedRoleKey({ roleArn: ROLE, externalId: undefined }),
    );
    assert.notEqual(
      assumedRoleKey({ roleArn: ROLE, externalId: 'a' }),
      assumedRoleKey({ roleArn: ROLE, externalId: 'b' }),
    );
    // An external ID spelled like a missing one is still another one.
    assert.notEqual(
      assumedRoleKey({ roleArn: ROLE, externalId: 'undefined' }),
      assumedRoleKey({ roleArn: ROLE }),
    );
  });

  it('targets naming the same role and external ID share one AssumeRole per lifetime; others get their own', async () => {
    const clock = new FakeClock();
    const { sts, inputs } = fakeSts(clock);
    const { cache } = roles(clock, sts);
    const reports = cache.fetcherFor(rdsTarget({ name: 'reports', roleArn: ROLE, externalId: 'x' }));
    const archive = cache.fetcherFor(mongoTarget({ name: 'archive', roleArn: ROLE, externalId: 'x' }));
    const other = cache.fetcherFor(mongoTarget({ name: 'other', roleArn: ROLE, externalId: 'y' }));
    const [a, b] = await Promise.all([reports(), archive()]);
    assert.equal(a, b);
    await other();
    assert.deepEqual(
      inputs.map((i) => i.ExternalId),
      ['x', 'y'],
    );
    await clock.advance((a.refreshAt as number) - clock.now());
    await Promise.all([reports(), archive()]);
    assert.equal(inputs.filter((i) => i.ExternalId === 'x').length, 2, 'one more per lifetime');
  });

  it('a target without a role gets the shared base identity', () => {
    const clock = new FakeClock();
    const { sts, inputs } = fakeSts(clock);
    const { cache, base } = roles(clock, sts);
    assert.equal(cache.fetcherFor(rdsTarget()), base.fetch);
    assert.equal(inputs.length, 0);
  });
});
