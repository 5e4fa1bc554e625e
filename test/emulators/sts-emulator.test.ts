import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { fromTokenFile, fromWebToken } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from '@aws-sdk/types';

import { presignPath, signRequest } from './sigv4.ts';
import { startStsEmulator } from './sts-emulator.ts';
import type { StsEmulator, StsEmulatorOptions, StsFaultKind } from './sts-emulator.ts';
import { makeWebIdentityToken } from './web-identity-token.ts';

const REGION = 'eu-west-1';
const APP_ROLE = 'arn:aws:iam::111122223333:role/app';
const DB_ROLE = 'arn:aws:iam::444455556666:role/path/db-access';

async function withSts<T>(options: StsEmulatorOptions, fn: (sts: StsEmulator) => Promise<T>): Promise<T> {
  const sts = await startStsEmulator(options);
  try {
    return await fn(sts);
  } finally {
    await sts.close();
  }
}

function client(
  sts: StsEmulator,
  credentials?: AwsCredentialIdentity,
  extra: { requestTimeout?: number } = {},
): STSClient {
  return new STSClient({
    endpoint: sts.url,
    region: REGION,
    maxAttempts: 1,
    // Unsigned-only clients still need a credential provider that never reaches for IMDS.
    credentials: credentials ?? { accessKeyId: 'unused', secretAccessKey: 'unused' },
    ...(extra.requestTimeout !== undefined
      ? { requestHandler: { requestTimeout: extra.requestTimeout, throwOnRequestTimeout: true } }
      : {}),
  });
}

async function webIdentity(
  sts: StsEmulator,
  token = 'eyJ-token',
  roleArn = APP_ROLE,
): Promise<AwsCredentialIdentity> {
  return fromWebToken({
    roleArn,
    webIdentityToken: token,
    roleSessionName: 'pod-session',
    clientConfig: { endpoint: sts.url, region: REGION },
  })();
}

async function errorOf(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected the call to fail');
}

