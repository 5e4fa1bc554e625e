import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyUpstreamError,
  PROXY_ERROR_CLASSES,
  PROXY_ERROR_HINTS,
  PROXY_SQLSTATES,
} from '../../../sidecar/src/error-class.ts';
import { errorResponseFor, ProxyError } from '../../../sidecar/src/pg-proxy/proxy-error.ts';
import { parseErrorFields } from '../../../sidecar/src/pg-proxy/protocol.ts';
import { rdsTarget } from '../../fakes/sidecar-config.ts';

function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyUpstreamError', () => {
  const cases: [string, Error, string][] = [
    ['DNS', nodeError('ENOTFOUND', 'getaddrinfo ENOTFOUND db.example'), 'upstream-unreachable'],
    ['refused', nodeError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:5432'), 'upstream-unreachable'],
    ['reset', nodeError('ECONNRESET', 'read ECONNRESET'), 'upstream-unreachable'],
    [
      'wrong host name',
      nodeError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      'upstream-tls',
    ],
    [
      'unknown CA',
      nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'),
      'upstream-tls',
    ],
    [
      'unverifiable leaf',
      nodeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
      'upstream-tls',
    ],
    ['expired certificate', nodeError('CERT_HAS_EXPIRED', 'certificate has expired'), 'upstream-tls'],
    ['timeout', nodeError('ETIMEDOUT', 'connect ETIMEDOUT'), 'upstream-timeout'],
    ['anything else', new Error('what'), 'upstream-protocol'],
  ];
  for (const [name, error, want] of cases) it(name, () => assert.equal(classifyUpstreamError(error), want));
});

describe('the ErrorResponse a client reads', () => {
  it('every class has a hint and a five-character SQLSTATE', () => {
    for (const c of PROXY_ERROR_CLASSES) {
      assert.ok(PROXY_ERROR_HINTS[c].length > 20, c);
      assert.match(PROXY_SQLSTATES[c], /^[0-9A-Z]{5}$/, c);
    }
  });

  it('names the target, the class and the fix, and scrubs a token out of the message', () => {
    const token = 'db:5432/?Action=connect&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef';
    const bytes = errorResponseFor(
      rdsTarget({ name: 'orders' }),
      new ProxyError('upstream-auth', `refused ${token}`, '28P01'),
    );
    const fields = parseErrorFields(bytes.subarray(5));
    assert.equal(fields.get('S'), 'FATAL');
    assert.equal(fields.get('C'), '28P01');
    assert.match(fields.get('M') ?? '', /^token-broker proxy, target "orders" \(upstream-auth\): refused/);
    assert.equal(fields.get('H'), PROXY_ERROR_HINTS['upstream-auth']);
    assert.doesNotMatch(bytes.toString('utf8'), /0123456789abcdef0123456789abcdef/);
  });
});
