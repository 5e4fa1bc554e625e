import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromContainerMetadata, fromHttp } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from '@aws-sdk/types';

import { startContainerCredentialsEmulator } from './container-credentials-emulator.ts';
import type { ContainerCredentialsEmulator } from './container-credentials-emulator.ts';
import { startStsEmulator } from './sts-emulator.ts';
import type { StsEmulator } from './sts-emulator.ts';

const ROLE = 'arn:aws:iam::111122223333:role/pod-identity';

void describe('container-credentials emulator (EKS Pod Identity agent)', () => {
  let sts: StsEmulator;
  let agent: ContainerCredentialsEmulator;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pod-identity-'));
    tokenFile = join(dir, 'eks-pod-identity-token');
    await writeFile(tokenFile, 'sa-token-v1');
    sts = await startStsEmulator();
    agent = await startContainerCredentialsEmulator({
      sts,
      roleArn: ROLE,
      authorizationTokenFile: tokenFile,
    });
  });
  after(async () => {
    await agent.close();
    await sts.close();
    await rm(dir, { recursive: true, force: true });
  });

  const http = (extra: Parameters<typeof fromHttp>[0] = {}) =>
    fromHttp({
      awsContainerCredentialsFullUri: agent.url,
      awsContainerAuthorizationTokenFile: tokenFile,
      maxRetries: 0,
      ...extra,
    })();

  async function callerArn(creds: AwsCredentialIdentity): Promise<string | undefined> {
    const c = new STSClient({ endpoint: sts.url, region: 'eu-west-1', maxAttempts: 1, credentials: creds });
    try {
      return (await c.send(new GetCallerIdentityCommand({}))).Arn;
    } finally {
      c.destroy();
    }
  }

  void it('fromHttp gets credentials that sign correctly against the STS emulator', async () => {
    const creds = await http();
    const issued = sts.credentialFor(creds.accessKeyId);
    assert.ok(issued);
    assert.equal(issued.roleArn, ROLE);
    assert.equal(creds.expiration?.getTime(), issued.expiration.getTime());
    assert.equal(await callerArn(creds), issued.arn);
    assert.equal(agent.calls.at(-1)?.outcome, 'ok');
  });

  void it('fromContainerMetadata (env-configured) gets credentials too', async () => {
    const saved = {
      uri: process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'],
      token: process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN'],
    };
    process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = agent.url;
    process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN'] = 'sa-token-v1';
    try {
      const creds = await fromContainerMetadata({ maxRetries: 0 })();
      assert.equal(sts.credentialFor(creds.accessKeyId)?.roleArn, ROLE);
    } finally {
      for (const [name, value] of [
        ['AWS_CONTAINER_CREDENTIALS_FULL_URI', saved.uri],
        ['AWS_CONTAINER_AUTHORIZATION_TOKEN', saved.token],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  void it('answers 401 without Authorization and 403 with a wrong or stale token', async () => {
    const missing = await fetch(agent.url);
    assert.equal(missing.status, 401);
    await assert.rejects(
      http({ awsContainerAuthorizationTokenFile: undefined, awsContainerAuthorizationToken: 'wrong' }),
    );
    assert.equal(agent.calls.at(-1)?.status, 403);
    // kubelet rotates the token: the old one stops working, the new one works.
    await writeFile(tokenFile, 'sa-token-v2');
    await assert.rejects(
      http({ awsContainerAuthorizationTokenFile: undefined, awsContainerAuthorizationToken: 'sa-token-v1' }),
    );
    assert.equal(agent.calls.at(-1)?.outcome, 'bad-authorization');
    assert.ok((await http()).accessKeyId);
  });

  void it('injects server errors and malformed bodies, each consumed once', async () => {
    agent.failNext('server-error');
    await assert.rejects(http());
    agent.failNext('malformed');
    await assert.rejects(http());
    assert.deepEqual(
      agent.calls.slice(-2).map((r) => r.outcome),
      ['server-error', 'malformed'],
    );
    assert.ok((await http()).accessKeyId);
  });

  void it('serves the documented JSON shape', async () => {
    const res = await fetch(agent.url, { headers: { authorization: 'sa-token-v2' } });
    const body = (await res.json()) as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), [
      'AccessKeyId',
      'AccountId',
      'Expiration',
      'SecretAccessKey',
      'Token',
    ]);
    assert.match(body['Expiration']!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(body['AccountId'], '111122223333');
  });
});
