/**
 * One base identity per sidecar, against the STS emulator with the real SDK providers, on a fake
 * clock: the pod's identity (IRSA web identity) is fetched once per lifetime and shared by the
 * targets that use it directly and by the roles assumed on top of it; each role is fetched once per
 * lifetime however many targets name it. STS calls are counted per action over several lifetimes.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Target } from '../../contract/sidecar-config.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/src/main.ts';
import { REFRESH_WINDOW_END, REFRESH_WINDOW_START } from '../../sidecar/src/refresh-policy.ts';
import { startStsEmulator, type StsCallRecord, type StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { FakeClock, seededRandom } from '../fakes/fake-clock.ts';
import { fakeRdsSigner } from '../fakes/fake-credentials.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { LogCapture, LOOPBACK_EPHEMERAL, testSidecarEnv } from './support/sidecar-env.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/invoicing-pod';
const DOCS_ROLE = 'arn:aws:iam::111122223333:role/docs-reader';
const SHARED_ROLE = 'arn:aws:iam::111122223333:role/reporting';
const EXTERNAL_ID = 'tb-reporting-1';
const MIN = 60_000;
const HOUR = 60 * MIN;
/** STS's credentials (emulator default) and the horizon: six lifetimes. */
const LIFETIME_MS = HOUR;
const HORIZON_MS = 6 * HOUR;
/** Every refresh point in the middle of its window: [1/2, 4/5] of the lifetime -> 0.65. */
const RANDOM = 0.5;

const targets: Target[] = [
  rdsTarget({ name: 'pg' }),
  rdsTarget({ name: 'mysql', engine: 'mysql', port: 3306 }),
  mongoTarget({ name: 'docs', roleArn: DOCS_ROLE }),
  rdsTarget({ name: 'reports', roleArn: SHARED_ROLE, externalId: EXTERNAL_ID }),
  mongoTarget({ name: 'archive', roleArn: SHARED_ROLE, externalId: EXTERNAL_ID }),
];

/** What STS calls are for: the pod's identity, or one role. */
function credentialOf(call: StsCallRecord): string {
  return call.action === 'AssumeRole' ? `AssumeRole ${call.roleArn}` : call.action;
}

