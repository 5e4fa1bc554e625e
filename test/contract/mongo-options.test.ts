import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  isAcceptedMongoOption,
  isMongoAuthOption,
  MONGO_PASS_THROUGH_OPTIONS,
  passThroughMongoOption,
} from '../../contract/mongo-options.ts';

describe('Mongo option allow-list', () => {
  it('matches option names case-insensitively, as drivers do', () => {
    assert.equal(passThroughMongoOption('RETRYWRITES'), 'retryWrites');
    assert.equal(passThroughMongoOption('appname'), 'appName');
    assert.equal(passThroughMongoOption('wtimeoutms'), 'wTimeoutMS');
  });

  it('never passes an option that can carry a secret or credentials', () => {
    for (const key of [
      'password',
      'proxyPassword',
      'proxyUsername',
      'tlsCertificateKeyFilePassword',
      'sslPassword',
      'authMechanismProperties',
      'sessionToken',
      'AWS_SESSION_TOKEN',
      'passphrase',
      'key',
      'pfx',
      'auth',
    ]) {
      assert.equal(passThroughMongoOption(key), undefined, key);
    }
    for (const option of MONGO_PASS_THROUGH_OPTIONS) {
      assert.doesNotMatch(option, /pass|secret|token|credential|user/i);
    }
  });

  it('lets a config carry authSource and authMechanism (ignored), not authMechanismProperties', () => {
    assert.ok(isAcceptedMongoOption('authSource') && isAcceptedMongoOption('AUTHMECHANISM'));
    assert.ok(!isAcceptedMongoOption('authMechanismProperties'));
    assert.ok(isMongoAuthOption('authmechanismproperties'));
    assert.ok(!isMongoAuthOption('tls'));
  });

  it('is the list the README documents', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const paragraph = readme.slice(readme.indexOf('Mongo targets pass through only'));
    for (const option of MONGO_PASS_THROUGH_OPTIONS) assert.ok(paragraph.includes(`\`${option}\``), option);
  });
});
