import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';

import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

import {
  buildCanonicalRequest,
  buildStringToSign,
  computeSignature,
  deriveSigningKey,
  presignPath,
  sha256Hex,
  signRequest,
  verifySignedRequest,
} from './sigv4.ts';
import type {
  CredentialLookup,
  HeaderBag,
  KnownCredential,
  SignableRequest,
  SigningCredentials,
} from './sigv4.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const CREDS: SigningCredentials = {
  accessKeyId: 'ASIAEXAMPLEKEY000001',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjE+token/with=specials',
};
const KNOWN: KnownCredential = {
  secretAccessKey: CREDS.secretAccessKey,
  sessionToken: CREDS.sessionToken,
  expiration: NOW + 3600_000,
};
const lookup: CredentialLookup = (id) => (id === CREDS.accessKeyId ? KNOWN : undefined);
const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

function sdkSigner(creds: SigningCredentials = CREDS, service = 'sts'): SignatureV4 {
  return new SignatureV4({ credentials: creds, region: 'eu-west-1', service, sha256: Sha256 });
}

/** Header-signs the way @aws-sdk/client-sts does (POST /, form body) with the SDK's own signer. */
async function sdkSignedPost(): Promise<SignableRequest & { headers: Record<string, string>; body: string }> {
  const signed = await sdkSigner().sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname: 'sts.eu-west-1.amazonaws.com',
      path: '/',
      query: {},
      headers: {
        host: 'sts.eu-west-1.amazonaws.com',
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(BODY.length),
        'amz-sdk-invocation-id': '7f1c7f50-0000-4000-8000-000000000000',
        'x-amz-user-agent': 'aws-sdk-js/3 ua/2.1',
      },
      body: BODY,
    },
    { signingDate: new Date(NOW) },
  );
  return { method: 'POST', path: '/', headers: signed.headers, body: BODY };
}

function mutate(s: string, i: number): string {
  // 'Z' is neither hex nor a case variant of a hex digit, so %XX escapes cannot decode to the same byte.
  return `${s.slice(0, i)}${s[i] === 'Z' ? 'Q' : 'Z'}${s.slice(i + 1)}`;
}

const verify = (req: SignableRequest, now = NOW) =>
  verifySignedRequest(req, { lookup, now, expectedService: 'sts' });

void describe('sigv4 primitives', () => {
  void it('matches the signing key and signature of the AWS documentation example (IAM ListUsers)', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    assert.equal(
      deriveSigningKey(secret, '20150830', 'us-east-1', 'iam').toString('hex'),
      'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9',
    );
    const canonical = [
      'GET',
      '/',
      'Action=ListUsers&Version=2010-05-08',
      'content-type:application/x-www-form-urlencoded; charset=utf-8',
      'host:iam.amazonaws.com',
      'x-amz-date:20150830T123600Z',
      '',
      'content-type;host;x-amz-date',
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ].join('\n');
    assert.equal(
      computeSignature(secret, '20150830T123600Z', 'us-east-1', 'iam', canonical),
      '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });

  void it('signRequest produces the same Authorization as the SDK signer for the same request', async () => {
    const sdk = await sdkSignedPost();
    const headers: HeaderBag = { ...sdk.headers };
    delete headers['authorization'];
    delete headers['x-amz-date'];
    delete headers['x-amz-security-token'];
    const ours = signRequest({ method: 'POST', path: '/', headers, body: BODY }, CREDS, {
      region: 'eu-west-1',
      service: 'sts',
      date: new Date(NOW),
    });
    assert.equal(ours['authorization'], sdk.headers['authorization']);
  });

  void it('presignPath produces the same query as the SDK presigner', async () => {
    const presigned = await sdkSigner(CREDS, 'rds-db').presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'db.example.internal',
        port: 5432,
        path: '/',
        query: { Action: 'connect', DBUser: 'app user' },
        headers: { host: 'db.example.internal:5432' },
      },
      { signingDate: new Date(NOW), expiresIn: 900 },
    );
    const ours = presignPath(
      {
        host: 'db.example.internal:5432',
        params: [
          ['Action', 'connect'],
          ['DBUser', 'app user'],
        ],
      },
      CREDS,
      { region: 'eu-west-1', service: 'rds-db', date: new Date(NOW), expiresInSeconds: 900 },
    );
    const oursParams = new URLSearchParams(ours.split('?')[1]);
    assert.equal(oursParams.get('X-Amz-Signature'), presigned.query?.['X-Amz-Signature']);
  });
});

