import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StsClock } from '../../sidecar/src/clock-skew.ts';
import { classifyError } from '../../sidecar/src/error-class.ts';
import { makeRdsToken, RDS_TOKEN_LIFETIME_MS } from '../../sidecar/src/rds-token.ts';
import { FAKE_EPOCH } from '../fakes/fake-clock.ts';
import { fakeRdsSigner } from '../fakes/fake-credentials.ts';
import { rdsTarget } from '../fakes/sidecar-config.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const target = rdsTarget({ name: 'db' });
const credentials = (expiresAt: number) => ({
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'secret/+=',
  sessionToken: 'session/+=',
  expiresAt,
});

/** Signs at `now` on our clock, with STS's clock `offsetMs` away (undefined: never measured). */
function sign(now: number, offsetMs: number | undefined, credentialsEnd = now + HOUR) {
  const clock = new StsClock(() => now);
  if (offsetMs !== undefined) clock.observe(new Date(now + offsetMs).toUTCString());
  return makeRdsToken(
    target,
    credentials(credentialsEnd),
    now,
    fakeRdsSigner([], () => now),
    clock,
  );
}

describe('makeRdsToken: the token is valid as long as AWS accepts it, and no longer', () => {
  it('synchronized clocks: 15 minutes from its X-Amz-Date', async () => {
    assert.equal((await sign(FAKE_EPOCH + 400, undefined)).expiresAt, FAKE_EPOCH + RDS_TOKEN_LIFETIME_MS);
  });

  it('never after the credentials that signed it', async () => {
    const v = await sign(FAKE_EPOCH, undefined, FAKE_EPOCH + 5 * MIN);
    assert.equal(v.expiresAt, FAKE_EPOCH + 5 * MIN);
  });

  it('a clock 10 min behind AWS: AWS sees the token 10 min old when signed, so 5 min are left', async () => {
    const v = await sign(FAKE_EPOCH, 10 * MIN);
    assert.equal(v.expiresAt, FAKE_EPOCH + 5 * MIN - 1_000);
  });

  it('a clock 16 min behind AWS: the token is born expired: a clock-skew error, no value', async () => {
    await assert.rejects(sign(FAKE_EPOCH, 16 * MIN), (e: unknown) => classifyError(e) === 'clock-skew');
  });

  it('a clock 2 min ahead: served, for no more than 15 minutes', async () => {
    assert.equal((await sign(FAKE_EPOCH, -2 * MIN)).expiresAt, FAKE_EPOCH + RDS_TOKEN_LIFETIME_MS);
  });

  it('a clock 10 min ahead: AWS would refuse a token dated in its future: a clock-skew error', async () => {
    await assert.rejects(sign(FAKE_EPOCH, -10 * MIN), /signed in the future/);
  });
});
