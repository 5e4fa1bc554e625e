/**
 * A node clock that disagrees with STS, with the real SDK against the STS emulator: the emulator's
 * clock runs at an offset from the sidecar's (real time), and its `Date` header, signature checks,
 * Expiration values and the RDS token judge all follow it. No module mocking; only endpoints are
 * pointed at 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { StsClock } from '../../sidecar/src/clock-skew.ts';
import { classifyError } from '../../sidecar/src/error-class.ts';
import { createStsClient } from '../../sidecar/src/identity.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/src/main.ts';
import { verifyRdsAuthToken } from '../emulators/rds-token.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from './support/http-client.ts';
import {
  LogCapture,
  LOOPBACK_EPHEMERAL,
  testSidecarEnv,
  type TestSidecarEnv,
} from './support/sidecar-env.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/invoicing-pod';
const DB_ROLE = 'arn:aws:iam::111122223333:role/invoicing-db-connect';
const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

const pg = rdsTarget({ name: 'invoicing-db', roleArn: DB_ROLE });
const docs = mongoTarget({ name: 'docs' });

/** STS's clock minus the sidecar's; each test sets it. */
let stsOffsetMs = 0;
const stsNow = () => Date.now() + stsOffsetMs;
let sts: StsEmulator;
/** A fresh directory per test: nothing restored from the test before. */
let t: TestSidecarEnv;

before(async () => {
  sts = await startStsEmulator({ region: REGION, now: stsNow, roles: { [POD_ROLE]: {}, [DB_ROLE]: {} } });
});
beforeEach(async () => {
  t = await testSidecarEnv([pg, docs]);
});
afterEach(async () => {
  await t.cleanup();
});
after(async () => {
  await sts.close();
});