/** Calls per credential and STS's answer: "AssumeRoleWithWebIdentity Throttling": 2, ... */
function countByOutcome(calls: readonly StsCallRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of calls) {
    const key = `${credentialOf(c)} ${c.outcome}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function countBy(calls: readonly StsCallRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of calls) counts[credentialOf(c)] = (counts[credentialOf(c)] ?? 0) + 1;
  return counts;
}

/** Moves the fake clock timer by timer, letting each woken cycle finish its real I/O first. */
async function runUntil(clock: FakeClock, sc: RunningSidecar, end: number, each: () => void): Promise<void> {
  const idle = () => Promise.all([...sc.refreshers.values()].map((r) => r.settled()));
  await idle();
  for (;;) {
    const next = clock.nextTimerAt();
    if (next === undefined || next > end) break;
    await clock.advance(Math.max(0, next - clock.now()));
    await idle();
    each();
  }
  await clock.advance(end - clock.now());
}

async function start(
  tc: TestContext,
  random: () => number = () => RANDOM,
  beforeStart: (sts: StsEmulator) => void = () => undefined,
) {
  const clock = new FakeClock(Date.now());
  const sts = await startStsEmulator({
    region: REGION,
    now: () => clock.now(),
    // The SDK signs on the wall clock; the emulator's runs hours ahead of it here.
    maxClockSkewSeconds: Infinity,
    roles: {
      [POD_ROLE]: {},
      [DOCS_ROLE]: { trust: [POD_ROLE] },
      [SHARED_ROLE]: { trust: [POD_ROLE], externalId: EXTERNAL_ID },
    },
  });
  beforeStart(sts);
  const t = await testSidecarEnv(targets);
  const tokenFile = join(t.dir, 'irsa-token');
  await writeFile(tokenFile, makeWebIdentityToken({ expiresAt: clock.now() + 2 * HORIZON_MS }));
  const logs = new LogCapture();
  const sc = await startSidecar(t.options(), t.env, {
    timers: clock,
    random,
    signer: fakeRdsSigner([], () => clock.now()),
    identity: {
      stsEndpoint: sts.url,
      webIdentityTokenFile: tokenFile,
      roleArn: POD_ROLE,
      requestTimeoutMs: 5_000,
    },
    listen: LOOPBACK_EPHEMERAL,
    handleSignals: false,
    logDestination: logs,
    defaultMetrics: false,
  });
  tc.after(async () => {
    await sc.stop('test ended');
    await sts.close();
    await t.cleanup();
  });
  return { clock, sts, sc, logs, started: clock.now() };
}

describe('one base identity per sidecar (STS emulator, fake clock)', { timeout: 60_000 }, () => {
  it('at start: one web identity call and one AssumeRole per distinct role, for five targets', async (tc) => {
    const { clock, sts, sc, logs } = await start(tc);
    // The first refresh of every target is due at once.
    await clock.advance(0);
    await Promise.all([...sc.refreshers.values()].map((r) => r.settled()));
    assert.deepEqual(
      countBy(sts.calls),
      { AssumeRoleWithWebIdentity: 1, [`AssumeRole ${DOCS_ROLE}`]: 1, [`AssumeRole ${SHARED_ROLE}`]: 1 },
      logs.text,
    );
    assert.ok(
      sts.calls.every((c) => c.outcome === 'ok'),
      JSON.stringify(sts.calls),
    );
    const pod = sts.calls.find((c) => c.action === 'AssumeRoleWithWebIdentity')?.issuedAccessKeyId;
    for (const role of sts.calls.filter((c) => c.action === 'AssumeRole')) {
      assert.equal(role.accessKeyId, pod, 'each AssumeRole is signed with the one pod identity');
    }
    for (const r of sc.refreshers.values()) assert.ok(r.isFresh(), `${r.target.name} is served`);
  });

  it('over six lifetimes: each credential fetched once per lifetime, every target fresh throughout', async (tc) => {
    const { clock, sts, sc, logs, started } = await start(tc);
    const stale: string[] = [];
    await runUntil(clock, sc, started + HORIZON_MS, () => {
      for (const r of sc.refreshers.values()) {
        if (!r.isFresh()) stale.push(`${r.target.name} at +${(clock.now() - started) / MIN} min`);
      }
    });
    assert.deepEqual(stale, [], 'no target went stale');

    // Each credential is refreshed at 0.65 of its lifetime (the emulator's Date has whole seconds,
    // so the lifetime read on our clock is up to a second shorter): 1 at start + 9 in 6 h.
    const period =
      LIFETIME_MS * (REFRESH_WINDOW_START + (REFRESH_WINDOW_END - REFRESH_WINDOW_START) * RANDOM);
    const perCredential = 1 + Math.floor(HORIZON_MS / period);
    assert.equal(perCredential, 10);
    assert.deepEqual(countBy(sts.calls), {
      AssumeRoleWithWebIdentity: perCredential,
      [`AssumeRole ${DOCS_ROLE}`]: perCredential,
      [`AssumeRole ${SHARED_ROLE}`]: perCredential,
    });
    assert.ok(sts.calls.every((c) => c.outcome === 'ok'));

    // The targets sharing a credential come back at its refresh point together: every credentials
    // cycle of a target gets new credentials, none merely finds the shared ones not yet due.
    const lines = logs.lines();
    for (const target of targets) {
      const cycles = lines.filter((l) => l.msg === `refreshed credentials for target "${target.name}"`);
      assert.equal(cycles.length, perCredential, `credentials cycles of ${target.name}`);
    }

    // Never two calls for one credential within its lifetime's refresh window.
    const byCredential = new Map<string, number[]>();
    for (const c of sts.calls)
      byCredential.set(credentialOf(c), [...(byCredential.get(credentialOf(c)) ?? []), c.at]);
    for (const [credential, times] of byCredential) {
      for (let i = 1; i < times.length; i++) {
        const gap = (times[i] as number) - (times[i - 1] as number);
        assert.ok(
          gap >= LIFETIME_MS * REFRESH_WINDOW_START - 2_000,
          `${credential}: calls ${gap / MIN} min apart`,
        );
      }
    }
  });
  it('with jitter: the targets sharing a credential wake at its one refresh point, in its window', async (tc) => {
    const { clock, sts, sc, logs, started } = await start(tc, seededRandom(7));
    await runUntil(clock, sc, started + HORIZON_MS, () => undefined);
    const calls = countBy(sts.calls);
    const credentialOfTarget = (t: Target) =>
      t.roleArn === undefined ? 'AssumeRoleWithWebIdentity' : `AssumeRole ${t.roleArn}`;
    const lines = logs.lines();
    for (const target of targets) {
      const cycles = lines.filter((l) => l.msg === `refreshed credentials for target "${target.name}"`);
      assert.equal(
        cycles.length,
        calls[credentialOfTarget(target)],
        `${target.name}: one credentials cycle per fetch of its credential, none finding it not yet due`,
      );
    }
    const byCredential = new Map<string, number[]>();
    for (const c of sts.calls) {
      byCredential.set(credentialOf(c), [...(byCredential.get(credentialOf(c)) ?? []), c.at]);
    }
    assert.equal(byCredential.size, 3);
    for (const [credential, times] of byCredential) {
      assert.equal(times[0], started, `${credential}: fetched at start`);
      for (let i = 1; i < times.length; i++) {
        const gap = (times[i] as number) - (times[i - 1] as number);
        assert.ok(
          gap >= LIFETIME_MS * REFRESH_WINDOW_START - 2_000 && gap <= LIFETIME_MS * REFRESH_WINDOW_END,
          `${credential}: calls ${gap / MIN} min apart`,
        );
      }
    }
  });

  // One owner of retries: the SDK makes one attempt per call (maxAttempts 1), the credential caches
  // back off from the throttling base, and the targets sharing a credential retry it together.
  it('STS throttles the web identity twice: three web identity calls in all, one AssumeRole per role', async (tc) => {
    const { clock, sts, sc, logs, started } = await start(
      tc,
      () => RANDOM,
      (emulator) => emulator.failNext('throttling', 2, { action: 'AssumeRoleWithWebIdentity' }),
    );
    await runUntil(clock, sc, started + 2 * MIN, () => undefined);
    assert.deepEqual(
      countByOutcome(sts.calls),
      {
        'AssumeRoleWithWebIdentity Throttling': 2,
        'AssumeRoleWithWebIdentity ok': 1,
        [`AssumeRole ${DOCS_ROLE} ok`]: 1,
        [`AssumeRole ${SHARED_ROLE} ok`]: 1,
      },
      logs.text,
    );
    // random 0.5 of the throttling backoff's ceilings, 8 s then 16 s.
    const identity = sts.calls
      .filter((c) => c.action === 'AssumeRoleWithWebIdentity')
      .map((c) => c.at - started);
    assert.deepEqual(identity, [0, 4_000, 12_000]);
    for (const r of sc.refreshers.values()) assert.ok(r.isFresh(), `${r.target.name} is served`);
  });

  it('STS throttles the first two AssumeRole calls: each role retried once, the web identity not again', async (tc) => {
    const { clock, sts, sc, logs, started } = await start(
      tc,
      () => RANDOM,
      (emulator) => emulator.failNext('throttling', 2, { action: 'AssumeRole' }),
    );
    await runUntil(clock, sc, started + 2 * MIN, () => undefined);
    assert.deepEqual(
      countByOutcome(sts.calls),
      {
        'AssumeRoleWithWebIdentity ok': 1,
        [`AssumeRole ${DOCS_ROLE} Throttling`]: 1,
        [`AssumeRole ${DOCS_ROLE} ok`]: 1,
        [`AssumeRole ${SHARED_ROLE} Throttling`]: 1,
        [`AssumeRole ${SHARED_ROLE} ok`]: 1,
      },
      logs.text,
    );
    const retries = sts.calls.filter((c) => c.action === 'AssumeRole' && c.outcome === 'ok');
    for (const c of retries) assert.equal(c.at - started, 4_000, `${c.roleArn} retried at half of 8 s`);
    for (const r of sc.refreshers.values()) assert.ok(r.isFresh(), `${r.target.name} is served`);
  });
});
