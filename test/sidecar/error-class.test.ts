import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyError, ERROR_CLASSES, ERROR_HINTS, type ErrorClass } from '../../sidecar/src/error-class.ts';
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
    ['InternalFailure', awsError('InternalFailure', 'An internal error occurred', 500), 'other'],
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

describe('classifyError: SDK quirks', () => {
  it('ECONNRESET renamed TimeoutError by the SDK handler is network', () => {
    const e = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'TimeoutError' });
    assert.equal(classifyError(e), 'network');
  });
});
