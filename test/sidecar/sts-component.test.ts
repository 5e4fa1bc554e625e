/**
 * The sidecar's real AWS SDK wiring against the local STS emulator: web identity token file ->
 * AssumeRoleWithWebIdentity (base identity) -> AssumeRole (target role, chained) -> RDS token, checked
 * by the emulator's independent SigV4 verifier. No module mocking: only endpoints are pointed at 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { classifyError, type ErrorClass } from '../../sidecar/src/error-class.ts';
import {
  createBaseProvider,
  createCredentialFetcher,
  createStsClient,
  roleSessionName,
} from '../../sidecar/src/identity.ts';
import { startSidecar } from '../../sidecar/src/main.ts';
import { startStsEmulator, type StsEmulator, type StsFaultKind } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { httpRequest, waitFor } from './support/http-client.ts';
import {
  LogCapture,
  LOOPBACK_EPHEMERAL,
  testSidecarEnv,
  type TestSidecarEnv,
} from './support/sidecar-env.ts';
import { verifyTargetToken } from './support/verify-target-token.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/invoicing-pod';
const DB_ROLE = 'arn:aws:iam::111122223333:role/invoicing-db-connect';
const EXTERNAL_ID = 'tb-external-1';

const pg = rdsTarget({ name: 'invoicing-db', roleArn: DB_ROLE, externalId: EXTERNAL_ID });
const docs = mongoTarget({ name: 'docs' });

let sts: StsEmulator;
let t: TestSidecarEnv;
let tokenFile: string;

before(async () => {
  for (const v of [
    'AWS_ACCESS_KEY_ID',
    'AWS_PROFILE',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  ]) {
    assert.equal(
      process.env[v],
      undefined,
      `${v} is set in the test environment; the SDK default chain would use it instead of the emulator`,
    );
  }
  sts = await startStsEmulator({
    region: REGION,
    roles: {
      [POD_ROLE]: {},
      [DB_ROLE]: { externalId: EXTERNAL_ID, trust: [POD_ROLE] },
    },
  });
  t = await testSidecarEnv([pg, docs]);
  tokenFile = join(t.dir, 'irsa-token');
  await writeFile(
    tokenFile,
    makeWebIdentityToken({
      subject: 'system:serviceaccount:billing:invoicing',
      expiresAt: Date.now() + 86_400_000,
    }),
  );
});

after(async () => {
  await sts.close();
  await t.cleanup();
});

const identity = () => ({
  stsEndpoint: sts.url,
  webIdentityTokenFile: tokenFile,
  roleArn: POD_ROLE,
  requestTimeoutMs: 2_000,
});

describe('sidecar against the STS emulator (real SDK providers)', { timeout: 30_000 }, () => {
  it('IRSA token file -> AssumeRole -> RDS token that verifies independently; Mongo gets the pod identity', async () => {
    const logs = new LogCapture();
    const started = performance.now();
    const sc = await startSidecar(t.options(), t.env, {
      identity: identity(),
      listen: LOOPBACK_EPHEMERAL,
      handleSignals: false,
      logDestination: logs,
    });
    try {
      await waitFor(
        async () => (await httpRequest({ port: sc.ports.health }, 'GET', '/readyz')).status === 200,
        'ready',
        15_000,
      );
      const readyMs = performance.now() - started;
      const token = await readFile(join(t.dir, 'invoicing-db.token'), 'utf8');
      const v = verifyTargetToken(token, pg, sts, REGION);
      assert.ok(v.ok, v.ok ? '' : `${v.reason}: ${v.message}`);
      const signer = sts.credentialFor(v.accessKeyId)!;
      assert.equal(signer.roleArn, DB_ROLE, 'signed with the target role');
      assert.equal(signer.chained, true, 'the target role was assumed from the pod identity');
      assert.equal(signer.sessionName, roleSessionName('billing', 'invoicing-7d9f-abcde'));
      assert.ok(v.expiresAt.getTime() - v.signedAt.getTime() <= 900_000);

      const assumeRole = sts.calls.filter((c) => c.action === 'AssumeRole');
      assert.equal(assumeRole.length, 1, 'one AssumeRole per credential lifetime');
      assert.equal(assumeRole[0]?.durationSeconds, 3600);
      assert.equal(assumeRole[0]?.externalId, EXTERNAL_ID);
      assert.equal(assumeRole[0]?.signingRegion, REGION, 'regional STS');
      assert.ok(sts.calls.every((c) => c.outcome === 'ok'));

      const json = JSON.parse(await readFile(join(t.dir, 'docs.credentials.json'), 'utf8')) as Record<
        string,
        string
      >;
      const mongoCred = sts.credentialFor(json.AccessKeyId!)!;
      assert.equal(mongoCred.roleArn, POD_ROLE);
      assert.equal(mongoCred.source, 'AssumeRoleWithWebIdentity');
      assert.equal(json.SecretAccessKey, mongoCred.secretAccessKey);
      assert.equal(json.Token, mongoCred.sessionToken);
      console.log(`startup to ready against the emulator: ${readyMs.toFixed(0)} ms`);
    } finally {
      await sc.stop('test');
    }
  });

  it("each fetch is one STS call returning new credentials (no SDK cache in the scheduler's way)", async () => {
    const base = createBaseProvider({ region: REGION, ...identity() });
    const wiring = {
      base,
      stsFor: (r: string) => createStsClient(base, r, sts.url, 2_000),
      stsRegion: () => REGION,
      sessionName: 'tb-test',
      now: Date.now,
    };
    for (const target of [pg, docs]) {
      const fetch = createCredentialFetcher(target, wiring);
      const before = sts.calls.length;
      const a = await fetch();
      const b = await fetch();
      assert.notEqual(a.accessKeyId, b.accessKeyId, `${target.name}: fresh credentials per fetch`);
      const actions = sts.calls.slice(before).map((c) => c.action);
      const expected = target.roleArn ? 'AssumeRole' : 'AssumeRoleWithWebIdentity';
      assert.equal(actions.filter((x) => x === expected).length, 2, `${target.name}: ${actions.join(',')}`);
    }
  });

  it('real SDK errors from each STS fault are classified', async () => {
    const base = createBaseProvider({ region: REGION, ...identity(), requestTimeoutMs: 300 });
    const fetch = createCredentialFetcher(docs, {
      base,
      stsFor: () => assert.fail(),
      stsRegion: () => REGION,
      sessionName: 's',
      now: Date.now,
    });
    const table: [StsFaultKind, ErrorClass][] = [
      ['throttling', 'throttling'],
      ['access-denied', 'access-denied'],
      ['expired-token', 'expired-web-identity-token'],
      ['invalid-identity-token', 'invalid-web-identity-token'],
      ['idp-communication-error', 'network'],
      ['reset', 'network'],
      ['slow', 'timeout'],
      ['server-error', 'sts-unavailable'],
      ['garbage', 'sts-unavailable'],
    ];
    for (const [fault, expected] of table) {
      sts.failNext(fault, 1, { action: 'AssumeRoleWithWebIdentity', delayMs: 2_000 });
      const error = await fetch().then(
        () => undefined,
        (e: unknown) => e,
      );
      sts.clearFaults();
      assert.ok(error, `${fault}: the fetch failed`);
      assert.equal(
        classifyError(error),
        expected,
        `${fault}: ${(error as Error).name}: ${(error as Error).message}`,
      );
    }
  });
});

describe('a rotated web identity token (kubelet rewrites the projected file)', { timeout: 30_000 }, () => {
  it('each fetch reads the file anew: after rotation the new token is used, the old one no longer', async () => {
    const first = makeWebIdentityToken({
      subject: 'system:serviceaccount:billing:invoicing',
      expiresAt: Date.now() + 3600_000,
    });
    const second = makeWebIdentityToken({
      subject: 'system:serviceaccount:billing:invoicing',
      expiresAt: Date.now() + 7200_000,
    });
    const own = await startStsEmulator({
      region: REGION,
      acceptedWebIdentityTokens: [first],
      roles: { [POD_ROLE]: {} },
    });
    const file = join(t.dir, 'rotating-token');
    try {
      await writeFile(file, first);
      const base = createBaseProvider({
        region: REGION,
        stsEndpoint: own.url,
        webIdentityTokenFile: file,
        roleArn: POD_ROLE,
        requestTimeoutMs: 2_000,
      });
      const fetch = createCredentialFetcher(docs, {
        base,
        stsFor: () => assert.fail(),
        stsRegion: () => REGION,
        sessionName: 's',
        now: Date.now,
      });
      await fetch();
      // Rotation: kubelet writes a new token; STS no longer accepts the old one.
      await writeFile(file, second);
      own.revokeWebIdentityToken(first);
      own.acceptWebIdentityToken(second);
      await fetch();
      assert.deepEqual(
        own.calls.map((c) => [c.webIdentityToken === first ? 'first' : 'second', c.outcome]),
        [
          ['first', 'ok'],
          ['second', 'ok'],
        ],
      );
    } finally {
      await own.close();
    }
  });
});