void describe('STS emulator with the real SDK v3', () => {
  void it('serves fromWebToken, then a signed AssumeRole and GetCallerIdentity', () =>
    withSts({}, async (sts) => {
      const base = await webIdentity(sts);
      assert.match(base.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
      assert.equal(base.accountId, '111122223333');
      const issued = sts.credentialFor(base.accessKeyId);
      assert.ok(issued);
      assert.equal(issued.secretAccessKey, base.secretAccessKey);
      assert.equal(issued.sessionToken, base.sessionToken);
      assert.equal(issued.expiration.getTime(), base.expiration?.getTime());
      assert.equal(issued.arn, 'arn:aws:sts::111122223333:assumed-role/app/pod-session');

      const c = client(sts, base);
      const assumed = await c.send(
        new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'token-broker', DurationSeconds: 900 }),
      );
      assert.equal(
        assumed.AssumedRoleUser?.Arn,
        'arn:aws:sts::444455556666:assumed-role/db-access/token-broker',
      );
      const chained = sts.credentialFor(assumed.Credentials!.AccessKeyId!);
      assert.equal(chained?.chained, true);
      assert.equal(chained?.parentAccessKeyId, base.accessKeyId);
      assert.ok(chained);
      assert.equal(chained.expiration.getTime() - chained.issuedAt.getTime(), 900_000);

      const c2 = client(sts, {
        accessKeyId: assumed.Credentials!.AccessKeyId!,
        secretAccessKey: assumed.Credentials!.SecretAccessKey!,
        sessionToken: assumed.Credentials!.SessionToken!,
      });
      const who = await c2.send(new GetCallerIdentityCommand({}));
      assert.equal(who.Arn, 'arn:aws:sts::444455556666:assumed-role/db-access/token-broker');
      assert.equal(who.Account, '444455556666');
      assert.match(who.UserId ?? '', /^AROA[A-Z2-7]{17}:token-broker$/);

      assert.deepEqual(
        sts.calls.map((r) => [r.action, r.outcome, r.signingRegion]),
        [
          ['AssumeRoleWithWebIdentity', 'ok', undefined],
          ['AssumeRole', 'ok', REGION],
          ['GetCallerIdentity', 'ok', REGION],
        ],
      );
      assert.equal(sts.calls[1]?.accessKeyId, base.accessKeyId);
      assert.equal(sts.calls[1]?.issuedAccessKeyId, assumed.Credentials!.AccessKeyId);
      c.destroy();
      c2.destroy();
    }));

  void it('serves fromTokenFile, reading the projected token file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sts-emulator-'));
    try {
      const tokenFile = join(dir, 'token');
      const token = makeWebIdentityToken({ subject: 'system:serviceaccount:shop:invoicing' });
      await writeFile(tokenFile, token);
      await withSts({ acceptedWebIdentityTokens: [token] }, async (sts) => {
        const creds = await fromTokenFile({
          roleArn: APP_ROLE,
          webIdentityTokenFile: tokenFile,
          roleSessionName: 'from-file',
          clientConfig: { endpoint: sts.url, region: REGION },
        })();
        assert.equal(sts.credentialFor(creds.accessKeyId)?.sessionName, 'from-file');
        assert.equal(sts.calls.length, 1);
        assert.equal(sts.calls[0]?.webIdentityToken, token);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** The text with its last character changed (a fixed replacement would be a no-op 1 time in 64). */
  const tamperLast = (text: string): string => `${text.slice(0, -1)}${text.endsWith('X') ? 'Y' : 'X'}`;

  void it('refuses a tampered secret, a tampered session token and an unknown key', () =>
    withSts({}, async (sts) => {
      const base = await webIdentity(sts);
      const cases: Array<[AwsCredentialIdentity, string]> = [
        [{ ...base, secretAccessKey: tamperLast(base.secretAccessKey) }, 'SignatureDoesNotMatch'],
        [{ ...base, sessionToken: `${base.sessionToken}x` }, 'InvalidClientTokenId'],
        [{ ...base, accessKeyId: 'ASIAAAAAAAAAAAAAAAAA' }, 'InvalidClientTokenId'],
      ];
      for (const [creds, name] of cases) {
        const c = client(sts, creds);
        const e = await errorOf(c.send(new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'x1' })));
        assert.equal(e.name, name);
        assert.equal(e.$metadata?.httpStatusCode, 403);
        c.destroy();
      }
      assert.equal(sts.calls.filter((r) => r.issuedAccessKeyId !== undefined).length, 1);
    }));

  void it('refuses role chaining beyond one hour like AWS, and allows exactly 3600', () =>
    withSts({ roles: { [APP_ROLE]: {}, [DB_ROLE]: { maxSessionDurationSeconds: 43200 } } }, async (sts) => {
      const c = client(sts, await webIdentity(sts));
      const e = await errorOf(
        c.send(new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'chain', DurationSeconds: 3601 })),
      );
      assert.equal(e.name, 'ValidationError');
      assert.equal(
        e.message,
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      );
      const ok = await c.send(
        new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'chain', DurationSeconds: 3600 }),
      );
      assert.ok(ok.Credentials?.AccessKeyId);
      c.destroy();
    }));

  void it('enforces RoleSessionName, DurationSeconds bounds, ExternalId, trust and the role list', () =>
    withSts(
      {
        roles: {
          [APP_ROLE]: {},
          [DB_ROLE]: { externalId: 'ext-42', trust: [APP_ROLE] },
          'arn:aws:iam::111122223333:role/locked': { trust: ['arn:aws:iam::999999999999:root'] },
        },
      },
      async (sts) => {
        const c = client(sts, await webIdentity(sts));
        const cases: Array<[ConstructorParameters<typeof AssumeRoleCommand>[0], string, RegExp]> = [
          [
            { RoleArn: DB_ROLE, RoleSessionName: 'has space', ExternalId: 'ext-42' },
            'ValidationError',
            /roleSessionName.*pattern/,
          ],
          [
            { RoleArn: DB_ROLE, RoleSessionName: 'x', ExternalId: 'ext-42' },
            'ValidationError',
            /greater than or equal to 2/,
          ],
          [
            { RoleArn: DB_ROLE, RoleSessionName: 'a'.repeat(65), ExternalId: 'ext-42' },
            'ValidationError',
            /less than or equal to 64/,
          ],
          [
            { RoleArn: DB_ROLE, RoleSessionName: 'ok', ExternalId: 'ext-42', DurationSeconds: 899 },
            'ValidationError',
            /900/,
          ],
          [
            { RoleArn: DB_ROLE, RoleSessionName: 'ok' },
            'AccessDenied',
            /not authorized to perform: sts:AssumeRole/,
          ],
          [
            { RoleArn: DB_ROLE, RoleSessionName: 'ok', ExternalId: 'ext-43' },
            'AccessDenied',
            /sts:AssumeRole/,
          ],
          [
            { RoleArn: 'arn:aws:iam::111122223333:role/locked', RoleSessionName: 'ok' },
            'AccessDenied',
            /sts:AssumeRole/,
          ],
          [
            { RoleArn: 'arn:aws:iam::111122223333:role/unknown', RoleSessionName: 'ok' },
            'AccessDenied',
            /sts:AssumeRole/,
          ],
          [
            { RoleArn: 'arn:aws:iam::111122223333:user/bob', RoleSessionName: 'ok' },
            'ValidationError',
            /is invalid/,
          ],
        ];
        for (const [input, name, message] of cases) {
          const e = await errorOf(c.send(new AssumeRoleCommand(input)));
          assert.equal(e.name, name, JSON.stringify(input));
          assert.match(e.message, message);
        }
        const ok = await c.send(
          new AssumeRoleCommand({
            RoleArn: DB_ROLE,
            RoleSessionName: 'a=b,c.d@e-f+g_h',
            ExternalId: 'ext-42',
          }),
        );
        assert.equal(
          ok.AssumedRoleUser?.Arn,
          'arn:aws:sts::444455556666:assumed-role/db-access/a=b,c.d@e-f+g_h',
        );
        c.destroy();
      },
    ));

  void it('checks web identity tokens: allow-list, expiry (entry or JWT exp) and role', async () => {
    let now = Date.UTC(2025, 5, 1);
    const jwt = makeWebIdentityToken({ expiresAt: now + 600_000 });
    await withSts(
      {
        now: () => now,
        acceptedWebIdentityTokens: ['good-token', { token: 'short-lived', expiresAt: now + 60_000 }, jwt],
        roles: { [APP_ROLE]: {}, [DB_ROLE]: { allowWebIdentity: false } },
      },
      async (sts) => {
        const c = client(sts);
        const send = (token: string, roleArn = APP_ROLE) =>
          c.send(
            new AssumeRoleWithWebIdentityCommand({
              RoleArn: roleArn,
              RoleSessionName: 's1',
              WebIdentityToken: token,
            }),
          );
        assert.equal((await errorOf(send('not-listed'))).name, 'InvalidIdentityTokenException');
        assert.equal((await errorOf(send('good-token', DB_ROLE))).name, 'AccessDenied');
        assert.equal(
          (await errorOf(send('good-token', 'arn:aws:iam::111122223333:role/nope'))).name,
          'AccessDenied',
        );
        const ok = await send(jwt);
        assert.equal(ok.SubjectFromWebIdentityToken, 'system:serviceaccount:default:default');
        assert.equal(ok.Audience, 'sts.amazonaws.com');
        now += 61_000;
        assert.equal((await errorOf(send('short-lived'))).name, 'ExpiredTokenException');
        now += 600_000;
        assert.equal((await errorOf(send(jwt))).name, 'ExpiredTokenException');
        sts.revokeWebIdentityToken('good-token');
        assert.equal((await errorOf(send('good-token'))).name, 'InvalidIdentityTokenException');
        sts.acceptWebIdentityToken('rotated-token');
        assert.ok((await send('rotated-token')).Credentials);
        c.destroy();
      },
    );
  });

  void it('issues credentials that expire at now + lifetime, with the lifetime overridable', async () => {
    let now = Date.UTC(2025, 5, 1, 10, 0, 0);
    await withSts({ now: () => now }, async (sts) => {
      const first = await webIdentity(sts);
      assert.equal(first.expiration?.toISOString(), '2025-06-01T11:00:00.000Z');
      sts.setCredentialLifetimeSeconds(120);
      const second = await webIdentity(sts);
      assert.equal(second.expiration?.toISOString(), '2025-06-01T10:02:00.000Z');
      assert.equal(
        sts.credentialFor(second.accessKeyId)?.expiration.getTime(),
        Date.UTC(2025, 5, 1, 10, 2, 0),
      );
      now += 1000;
      const third = sts.issueCredentials({ lifetimeSeconds: 60 });
      assert.equal(third.expiration.toISOString(), '2025-06-01T10:01:01.000Z');
    });
  });

  void it('refuses signed calls once the credential has expired on the emulator clock', async () => {
    let offset = 0;
    await withSts({ now: () => Date.now() + offset, maxClockSkewSeconds: Infinity }, async (sts) => {
      const creds = sts.issueCredentials({ lifetimeSeconds: 900 });
      const c = client(sts, {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
      });
      assert.ok((await c.send(new GetCallerIdentityCommand({}))).Arn);
      offset = 901_000;
      const e = await errorOf(c.send(new GetCallerIdentityCommand({})));
      assert.equal(e.name, 'ExpiredToken');
      assert.equal(e.$metadata?.httpStatusCode, 403);
      c.destroy();
    });
  });

  void it('sends its own clock in Date, so the SDK corrects clock skew as it does against AWS', () =>
    withSts({ now: () => Date.now() + 2 * 3600_000 }, async (sts) => {
      const creds = sts.issueCredentials({});
      const c = new STSClient({
        endpoint: sts.url,
        region: REGION,
        credentials: {
          accessKeyId: creds.accessKeyId,
          secretAccessKey: creds.secretAccessKey,
          sessionToken: creds.sessionToken,
        },
      });
      const who = await c.send(new GetCallerIdentityCommand({}));
      assert.equal(who.Arn, creds.arn);
      assert.deepEqual(
        sts.calls.map((r) => r.outcome),
        ['SignatureDoesNotMatch', 'ok'],
      );
      c.destroy();
    }));
});

