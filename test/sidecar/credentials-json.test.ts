import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isoSeconds,
  renderCredentialsJson,
  toContainerCredentials,
} from '../../sidecar/src/credentials-json.ts';

describe('credentials.json', () => {
  it('has the container-credentials shape with an ISO 8601 UTC expiration in whole seconds', () => {
    const creds = {
      accessKeyId: 'ASIA1',
      secretAccessKey: 's/+=',
      sessionToken: 't/+=',
      expiresAt: Date.UTC(2030, 0, 2, 3, 4, 5, 678),
    };
    const parsed = JSON.parse(renderCredentialsJson(creds)) as unknown;
    assert.deepEqual(parsed, {
      AccessKeyId: 'ASIA1',
      SecretAccessKey: 's/+=',
      Token: 't/+=',
      Expiration: '2030-01-02T03:04:05Z',
    });
  });
  it('long-term keys: Token is an empty string (the SDKs require a string)', () => {
    assert.equal(
      toContainerCredentials({
        accessKeyId: 'A',
        secretAccessKey: 'S',
        sessionToken: undefined,
        expiresAt: 0,
      }).Token,
      '',
    );
  });
  it('isoSeconds', () => {
    assert.equal(isoSeconds(Date.UTC(2030, 5, 6, 7, 8, 9, 999)), '2030-06-06T07:08:09Z');
  });
});
