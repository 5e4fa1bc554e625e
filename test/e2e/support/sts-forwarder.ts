import type { StsEmulator } from '../../emulators/sts-emulator.ts';
import type { StsCallerIdentity } from './mongo-aws-auth.ts';

/**
 * Where Atlas sends the rebuilt `sts:GetCallerIdentity` request to AWS, the stand-in hands it to the local
 * STS emulator, which checks the SigV4 signature against the credentials it issued and names the caller.
 */
export function forwardToStsEmulator(emulator: StsEmulator): StsCallerIdentity {
  return (request) => {
    const verdict = emulator.verifyGetCallerIdentity({
      method: request.method,
      host: request.host,
      path: request.path,
      headers: { ...request.headers },
      body: request.body,
      requiredSignedHeaders: ['x-mongodb-server-nonce', 'x-mongodb-gs2-cb-flag'],
    });
    return Promise.resolve(verdict.ok ? { ok: true, arn: verdict.arn } : { ok: false, code: verdict.reason });
  };
}