void describe('STS emulator fault injection', () => {
  const table: Array<[StsFaultKind, string, number]> = [
    ['throttling', 'Throttling', 400],
    ['access-denied', 'AccessDenied', 403],
    ['expired-token', 'ExpiredTokenException', 400],
    ['invalid-identity-token', 'InvalidIdentityTokenException', 400],
    ['idp-communication-error', 'IDPCommunicationErrorException', 400],
    ['server-error', 'InternalFailure', 500],
  ];
  /** An unsigned call that succeeds unless a fault is pending (no tokens configured: any is accepted). */
  const appWebIdentityCall = () =>
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: APP_ROLE,
      RoleSessionName: 's1',
      WebIdentityToken: 'tok-1',
    });
  let sts: StsEmulator;
  before(async () => {
    sts = await startStsEmulator({ slowDelayMs: 5_000 });
  });
  after(() => sts.close());

  for (const [kind, name, status] of table) {
    void it(`${kind} surfaces in the SDK as ${name} (${status})`, async () => {
      const c = client(sts);
      sts.failNext(kind);
      const e = await errorOf(c.send(appWebIdentityCall()));
      assert.equal(e.name, name);
      assert.equal(e.$metadata?.httpStatusCode, status);
      assert.equal(sts.calls.at(-1)?.fault, kind);
      // The fault is consumed: the next call succeeds.
      assert.ok((await c.send(appWebIdentityCall())).Credentials);
      c.destroy();
    });
  }

  void it('fromWebToken surfaces ExpiredTokenException (the SDK does not swallow it)', async () => {
    sts.failNext('expired-token');
    const e = await errorOf(webIdentity(sts));
    assert.equal(e.name, 'ExpiredTokenException');
  });

  void it('faults can target one action and be counted', async () => {
    const c = client(sts, await webIdentity(sts));
    sts.failNext('throttling', 2, { action: 'AssumeRole' });
    assert.ok((await c.send(new GetCallerIdentityCommand({}))).Arn);
    assert.equal(
      (await errorOf(c.send(new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'x1' })))).name,
      'Throttling',
    );
    assert.equal(
      (await errorOf(c.send(new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'x1' })))).name,
      'Throttling',
    );
    assert.ok((await c.send(new AssumeRoleCommand({ RoleArn: DB_ROLE, RoleSessionName: 'x1' }))).Credentials);
    c.destroy();
  });

  void it('the SDK retries a throttled call on its own when allowed more attempts', async () => {
    const c = new STSClient({
      endpoint: sts.url,
      region: REGION,
      maxAttempts: 2,
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
    });
    const before = sts.calls.length;
    sts.failNext('throttling');
    const out = await c.send(appWebIdentityCall());
    assert.equal(out.$metadata.attempts, 2);
    assert.deepEqual(
      sts.calls.slice(before).map((r) => r.outcome),
      ['Throttling', 'ok'],
    );
    c.destroy();
  });

  void it('reset drops the connection', async () => {
    const c = client(sts);
    sts.failNext('reset');
    const e = await errorOf(c.send(appWebIdentityCall()));
    // The SDK's node handler reports a dropped socket as a TimeoutError carrying code ECONNRESET.
    assert.equal((e as { code?: string }).code, 'ECONNRESET');
    assert.equal(sts.calls.at(-1)?.outcome, 'reset');
    c.destroy();
  });

  void it('garbage answers 200 with a body the SDK cannot parse', async () => {
    const c = client(sts);
    sts.failNext('garbage');
    const e = await errorOf(c.send(appWebIdentityCall()));
    assert.equal(e.$metadata?.httpStatusCode, 200);
    assert.equal(sts.calls.at(-1)?.outcome, 'garbage');
    assert.ok((await c.send(appWebIdentityCall())).Credentials, 'the fault is consumed');
    c.destroy();
  });

  void it('slow outlasts a client request timeout', async () => {
    const c = client(sts, undefined, { requestTimeout: 100 });
    sts.failNext('slow');
    const e = await errorOf(c.send(appWebIdentityCall()));
    assert.equal(e.name, 'TimeoutError');
    assert.equal(sts.calls.at(-1)?.fault, 'slow');
    c.destroy();
  });
});