async function start(logs: LogCapture): Promise<RunningSidecar> {
  const tokenFile = join(t.dir, 'irsa-token');
  // Valid on any of the clocks below.
  await writeFile(tokenFile, makeWebIdentityToken({ expiresAt: Date.now() + 86_400_000 }));
  return startSidecar(t.options(), t.env, {
    identity: {
      stsEndpoint: sts.url,
      webIdentityTokenFile: tokenFile,
      roleArn: POD_ROLE,
      requestTimeoutMs: 2_000,
    },
    listen: LOOPBACK_EPHEMERAL,
    handleSignals: false,
    logDestination: logs,
    // Retries at half their backoff ceiling: 0.5 s, 1 s, 2 s, ...
    random: () => 0.5,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('clock skew against STS (real SDK, emulator clock offset)', { timeout: 60_000 }, () => {
  it('a clock 2 h ahead (more than a credential lifetime): no hot loop, clock-skew failures, not ready', async () => {
    stsOffsetMs = -2 * HOUR;
    const callsBefore = sts.calls.length;
    const logs = new LogCapture();
    const sc = await start(logs);
    try {
      await waitFor(
        () => sc.refreshers.get('invoicing-db')!.status().consecutiveFailures >= 3,
        'three failures',
      );
      await sleep(2 * SEC);
      const calls = sts.calls.slice(callsBefore);
      // One web identity call per identity fetch, one AssumeRole: the failures retry signing, not STS.
      assert.ok(calls.length <= 4, `${calls.length} STS calls: ${calls.map((c) => c.action).join(',')}`);
      assert.ok(
        calls.every((c) => c.outcome === 'ok'),
        'AssumeRole is signed on STS clock, so STS accepts it',
      );

      const pgStatus = sc.refreshers.get('invoicing-db')!.status();
      assert.equal(pgStatus.lastErrorClass, 'clock-skew');
      assert.equal(pgStatus.lastSuccessAt, undefined, 'never reported as a success');
      assert.equal(sc.refreshers.get('invoicing-db')!.current(), undefined);
      const ready = await httpRequest({ port: sc.ports.health }, 'GET', '/readyz');
      assert.equal(ready.status, 503);

      // The Mongo target needs no signature of ours: its credentials are served, timed on STS's clock.
      const mongoValue = sc.refreshers.get('docs')!.current();
      assert.ok(mongoValue, 'Mongo credentials are served');
      const lifetime = mongoValue.expiresAt - Date.now();
      assert.ok(
        lifetime > HOUR - 10 * SEC && lifetime <= HOUR,
        `lifetime ${lifetime / MIN} min on our clock`,
      );

      const text = (await httpRequest({ port: sc.ports.metrics }, 'GET', '/metrics')).body;
      const skew = metric(text, 'token_broker_clock_skew_seconds');
      assert.ok(skew !== undefined && Math.abs(skew - 7200) <= 2, `token_broker_clock_skew_seconds ${skew}`);
      const failures = metric(
        text,
        'token_broker_refresh_failures_total{target="invoicing-db",kind="rds",reason="clock-skew"}',
      );
      assert.ok(failures !== undefined && failures >= 3, `clock-skew failures ${failures}`);

      const lines = logs.lines();
      const crossing = lines.filter((l) =>
        /this node's clock is 120 min( 1 s)? ahead of STS/.test(String(l.msg)),
      );
      assert.equal(crossing.length, 1, 'the skew is logged once when it crosses the threshold');
      const failure = lines.find((l) => l.target === 'invoicing-db' && l.errorClass === 'clock-skew');
      assert.ok(failure, logs.text);
      assert.match(String(failure.hint), /chrony|Time Sync/);
      assert.ok(
        !lines.some((l) => String(l.msg).includes('refreshed credentials for target "invoicing-db"')),
        'no "refreshed" line for a target that holds nothing',
      );
    } finally {
      await sc.stop('test');
    }
  });

  it('a clock 10 min behind STS: lifetimes on STS clock, signed calls accepted, tokens trusted only as long as AWS accepts them', async () => {
    stsOffsetMs = 10 * MIN;
    const callsBefore = sts.calls.length;
    const logs = new LogCapture();
    const sc = await start(logs);
    try {
      await waitFor(
        async () => (await httpRequest({ port: sc.ports.health }, 'GET', '/readyz')).status === 200,
        'ready',
      );
      const calls = sts.calls.slice(callsBefore);
      assert.ok(
        calls.length > 0 && calls.every((c) => c.outcome === 'ok'),
        calls.map((c) => c.outcome).join(','),
      );
      assert.equal(calls.filter((c) => c.action === 'AssumeRole').length, 1);

      // Mongo: STS's Expiration is an hour on STS's clock, so 50 min on ours would be 10 min too long.
      const json = JSON.parse(await readFile(join(t.dir, 'docs.credentials.json'), 'utf8')) as Record<
        string,
        string
      >;
      const issued = sts.credentialFor(json.AccessKeyId!)!;
      const localEnd = Date.parse(json.Expiration!);
      const expected = issued.expiration.getTime() - stsOffsetMs;
      assert.ok(
        localEnd <= expected && localEnd >= expected - 3 * SEC,
        `Expiration ${json.Expiration} vs STS ${issued.expiration.toISOString()}`,
      );

      // RDS: the token carries our (late) time; AWS sees it expire 10 min sooner than 15 min.
      const token = await readFile(join(t.dir, 'invoicing-db.token'), 'utf8');
      const v = verifyRdsAuthToken({
        token,
        host: pg.host,
        port: pg.port,
        user: pg.user,
        region: REGION,
        lookup: sts.lookup,
        now: stsNow(),
      });
      assert.ok(v.ok, v.ok ? '' : `${v.reason}: ${v.message}`);
      const served = sc.refreshers.get('invoicing-db')!.current()!;
      const awsEndOnOurClock = v.expiresAt.getTime() - stsOffsetMs;
      assert.ok(
        served.expiresAt <= awsEndOnOurClock && served.expiresAt >= awsEndOnOurClock - 3 * SEC,
        `served until ${new Date(served.expiresAt).toISOString()}, AWS accepts it until ${new Date(awsEndOnOurClock).toISOString()} (our clock)`,
      );
    } finally {
      await sc.stop('test');
    }
  });

  it('a clock 10 min ahead of STS: lifetimes on STS clock, AssumeRole accepted; an RDS token AWS would see as future-dated is not served', async () => {
    stsOffsetMs = -10 * MIN;
    const callsBefore = sts.calls.length;
    const logs = new LogCapture();
    const sc = await start(logs);
    try {
      await waitFor(() => sc.refreshers.get('docs')!.current(), 'Mongo credentials');
      await waitFor(
        () => sc.refreshers.get('invoicing-db')!.status().consecutiveFailures >= 2,
        'RDS failures',
      );
      const calls = sts.calls.slice(callsBefore);
      assert.ok(
        calls.every((c) => c.outcome === 'ok'),
        calls.map((c) => `${c.action}:${c.outcome}`).join(','),
      );
      assert.equal(calls.filter((c) => c.action === 'AssumeRole').length, 1);
      const lifetime = sc.refreshers.get('docs')!.current()!.expiresAt - Date.now();
      assert.ok(lifetime > HOUR - 10 * SEC && lifetime <= HOUR, `lifetime ${lifetime / MIN} min`);
      assert.equal(sc.refreshers.get('invoicing-db')!.status().lastErrorClass, 'clock-skew');
      assert.equal(sc.refreshers.get('invoicing-db')!.current(), undefined);
    } finally {
      await sc.stop('test');
    }
  });

  it('a signature refused for skew is classed clock-skew, and the next call is signed on STS clock', async () => {
    stsOffsetMs = 10 * MIN;
    const base = sts.issueCredentials({ roleArn: POD_ROLE });
    const clock = new StsClock(Date.now);
    const client = createStsClient(
      () => Promise.resolve({ ...base, expiration: base.expiration }),
      REGION,
      sts.url,
      2_000,
      clock,
    );
    const assume = () =>
      client.send(new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'skew-test' }));
    const error = await assume().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error, 'the first call, signed on our clock, is refused');
    assert.equal(classifyError(error, { clockOffsetMs: clock.offsetMs() }), 'clock-skew');
    assert.ok((await assume()).Credentials, 'the retry is accepted');
    client.destroy();
  });
});
