/**
 * A full scenario against the STS emulator, with failures of every kind and several refresh cycles,
 * capturing every byte of logs (at trace level), status, health, metrics and error responses; none may
 * contain a secret key, session token, RDS token, web identity token or the API's auth token.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeFileOps, type FileOps } from '../../sidecar/src/files.ts';
import { startSidecar } from '../../sidecar/src/main.ts';
import { startStsEmulator, type StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { httpRequest, waitFor, type TestResponse } from './support/http-client.ts';
import {
  LogCapture,
  LOOPBACK_EPHEMERAL,
  testSidecarEnv,
  type TestSidecarEnv,
} from './support/sidecar-env.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/leak-pod';
const DB_ROLE = 'arn:aws:iam::111122223333:role/leak-db';

const pg = rdsTarget({
  name: 'pg',
  host: 'pg.cluster-x.eu-west-1.rds.amazonaws.com',
  database: 'app',
  user: 'app',
  roleArn: DB_ROLE,
  externalId: 'ext-leak',
});
const my = rdsTarget({
  name: 'my',
  engine: 'mysql',
  host: 'my.cluster-x.eu-west-1.rds.amazonaws.com',
  port: 3306,
  database: 'app',
  user: 'app',
});
const mo = mongoTarget({ name: 'mo', options: { appName: 'leak' } });

let sts: StsEmulator;
let t: TestSidecarEnv;
let webIdentityToken: string;

before(async () => {
  // Credentials live 3 s so the scenario sees several refresh cycles in a few seconds.
  sts = await startStsEmulator({ region: REGION, credentialLifetimeSeconds: 3 });
  t = await testSidecarEnv([pg, my, mo], 0);
  webIdentityToken = makeWebIdentityToken({ expiresAt: Date.now() + 86_400_000 });
  await writeFile(join(t.dir, 'irsa-token'), webIdentityToken);
});
after(async () => {
  await sts.close();
  await t.cleanup();
});

describe('no secret leaks', { timeout: 60_000 }, () => {
  it('logs, status, health, metrics and error answers never contain a secret', async () => {
    const written: string[] = [];
    const recordingOps: FileOps = {
      ...nodeFileOps,
      open: async (path, flags, mode) => {
        const handle = await nodeFileOps.open(path, flags, mode);
        return {
          ...handle,
          writeFile: (data: string) => {
            written.push(data);
            return handle.writeFile(data);
          },
          chmod: (m: number) => handle.chmod(m),
          sync: () => handle.sync(),
          close: () => handle.close(),
        };
      },
    };
    sts.failNext('throttling', 1, { action: 'AssumeRoleWithWebIdentity' });
    sts.failNext('access-denied', 1, { action: 'AssumeRole' });
    sts.failNext('expired-token', 1, { action: 'AssumeRoleWithWebIdentity' });
    sts.failNext('invalid-identity-token', 1, { action: 'AssumeRoleWithWebIdentity' });
    sts.failNext('reset', 1, { action: 'AssumeRole' });
    sts.failNext('server-error', 1);

    const logs = new LogCapture();
    const observed: TestResponse[] = [];
    const sc = await startSidecar({ ...t.options(), logLevel: 'trace' }, t.env, {
      identity: {
        stsEndpoint: sts.url,
        webIdentityTokenFile: join(t.dir, 'irsa-token'),
        roleArn: POD_ROLE,
        requestTimeoutMs: 2_000,
      },
      listen: LOOPBACK_EPHEMERAL,
      handleSignals: false,
      logDestination: logs,
      fileOps: recordingOps,
      // Short jitter: the faults above are consecutive failures of one shared pod identity, whose
      // full-jitter backoff would otherwise take up to ~15 s; this test is about secrets, not timing.
      random: () => 0.1,
    });
    const poll = async () => {
      observed.push(await httpRequest({ port: sc.ports.api }, 'GET', '/v1/status'));
      observed.push(await httpRequest({ port: sc.ports.health }, 'GET', '/readyz'));
      observed.push(await httpRequest({ port: sc.ports.health }, 'GET', '/healthz'));
      observed.push(await httpRequest({ port: sc.ports.metrics }, 'GET', '/metrics'));
      observed.push(await httpRequest({ port: sc.ports.api }, 'GET', '/v1/token/pg'));
      observed.push(
        await httpRequest({ port: sc.ports.api }, 'GET', '/v1/credentials/mo', { Authorization: 'guess' }),
      );
      observed.push(
        await httpRequest({ port: sc.ports.api }, 'GET', '/v1/token/mo', { Authorization: sc.authToken }),
      );
      observed.push(
        await httpRequest({ port: sc.ports.api }, 'DELETE', '/v1/token/pg', { Authorization: sc.authToken }),
      );
    };
    try {
      await waitFor(
        async () => {
          await poll();
          return (await httpRequest({ port: sc.ports.health }, 'GET', '/readyz')).status === 200;
        },
        'ready after the failures',
        20_000,
      );
      // Several refresh cycles on 3 s credentials.
      const issuedAtReady = sts.calls.filter((c) => c.issuedAccessKeyId).length;
      await waitFor(
        async () => {
          await poll();
          return sts.calls.filter((c) => c.issuedAccessKeyId).length >= issuedAtReady + 4;
        },
        'refresh cycles',
        20_000,
      );
    } finally {
      await sc.stop('test');
    }

    const faults = new Set(sts.calls.map((c) => c.fault).filter(Boolean));
    assert.ok(faults.size >= 5, `the scenario hit the faults: ${[...faults].join(',')}`);
    const logText = logs.text;
    for (const errorClass of [
      'throttling',
      'access-denied',
      'invalid-web-identity-token',
      'expired-web-identity-token',
      'network',
    ]) {
      assert.ok(
        logText.includes(`"errorClass":"${errorClass}"`),
        `the scenario logged a ${errorClass} failure`,
      );
    }

    const secrets = new Set<string>([webIdentityToken, sc.authToken]);
    for (const call of sts.calls) {
      const c = call.issuedAccessKeyId ? sts.credentialFor(call.issuedAccessKeyId) : undefined;
      if (!c) continue;
      secrets.add(c.secretAccessKey);
      secrets.add(c.sessionToken);
      secrets.add(encodeURIComponent(c.secretAccessKey));
      secrets.add(encodeURIComponent(c.sessionToken));
    }
    for (const content of written) {
      secrets.add(content.trim());
      const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(content)?.[1];
      if (signature) secrets.add(signature);
    }
    assert.ok(
      written.some((w) => w.includes('X-Amz-Signature')),
      'RDS tokens were written',
    );
    assert.ok(secrets.size > 20, `${secrets.size} secrets collected`);

    const haystacks: [string, string][] = [
      ['logs', logText],
      ...observed.map((r, i): [string, string] => [
        `response ${i} (${r.status})`,
        JSON.stringify(r.headers) + r.body,
      ]),
    ];
    for (const [where, text] of haystacks) {
      for (const secret of secrets) {
        if (secret.length < 8) continue;
        assert.ok(!text.includes(secret), `${where} contains a secret (${secret.slice(0, 4)}…)`);
      }
    }
  });
});