void describe('verifySignedRequest: header auth', () => {
  void it('accepts a POST signed by the SDK signer', async () => {
    const v = verify(await sdkSignedPost());
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.ok(v.ok);
    assert.equal(v.mode, 'header');
    assert.equal(v.accessKeyId, CREDS.accessKeyId);
    assert.equal(v.region, 'eu-west-1');
    assert.ok(v.signedHeaders.includes('x-amz-security-token'));
  });

  void it('rejects a one-byte change in the method, path, body, any signed header or the Authorization', async () => {
    const base = await sdkSignedPost();
    const variants: Array<[string, SignableRequest]> = [];
    for (let i = 0; i < base.method.length; i++)
      variants.push([`method[${i}]`, { ...base, method: mutate(base.method, i) }]);
    variants.push(['path', { ...base, path: '/Z' }]);
    variants.push(['query', { ...base, path: '/?Z=1' }]);
    for (let i = 0; i < base.body.length; i++)
      variants.push([`body[${i}]`, { ...base, body: mutate(base.body, i) }]);
    for (const [name, value] of Object.entries(base.headers)) {
      const signed = name === 'authorization' || base.headers['authorization']!.includes(name);
      if (!signed) continue;
      for (let i = 0; i < value.length; i++) {
        variants.push([`${name}[${i}]`, { ...base, headers: { ...base.headers, [name]: mutate(value, i) } }]);
      }
    }
    assert.ok(variants.length > 500, `only ${variants.length} variants`);
    for (const [label, req] of variants) {
      assert.equal(verify(req).ok, false, `a change in ${label} was accepted`);
    }
  });

  void it('verifies a non-root, percent-encoded path (AWS encodes it once more in the canonical URI)', async () => {
    const signed = await sdkSigner(CREDS, 'execute-api').sign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'api.example.com',
        path: '/a%20b/c',
        query: { q: 'x y' },
        headers: { host: 'api.example.com' },
      },
      { signingDate: new Date(NOW) },
    );
    const req: SignableRequest = { method: 'GET', path: '/a%20b/c?q=x%20y', headers: signed.headers };
    const v = verifySignedRequest(req, { lookup, now: NOW });
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(verifySignedRequest({ ...req, path: '/a%20c/c?q=x%20y' }, { lookup, now: NOW }).ok, false);
  });

  void it('refuses a credential scope dated differently from X-Amz-Date, even when the signature matches it', () => {
    const amzDate = '20250115T120000Z';
    const scope = '20250114/eu-west-1/sts/aws4_request';
    const headers = new Map([
      ['host', 'sts.amazonaws.com'],
      ['x-amz-date', amzDate],
      ['x-amz-security-token', CREDS.sessionToken!],
    ]);
    const canonical = buildCanonicalRequest({
      method: 'POST',
      wirePath: '/',
      params: [],
      headers,
      signedHeaders: [...headers.keys()],
      payloadHash: sha256Hex(BODY),
    });
    const key = deriveSigningKey(CREDS.secretAccessKey, '20250114', 'eu-west-1', 'sts');
    const signature = createHmac('sha256', key)
      .update(buildStringToSign(amzDate, scope, canonical))
      .digest('hex');
    const v = verify({
      method: 'POST',
      path: '/',
      body: BODY,
      headers: {
        ...Object.fromEntries(headers),
        authorization: `AWS4-HMAC-SHA256 Credential=${CREDS.accessKeyId}/${scope}, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=${signature}`,
      },
    });
    assert.equal(v.ok ? 'ok' : v.reason, 'wrong-scope');
  });

  void it('names the reason for each kind of failure', async () => {
    const base = await sdkSignedPost();
    const cases: Array<[string, SignableRequest, number, string]> = [
      ['no auth', { ...base, headers: { host: base.headers['host']! } }, NOW, 'missing-authentication'],
      ['signature', { ...base, body: `${BODY}&x=1` }, NOW, 'signature-mismatch'],
      [
        'token',
        { ...base, headers: { ...base.headers, 'x-amz-security-token': 'other' } },
        NOW,
        'token-mismatch',
      ],
      ['skew', base, NOW + 301_000, 'clock-skew'],
      ['skew back', base, NOW - 301_000, 'clock-skew'],
      ['expired credential', base, NOW + 3600_000, 'credential-expired'],
    ];
    for (const [label, req, now, reason] of cases) {
      const v = verify(req, now);
      assert.equal(v.ok ? 'ok' : v.reason, reason, label);
    }
    const unknown = verifySignedRequest(base, { lookup: () => undefined, now: NOW });
    assert.equal(unknown.ok ? 'ok' : unknown.reason, 'unknown-access-key');
    const noToken = signRequest(
      { method: 'POST', path: '/', headers: { host: 'sts.amazonaws.com' }, body: BODY },
      { accessKeyId: CREDS.accessKeyId, secretAccessKey: CREDS.secretAccessKey },
      { region: 'us-east-1', service: 'sts', date: new Date(NOW) },
    );
    const missing = verify({ method: 'POST', path: '/', headers: noToken, body: BODY });
    assert.equal(missing.ok ? 'ok' : missing.reason, 'missing-security-token');
    const wrongRegion = verifySignedRequest(base, { lookup, now: NOW, expectedRegion: 'us-east-1' });
    assert.equal(wrongRegion.ok ? 'ok' : wrongRegion.reason, 'wrong-scope');
    const needsNonce = verifySignedRequest(base, {
      lookup,
      now: NOW,
      requiredSignedHeaders: ['x-mongodb-server-nonce'],
    });
    assert.equal(needsNonce.ok ? 'ok' : needsNonce.reason, 'unsigned-required-header');
  });

  void it('never puts the secret, the session token or the signature in a failure message', async () => {
    const base = await sdkSignedPost();
    const signature = /Signature=([0-9a-f]+)/.exec(base.headers['authorization']!)![1]!;
    for (const now of [NOW + 301_000, NOW + 3600_000]) {
      for (const req of [
        base,
        { ...base, body: 'x' },
        { ...base, headers: { ...base.headers, 'x-amz-security-token': 'o' } },
      ]) {
        const v = verify(req, now);
        assert.equal(v.ok, false);
        if (v.ok) continue;
        for (const secret of [CREDS.secretAccessKey, CREDS.sessionToken!, signature])
          assert.ok(!v.message.includes(secret));
      }
    }
  });
});

