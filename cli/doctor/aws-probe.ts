/**
 * STS through the AWS SDK, set up as the sidecar sets it up (identity.ts): the same default chain for
 * the pod's identity, AssumeRole with the same session name and duration, the same endpoint env
 * (AWS_ENDPOINT_URL_STS), and every answer's `Date` recorded on an StsClock. Settings are read from
 * the env passed in, so a test can point it at the STS emulator.
 */
import { AssumeRoleCommand, GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { SidecarConfig, Target } from '../../contract/sidecar-config.ts';
import { StsClock } from '../../sidecar/src/clock-skew.ts';
import {
  ASSUME_ROLE_DURATION_SECONDS,
  baseIdentityFetcher,
  createBaseProvider,
  createStsClient,
  StsEmptyAnswerError,
  type BaseProvider,
  type TemporaryCredentials,
} from '../../sidecar/src/identity.ts';
import type { AwsProbe, Env } from './doctor-deps.ts';
import { pickIdentitySource } from './identity-source.ts';
import { sessionNameOf } from './session-name.ts';

/** Shorter than the sidecar's: a person is waiting. */
export const DOCTOR_STS_TIMEOUT_MS = 5_000;

export interface ClosableAwsProbe extends AwsProbe {
  /** Closes the SDK clients' sockets. */
  close(): void;
}

const asProvider =
  (c: TemporaryCredentials): BaseProvider =>
  () =>
    Promise.resolve({
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken === undefined ? {} : { sessionToken: c.sessionToken }),
    });

export function createAwsProbe(env: Env, config: SidecarConfig, now: () => number): ClosableAwsProbe {
  const clock = new StsClock(now);
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? config.targets[0]?.region ?? 'us-east-1';
  const endpoint = env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL;
  const source = pickIdentitySource(env);
  const sessionName = sessionNameOf(env);
  const base: BaseProvider =
    source.kind === 'static-keys'
      ? () =>
          Promise.resolve({
            accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          })
      : createBaseProvider(
          {
            region,
            requestTimeoutMs: DOCTOR_STS_TIMEOUT_MS,
            ...(endpoint === undefined ? {} : { stsEndpoint: endpoint }),
            ...(source.kind === 'irsa'
              ? { webIdentityTokenFile: source.tokenFile, roleArn: source.roleArn }
              : {}),
          },
          clock,
        );
  const clients: STSClient[] = [];
  const client = (credentials: TemporaryCredentials, r: string): STSClient => {
    const c = createStsClient(asProvider(credentials), r, endpoint, DOCTOR_STS_TIMEOUT_MS, clock);
    clients.push(c);
    return c;
  };
  return {
    stsEndpoint: endpoint ?? `https://sts.${region}.amazonaws.com (regional)`,
    baseIdentity: () => baseIdentityFetcher(base, now)(),
    async callerIdentity(credentials) {
      const out = await client(credentials, region).send(new GetCallerIdentityCommand({}));
      return { arn: out.Arn ?? '(none)', account: out.Account ?? '(none)' };
    },
    async assumeRole(target: Target, credentials) {
      const roleArn = target.roleArn ?? '';
      const out = await client(credentials, env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? target.region).send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: sessionName,
          DurationSeconds: ASSUME_ROLE_DURATION_SECONDS,
          ...(target.externalId === undefined ? {} : { ExternalId: target.externalId }),
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new StsEmptyAnswerError(roleArn);
      return {
        arn: out.AssumedRoleUser?.Arn ?? '(none)',
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
          expiresAt: clock.toLocal(
            (c.Expiration ?? new Date(now() + ASSUME_ROLE_DURATION_SECONDS * 1000)).getTime(),
          ),
        },
      };
    },
    stsOffsetMs: () => clock.offsetMs(),
    close: () => {
      for (const c of clients) c.destroy();
    },
  };
}
