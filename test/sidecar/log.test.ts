import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeError, scrubText } from '../../sidecar/src/log.ts';
import { renderMongoUri } from '../../sidecar/src/mongo-uri.ts';
import { sdkRdsSigner } from '../../sidecar/src/rds-token.ts';
import { mongoTarget } from '../fakes/sidecar-config.ts';

const KEY_ID = 'ASIAQWERTYUIOPASDFGH';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx+ab/cdEXAMPLEtokenFwIgUvM9hV3Yq==';
const credentials = { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: SESSION, expiresAt: 0 };

async function presignedUrl(): Promise<string> {
  return sdkRdsSigner({
    hostname: 'inv.cluster-x.eu-west-1.rds.amazonaws.com',
    port: 5432,
    username: 'invoicing_app',
    region: 'eu-west-1',
    credentials,
  });
}

/** Every secret, and the forms it takes inside URLs. */
function secretsOf(token: string): string[] {
  const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(token)?.[1];
  assert.ok(signature);
  return [
    KEY_ID,
    SECRET,
    encodeURIComponent(SECRET),
    SESSION,
    encodeURIComponent(SESSION),
    signature,
    token,
    // Fragments long enough to be useful to someone reading logs.
    SECRET.slice(0, 16),
    SESSION.slice(20, 40),
  ];
}

function assertNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `"${s.slice(0, 12)}..." left in: ${text}`);
}

describe('scrubText', () => {
  it('removes a presigned RDS URL, a key id with its secret, and a session token', async () => {
    const token = await presignedUrl();
    const secrets = secretsOf(token);
    const texts = [
      `PAM authentication failed for token ${token}`,
      `The security token included in the request is invalid: key ${KEY_ID} secret ${SECRET}`,
      `session token ${SESSION} has expired`,
      `{"AccessKeyId":"${KEY_ID}","SecretAccessKey":"${SECRET}","Token":"${SESSION}"}`,
    ];
    for (const text of texts) {
      const scrubbed = scrubText(text);
      assertNoSecret(scrubbed, secrets);
      assert.match(scrubbed, /\[redacted/);
    }
  });

  it('removes credentials from a Mongo URI, where they are percent-encoded', () => {
    const docs = mongoTarget({ hosts: ['c0.example.mongodb.net'] });
    const text = `MongoServerError: bad auth for ${renderMongoUri(docs, credentials)}`;
    assertNoSecret(scrubText(text), [KEY_ID, encodeURIComponent(SECRET), encodeURIComponent(SESSION)]);
    assert.match(scrubText(text), /c0\.example\.mongodb\.net/, 'the host stays');
  });

  it('keeps what is not secret: host names, file paths, error codes', () => {
    const text =
      'could not write /var/run/token-broker/invoicing-db.credentials.json (EACCES): connect to inv.cluster-x.eu-west-1.rds.amazonaws.com:5432';
    assert.equal(scrubText(text), text);
  });

  it('keeps the caller ARN of an AccessDenied message, which names the trust policy to fix', () => {
    const text =
      'User: arn:aws:sts::111122223333:assumed-role/invoicing-pod-role/tb-billing-invoicing-7c9f8d6b5-x2x7q ' +
      'is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/MongoAccessRole';
    assert.equal(scrubText(text), text);
    // A secret right after the ARN is still removed.
    assertNoSecret(scrubText(`${text} with ${SECRET}`), [SECRET]);
  });

  it('cuts very long messages', () => {
    assert.ok(scrubText('word '.repeat(1000)).length <= 403);
  });
});

describe('describeError', () => {
  it('scrubs the message and keeps only name and code', async () => {
    const token = await presignedUrl();
    const error = Object.assign(
      new Error(`login failed with ${token}; key ${KEY_ID} secret ${SECRET} session ${SESSION}`),
      { code: 'EAUTH', credentials },
    );
    error.name = 'AuthError';
    const described = describeError(error);
    assert.deepEqual(Object.keys(described).sort(), ['code', 'message', 'name']);
    assert.equal(described.name, 'AuthError');
    assert.equal(described.code, 'EAUTH');
    assertNoSecret(JSON.stringify(described), secretsOf(token));
    assert.match(described.message, /^login failed with /);
  });

  it('scrubs thrown non-errors too', () => {
    const described = describeError(`secret ${SECRET} session ${SESSION}`);
    assert.equal(described.name, 'string');
    assertNoSecret(described.message, [SECRET, SESSION]);
  });
});