void describe('verifySignedRequest: query auth (presigned)', () => {
  void it('accepts an SDK-presigned URL until X-Amz-Date + X-Amz-Expires, then says expired', async () => {
    const presigned = await sdkSigner().presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'sts.eu-west-1.amazonaws.com',
        path: '/',
        query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
        headers: { host: 'sts.eu-west-1.amazonaws.com' },
      },
      { signingDate: new Date(NOW), expiresIn: 60 },
    );
    const query = Object.entries(presigned.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const req: SignableRequest = {
      method: 'GET',
      path: `/?${query}`,
      headers: { host: 'sts.eu-west-1.amazonaws.com' },
    };
    const ok = verify(req, NOW + 59_000);
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.equal(ok.mode, 'query');
    assert.equal(ok.expiresAt?.getTime(), NOW + 60_000);
    const late = verify(req, NOW + 61_000);
    assert.equal(late.ok ? 'ok' : late.reason, 'expired');
    for (let i = 0; i < query.length; i++) {
      assert.equal(
        verify({ ...req, path: `/?${mutate(query, i)}` }, NOW).ok,
        false,
        `a change at query[${i}] was accepted`,
      );
    }
    assert.equal(verify({ ...req, headers: { host: 'sts.eu-west-1.amazonaws.comZ' } }, NOW).ok, false);
  });
});
