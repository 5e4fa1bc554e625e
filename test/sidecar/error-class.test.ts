import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ClockSkewError } from '../../sidecar/src/clock-skew.ts';
import { StepTimeoutError } from '../../sidecar/src/deadline.ts';
import { classifyError, ERROR_CLASSES, ERROR_HINTS, type ErrorClass } from '../../sidecar/src/error-class.ts';
import { FileWriteError } from '../../sidecar/src/files.ts';
import { WebIdentityTokenFileError } from '../../sidecar/src/identity.ts';
import { awsError, nodeError } from '../fakes/fake-credentials.ts';

function timeoutError(): Error {
  const e = new Error('Connection timed out after 3000 ms');
  e.name = 'TimeoutError';
  return e;
}

describe('classifyError', () => {
  const table: [string, unknown, ErrorClass][] = [
    ['STS Throttling', awsError('Throttling', 'Rate exceeded'), 'throttling'],
    ['HTTP 429', awsError('Whatever', 'slow down', 429), 'throttling'],
    [
      'AccessDenied',
      awsError('AccessDenied', 'Not authorized to perform sts:AssumeRole', 403),
      'access-denied',
    ],
    [
      'InvalidClientTokenId',
      awsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
      'access-denied',
    ],
    [
      'SignatureDoesNotMatch (wrong secret)',
      awsError('SignatureDoesNotMatch', 'The request signature we calculated does not match', 403),
      'access-denied',
    ],
    [
      'InvalidIdentityToken',
      awsError('InvalidIdentityToken', "Couldn't retrieve verification key"),
      'invalid-web-identity-token',
    ],
    [
      'IDPRejectedClaim',
      awsError('IDPRejectedClaimException', 'Incorrect token audience', 400),
      'invalid-web-identity-token',
    ],
    [
      'the web identity token file cannot be read',
      new WebIdentityTokenFileError(
        '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
        nodeError('ENOENT', 'no such file or directory'),
      ),
      'invalid-web-identity-token',
    ],
    [
      'ExpiredTokenException',
      awsError('ExpiredTokenException', 'Token expired: current date/time 1 must be before'),
      'expired-web-identity-token',
    ],
    [
      'ExpiredToken (session)',
      awsError('ExpiredToken', 'The security token included in the request is expired', 403),
      'expired-web-identity-token',
    ],
    ['ECONNREFUSED', nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:443'), 'network'],
    ['ENOTFOUND', nodeError('ENOTFOUND', 'getaddrinfo ENOTFOUND sts.eu-west-1.amazonaws.com'), 'network'],
    [
      'IDPCommunicationError',
      awsError('IDPCommunicationError', "Couldn't contact the identity provider"),
      'network',
    ],
    [
      'wrapped in a cause',
      new Error('could not load credentials', { cause: nodeError('ECONNRESET', 'socket hang up') }),
      'network',
    ],
    ['smithy TimeoutError', timeoutError(), 'timeout'],
    ['ETIMEDOUT', nodeError('ETIMEDOUT', 'connect ETIMEDOUT'), 'timeout'],
    ['RequestExpired', awsError('RequestExpired', 'Request has expired.', 400), 'clock-skew'],
    [
      'SignatureDoesNotMatch: signature expired',
      awsError('SignatureDoesNotMatch', 'Signature expired: 20300101T000000Z is now earlier than', 403),
      'clock-skew',
    ],
    [
      'RequestTimeTooSkewed',
      awsError(
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
      ),
      'clock-skew',
    ],
    ['plain Error', new Error('boom'), 'other'],
    ['a string', 'boom', 'other'],
    ['undefined', undefined, 'other'],
  ];
  for (const [name, error, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.equal(classifyError(error), expected));
  }

  it('every class has a hint that says what to do', () => {
    for (const c of ERROR_CLASSES) assert.ok(ERROR_HINTS[c].length > 30, c);
  });
});

describe('classifyError: STS server failures and the volume have classes of their own', () => {
  const write = (code: string) =>
    new FileWriteError('/var/run/token-broker/db.token', nodeError(code, `${code}: failed`));
  const table: [string, unknown, ErrorClass][] = [
    [
      'STS 500 InternalFailure',
      awsError('InternalFailure', 'An internal error occurred', 500),
      'sts-unavailable',
    ],
    [
      'STS 503 ServiceUnavailable',
      awsError('ServiceUnavailable', 'Service unavailable', 503),
      'sts-unavailable',
    ],
    ['HTTP 502 with an unknown code', awsError('UnknownError', 'Bad Gateway', 502), 'sts-unavailable'],
    [
      'an answer the SDK cannot read (garbage XML)',
      awsError(
        'Error',
        '@aws-sdk XML parse error: unexpected end of input.\n  Deserialization error: ...',
        200,
      ),
      'sts-unavailable',
    ],
    [
      'EKS Pod Identity agent answering 500',
      awsError('CredentialsProviderError', 'Server responded with status: 500', 0),
      'sts-unavailable',
    ],
    ['ENOSPC on a write', write('ENOSPC'), 'volume-full'],
    ['EDQUOT on a write', write('EDQUOT'), 'volume-full'],
    ['EROFS on a write', write('EROFS'), 'volume-read-only'],
    ['EACCES on a write', write('EACCES'), 'volume-read-only'],
    [
      'EACCES reading the web identity token is not the volume',
      nodeError('EACCES', "EACCES: permission denied, open '/var/run/secrets/eks.amazonaws.com/token'"),
      'other',
    ],
  ];
  for (const [name, error, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.equal(classifyError(error), expected));
  }

  it('none of these hints sends the operator to the file volume unless it is the volume', () => {
    for (const c of ['sts-unavailable', 'other', 'timeout'] as const) {
      assert.doesNotMatch(ERROR_HINTS[c], /volume/, c);
    }
  });
});

describe('classifyError: clock skew and deadlines', () => {
  const TEN_MIN = 10 * 60_000;
  const table: [string, unknown, number | undefined, ErrorClass][] = [
    [
      'SignatureDoesNotMatch "not yet current" (clock ahead)',
      awsError(
        'SignatureDoesNotMatch',
        'Signature not yet current: 20300101T001500Z is still later than',
        403,
      ),
      undefined,
      'clock-skew',
    ],
    [
      'SignatureDoesNotMatch with a skew beyond 5 min measured from STS',
      awsError(
        'SignatureDoesNotMatch',
        'X-Amz-Date 20300101T000000Z is more than 300s from 20300101T001000Z',
        403,
      ),
      TEN_MIN,
      'clock-skew',
    ],
    [
      'AccessDenied with the clock 10 min ahead',
      awsError('AccessDenied', 'Not authorized to perform sts:AssumeRole', 403),
      -TEN_MIN,
      'clock-skew',
    ],
    [
      'AccessDenied with a skew of 1 min stays access-denied',
      awsError('AccessDenied', 'Not authorized to perform sts:AssumeRole', 403),
      60_000,
      'access-denied',
    ],
    [
      'throttling stays throttling whatever the clock',
      awsError('Throttling', 'Rate exceeded'),
      TEN_MIN,
      'throttling',
    ],
    ['credentials expired on arrival', new ClockSkewError('expired on arrival'), undefined, 'clock-skew'],
    ['a step past its deadline', new StepTimeoutError('writing the files', 10_000), undefined, 'timeout'],
  ];
  for (const [name, error, clockOffsetMs, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.equal(classifyError(error, { clockOffsetMs }), expected));
  }
});

describe('the reason label set', () => {
  it('is the one the README documents, in full', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const paragraph = /`reason` is one of ([\s\S]*?);/.exec(readme)?.[1] ?? '';
    const documented = [...paragraph.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    assert.deepEqual(documented, [...ERROR_CLASSES]);
  });
});

describe('classifyError: SDK quirks', () => {
  it('ECONNRESET renamed TimeoutError by the SDK handler is network', () => {
    const e = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'TimeoutError' });
    assert.equal(classifyError(e), 'network');
  });
});
