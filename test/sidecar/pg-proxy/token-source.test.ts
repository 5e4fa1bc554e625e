import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProxyError } from '../../../sidecar/src/pg-proxy/proxy-error.ts';
import {
  freshTokenSource,
  usableToken,
  type TokenHolder,
} from '../../../sidecar/src/pg-proxy/token-source.ts';
import type { TargetValue } from '../../../sidecar/src/publisher.ts';

const NOW = 1_900_000_000_000;
const rds = (token: string, expiresAt: number): TargetValue => ({ kind: 'rds', token, expiresAt });

describe('usableToken', () => {
  const cases: [string, TargetValue | undefined, string | undefined][] = [
    ['none held', undefined, undefined],
    ['valid well beyond the margin', rds('a', NOW + 600_000), 'a'],
    ['valid exactly for the margin', rds('a', NOW + 30_000), undefined],
    ['within the margin', rds('a', NOW + 10_000), undefined],
    ['expired', rds('a', NOW - 1), undefined],
    [
      'a Mongo value',
      {
        kind: 'mongo',
        expiresAt: NOW + 600_000,
        credentials: { accessKeyId: 'k', secretAccessKey: 's', expiresAt: NOW + 600_000 },
      } as unknown as TargetValue,
      undefined,
    ],
  ];
  for (const [name, value, want] of cases)
    it(name, () => assert.equal(usableToken(value, NOW, 30_000), want));
});

/** A refresher stand-in: holds a value; refreshNow() installs the next one (or none). */
class FakeHolder implements TokenHolder {
  refreshes = 0;
  constructor(
    public value: TargetValue | undefined,
    private readonly next: TargetValue | undefined,
  ) {}
  current() {
    return this.value;
  }
  refreshNow() {
    this.refreshes++;
    this.value = this.next;
    return Promise.resolve();
  }
  status() {
    return { lastErrorClass: 'access-denied' };
  }
}

describe('freshTokenSource', () => {
  it('answers with the held token while it is valid beyond the margin, without a refresh', async () => {
    const holder = new FakeHolder(rds('held', NOW + 300_000), rds('new', NOW + 900_000));
    assert.equal(await freshTokenSource(holder, () => NOW)(), 'held');
    assert.equal(holder.refreshes, 0);
  });

  it('has a token signed now when the held one is about to expire', async () => {
    const holder = new FakeHolder(rds('held', NOW + 5_000), rds('new', NOW + 900_000));
    assert.equal(await freshTokenSource(holder, () => NOW)(), 'new');
    assert.equal(holder.refreshes, 1);
  });

  it('fails as no-token, naming the refresh error, when none can be signed', async () => {
    const holder = new FakeHolder(undefined, undefined);
    await assert.rejects(
      freshTokenSource(holder, () => NOW)(),
      (e: unknown) =>
        e instanceof ProxyError &&
        e.errorClass === 'no-token' &&
        /last refresh error: access-denied/.test(e.message),
    );
  });
});
