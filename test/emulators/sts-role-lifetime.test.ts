// A role's own lifetime (RoleConfig.lifetimeSeconds): credentials of that role are short-lived while
// every other role keeps its usual lifetime, so one emulator can serve a short-lived target beside
// ordinary ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@aws-sdk/types';

import { startStsEmulator } from './sts-emulator.ts';
import type { StsEmulator } from './sts-emulator.ts';

const REGION = 'eu-west-1';
const POD_ROLE = 'arn:aws:iam::111122223333:role/pod';
const SHORT_ROLE = 'arn:aws:iam::111122223333:role/short-lived';
const USUAL_ROLE = 'arn:aws:iam::111122223333:role/usual';

function client(sts: StsEmulator, credentials?: AwsCredentialIdentity): STSClient {
  return new STSClient({
    endpoint: sts.url,
    region: REGION,
    maxAttempts: 1,
    credentials: credentials ?? { accessKeyId: 'unused', secretAccessKey: 'unused' },
  });
}

/** Seconds between the emulator's issue time and the Expiration it answered with. */
function lifetimeOf(sts: StsEmulator, accessKeyId: string | undefined): number {
  const issued = accessKeyId === undefined ? undefined : sts.credentialFor(accessKeyId);
  assert.ok(issued, 'the answer names a credential the emulator issued');
  return (issued.expiration.getTime() - issued.issuedAt.getTime()) / 1000;
}

void describe('STS emulator: a role-scoped credential lifetime', () => {
  void it('applies to AssumeRole and AssumeRoleWithWebIdentity of that role only, over the global override', async () => {
    const sts = await startStsEmulator({
      credentialLifetimeSeconds: 1800,
      roles: {
        [POD_ROLE]: {},
        [SHORT_ROLE]: { lifetimeSeconds: 20 },
        [USUAL_ROLE]: {},
      },
    });
    try {
      const web = await client(sts).send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: POD_ROLE,
          RoleSessionName: 'pod-session',
          WebIdentityToken: 'eyJ-token',
        }),
      );
      const pod = web.Credentials;
      assert.ok(pod?.AccessKeyId && pod.SecretAccessKey);
      assert.equal(lifetimeOf(sts, pod.AccessKeyId), 1800);
      const signer = client(sts, {
        accessKeyId: pod.AccessKeyId,
        secretAccessKey: pod.SecretAccessKey,
        ...(pod.SessionToken !== undefined ? { sessionToken: pod.SessionToken } : {}),
      });
      const assume = (roleArn: string) =>
        signer.send(
          new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'target', DurationSeconds: 3600 }),
        );

      const short = await assume(SHORT_ROLE);
      assert.equal(lifetimeOf(sts, short.Credentials?.AccessKeyId), 20);
      const usual = await assume(USUAL_ROLE);
      assert.equal(lifetimeOf(sts, usual.Credentials?.AccessKeyId), 1800);

      const shortWeb = await client(sts).send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: SHORT_ROLE,
          RoleSessionName: 'pod-session',
          WebIdentityToken: 'eyJ-token',
        }),
      );
      assert.equal(lifetimeOf(sts, shortWeb.Credentials?.AccessKeyId), 20);
    } finally {
      await sts.close();
    }
  });
});
