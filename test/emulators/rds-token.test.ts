import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Signer } from '@aws-sdk/rds-signer';

import { buildRdsAuthToken, verifyRdsAuthToken } from './rds-token.ts';
import type { RdsTokenCheck } from './rds-token.ts';
import { startStsEmulator } from './sts-emulator.ts';
import type { IssuedCredential, StsEmulator } from './sts-emulator.ts';

const HOST = 'invoicing.cluster-abc123.eu-west-1.rds.amazonaws.com';
const PORT = 5432;
const USER = 'invoicing_app';
const REGION = 'eu-west-1';

void describe('RDS IAM token verification', () => {
  let sts: StsEmulator;
  let creds: IssuedCredential;
  before(async () => {
    sts = await startStsEmulator();
    creds = sts.issueCredentials({
      roleArn: 'arn:aws:iam::111122223333:role/invoicing',
      lifetimeSeconds: 3600,
    });
  });
  after(() => sts.close());

  async function sdkToken(overrides: { sessionToken?: string; username?: string } = {}): Promise<string> {
    // Credentials as a plain object: the Signer's provider wrapper would otherwise refresh near-expiry credentials.
    const signer = new Signer({
      hostname: HOST,
      port: PORT,
      username: overrides.username ?? USER,
      region: REGION,
      credentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: overrides.sessionToken ?? creds.sessionToken,
      },
    });
    return signer.getAuthToken();
  }

  const check = (token: string, extra: Partial<RdsTokenCheck> = {}): ReturnType<typeof verifyRdsAuthToken> =>
    verifyRdsAuthToken({
      token,
      host: HOST,
      port: PORT,
      user: USER,
      region: REGION,
      lookup: sts.lookup,
      now: Date.now(),
      ...extra,
    });

  const reasonOf = (r: ReturnType<typeof verifyRdsAuthToken>): string => (r.ok ? 'ok' : r.reason);

  void it('accepts a token from the real @aws-sdk/rds-signer', async () => {
    const token = await sdkToken();
    assert.ok(
      token.startsWith(`${HOST}:${PORT}/?Action=connect&DBUser=${USER}&X-Amz-Algorithm=AWS4-HMAC-SHA256`),
    );
    const v = check(token);
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(v.accessKeyId, creds.accessKeyId);
    assert.equal(v.expiresAt.getTime() - v.signedAt.getTime(), 900_000);
  });

  void it('refuses tampering, the wrong user/host/port/region, expiry and a foreign session token', async () => {
    const token = await sdkToken();
    const sigAt = token.indexOf('X-Amz-Signature=') + 'X-Amz-Signature='.length;
    const flipped = `${token.slice(0, sigAt)}${token[sigAt] === '0' ? '1' : '0'}${token.slice(sigAt + 1)}`;
    const signedAt = check(token);
    assert.ok(signedAt.ok);
    const cases: Array<[string, string, Partial<RdsTokenCheck>, string]> = [
      ['tampered signature', flipped, {}, 'signature-mismatch'],
      ['wrong user', token, { user: 'admin' }, 'wrong-user'],
      ['wrong port', token, { port: 5433 }, 'wrong-port'],
      ['wrong host', token, { host: 'other.cluster-abc123.eu-west-1.rds.amazonaws.com' }, 'wrong-host'],
      ['wrong region', token, { region: 'us-east-1' }, 'wrong-region'],
      ['expired', token, { now: signedAt.expiresAt.getTime() + 1000 }, 'expired'],
      [
        'user swapped in the token',
        token.replace(`DBUser=${USER}`, 'DBUser=admin'),
        { user: 'admin' },
        'signature-mismatch',
      ],
      [
        'port swapped in the token',
        token.replace(`:${PORT}/`, ':5433/'),
        { port: 5433 },
        'signature-mismatch',
      ],
      ['not a token', 'password123', {}, 'malformed-token'],
    ];
    for (const [label, t, extra, reason] of cases) assert.equal(reasonOf(check(t, extra)), reason, label);

    const foreign = await sdkToken({ sessionToken: `${creds.sessionToken.slice(0, -4)}AAAA` });
    assert.equal(reasonOf(check(foreign)), 'token-mismatch');
    const noToken = await sdkToken({ sessionToken: '' });
    assert.equal(reasonOf(check(noToken)), 'missing-security-token');
  });

  void it("refuses a token used after the signing credential's own expiration", () => {
    const shortLived = sts.issueCredentials({ lifetimeSeconds: 300 });
    const date = new Date();
    const token = buildRdsAuthToken({
      host: HOST,
      port: PORT,
      user: USER,
      region: REGION,
      credentials: shortLived,
      date,
    });
    assert.equal(reasonOf(check(token, { now: date.getTime() + 200_000 })), 'ok');
    assert.equal(
      reasonOf(check(token, { now: shortLived.expiration.getTime() + 1000 })),
      'credential-expired',
    );
  });

  void it('buildRdsAuthToken yields the same token shape as the SDK Signer', async () => {
    const ours = buildRdsAuthToken({
      host: HOST,
      port: PORT,
      user: USER,
      region: REGION,
      credentials: creds,
      date: new Date(),
    });
    const sdk = await sdkToken();
    const names = (t: string) => [...new URLSearchParams(t.split('?')[1]).keys()];
    assert.deepEqual(names(ours), names(sdk));
    assert.equal(reasonOf(check(ours)), 'ok');
  });
});