void describe('STS emulator HTTP surface', () => {
  void it('answers a presigned GET GetCallerIdentity and rejects non-awsQuery protocols', () =>
    withSts({}, async (sts) => {
      const creds = sts.issueCredentials({});
      const host = new URL(sts.url).host;
      const path = presignPath(
        {
          host,
          params: [
            ['Action', 'GetCallerIdentity'],
            ['Version', '2011-06-15'],
          ],
        },
        creds,
        { region: REGION, service: 'sts', date: new Date(), expiresInSeconds: 60 },
      );
      const res = await fetch(`${sts.url}${path}`);
      const xml = await res.text();
      assert.equal(res.status, 200);
      assert.match(
        xml,
        /^<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/,
      );
      assert.ok(xml.includes(`<Arn>${creds.arn}</Arn>`));

      const json = await fetch(`${sts.url}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'AWSSecurityTokenServiceV20110615.GetCallerIdentity',
        },
        body: '{}',
      });
      assert.equal(json.status, 400);
      assert.match(await json.text(), /<Code>UnsupportedProtocol<\/Code>/);

      const unsigned = await fetch(`${sts.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'Action=GetCallerIdentity&Version=2011-06-15',
      });
      assert.equal(unsigned.status, 403);
      const body = await unsigned.text();
      assert.match(
        body,
        /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/,
      );
      assert.match(body, /<RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>/);
      assert.equal(unsigned.headers.get('content-type'), 'text/xml');
    }));
});

void describe('verifyGetCallerIdentity (MONGODB-AWS forwarding)', () => {
  const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
  let sts: StsEmulator;
  before(async () => {
    sts = await startStsEmulator();
  });
  after(() => sts.close());

  function mongoStyleHeaders(
    host: string,
    region: string,
    creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  ) {
    return signRequest(
      {
        method: 'POST',
        path: '/',
        headers: {
          host,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': BODY.length,
          'x-mongodb-server-nonce': Buffer.alloc(64, 7).toString('base64'),
          'x-mongodb-gs2-cb-flag': 'n',
        },
        body: BODY,
      },
      creds,
      { region, service: 'sts', date: new Date() },
    );
  }

  void it('accepts a request signed for the global and for a regional endpoint', () => {
    const creds = sts.issueCredentials({ roleArn: DB_ROLE, sessionName: 'mongo' });
    for (const [host, region] of [
      ['sts.amazonaws.com', 'us-east-1'],
      ['sts.eu-west-1.amazonaws.com', 'eu-west-1'],
    ] as const) {
      const v = sts.verifyGetCallerIdentity({
        host,
        headers: mongoStyleHeaders(host, region, creds),
        body: BODY,
        requiredSignedHeaders: ['x-mongodb-server-nonce', 'x-mongodb-gs2-cb-flag'],
      });
      assert.ok(v.ok, JSON.stringify(v));
      assert.equal(v.arn, 'arn:aws:sts::444455556666:assumed-role/db-access/mongo');
      assert.equal(v.account, '444455556666');
    }
  });

  void it('names why a forwarded request is refused', () => {
    const creds = sts.issueCredentials({});
    const headers = mongoStyleHeaders('sts.amazonaws.com', 'us-east-1', creds);
    const reason = (r: ReturnType<StsEmulator['verifyGetCallerIdentity']>) => (r.ok ? 'ok' : r.reason);
    assert.equal(
      reason(sts.verifyGetCallerIdentity({ host: 'evil.example.com', headers, body: BODY })),
      'not-sts-host',
    );
    assert.equal(
      reason(
        sts.verifyGetCallerIdentity({
          host: 'sts.amazonaws.com',
          headers,
          body: 'Action=AssumeRole&Version=2011-06-15',
        }),
      ),
      'not-get-caller-identity',
    );
    const regional = mongoStyleHeaders('sts.eu-west-1.amazonaws.com', 'us-east-1', creds);
    assert.equal(
      reason(
        sts.verifyGetCallerIdentity({ host: 'sts.eu-west-1.amazonaws.com', headers: regional, body: BODY }),
      ),
      'wrong-scope',
    );
    const wrongSecret = mongoStyleHeaders('sts.amazonaws.com', 'us-east-1', {
      ...creds,
      secretAccessKey: 'x'.repeat(40),
    });
    assert.equal(
      reason(sts.verifyGetCallerIdentity({ host: 'sts.amazonaws.com', headers: wrongSecret, body: BODY })),
      'signature-mismatch',
    );
    const noNonce = signRequest(
      { method: 'POST', path: '/', headers: { host: 'sts.amazonaws.com' }, body: BODY },
      creds,
      {
        region: 'us-east-1',
        service: 'sts',
        date: new Date(),
      },
    );
    assert.equal(
      reason(
        sts.verifyGetCallerIdentity({
          host: 'sts.amazonaws.com',
          headers: noNonce,
          body: BODY,
          requiredSignedHeaders: ['x-mongodb-server-nonce'],
        }),
      ),
      'unsigned-required-header',
    );
    assert.deepEqual(
      sts.forwardedCalls.slice(-5).map((r) => r.outcome),
      [
        'not-sts-host',
        'not-get-caller-identity',
        'wrong-scope',
        'signature-mismatch',
        'unsigned-required-header',
      ],
    );
  });

  void it("verifies a request signed by the mongodb driver's own aws4Sign", async () => {
    // Deep import of the driver's signer (test-only): proves the verifier agrees with what MONGODB-AWS sends.
    const require = createRequire(import.meta.url);
    const { aws4Sign } = require('mongodb/lib/cmap/auth/aws4.js') as {
      aws4Sign: (
        o: Record<string, unknown>,
        c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
      ) => Promise<{ Authorization: string; 'X-Amz-Date': string }>;
    };
    const creds = sts.issueCredentials({ roleArn: DB_ROLE, sessionName: 'driver' });
    const nonce = Buffer.alloc(64, 3).toString('base64');
    for (const host of ['sts.amazonaws.com', 'sts.eu-west-1.amazonaws.com']) {
      const region = host === 'sts.amazonaws.com' ? 'us-east-1' : 'eu-west-1';
      const signed = await aws4Sign(
        {
          method: 'POST',
          host,
          region,
          service: 'sts',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': BODY.length,
            'X-MongoDB-Server-Nonce': nonce,
            'X-MongoDB-GS2-CB-Flag': 'n',
          },
          path: '/',
          body: BODY,
          date: new Date(),
        },
        creds,
      );
      // What a MongoDB server rebuilds from the client's {a, d, t} before forwarding to STS:
      const v = sts.verifyGetCallerIdentity({
        host,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': String(BODY.length),
          'X-MongoDB-Server-Nonce': nonce,
          'X-MongoDB-GS2-CB-Flag': 'n',
          'X-Amz-Date': signed['X-Amz-Date'],
          'X-Amz-Security-Token': creds.sessionToken,
          Authorization: signed.Authorization,
        },
        body: BODY,
        requiredSignedHeaders: ['x-mongodb-server-nonce', 'x-mongodb-gs2-cb-flag'],
      });
      assert.ok(v.ok, JSON.stringify(v));
      assert.equal(v.arn, 'arn:aws:sts::444455556666:assumed-role/db-access/driver');
    }
  });
});
