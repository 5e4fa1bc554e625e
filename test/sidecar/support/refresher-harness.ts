/**
 * One TargetRefresher on a fake clock, with a fake credential source, the fake RDS signer and a
 * publish step that records what it wrote; each part can fail or hang on demand.
 */
import type { MongoTarget, RdsTarget, Target } from '../../../contract/sidecar-config.ts';
import type { TemporaryCredentials } from '../../../sidecar/src/identity.ts';
import { makeMongoCredentials } from '../../../sidecar/src/mongo-credentials.ts';
import type { TargetValue } from '../../../sidecar/src/publisher.ts';
import { makeRdsToken } from '../../../sidecar/src/rds-token.ts';
import {
  TargetRefresher,
  type FailureInfo,
  type RefreshEvents,
  type SuccessInfo,
  type TargetRefresherDeps,
} from '../../../sidecar/src/refresher.ts';
import { FakeClock, seededRandom } from '../../fakes/fake-clock.ts';
import { FakeCredentialSource, fakeRdsSigner } from '../../fakes/fake-credentials.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const MARGIN = 2 * MIN;

export const rds: RdsTarget = {
  kind: 'rds',
  name: 'db',
  region: 'eu-west-1',
  engine: 'postgres',
  host: 'db.example',
  port: 5432,
  database: 'app',
  user: 'app',
};
export const mongo: MongoTarget = {
  kind: 'mongo',
  name: 'docs',
  region: 'eu-west-1',
  scheme: 'mongodb+srv',
  hosts: ['c.example'],
  database: 'docs',
  options: {},
};

export interface Harness {
  clock: FakeClock;
  source: FakeCredentialSource;
  refresher: TargetRefresher;
  published: { at: number; value: TargetValue }[];
  signs: { keyId: string }[];
  failures: FailureInfo[];
  successes: SuccessInfo[];
  attempts: number;
  /** Clock time of every cycle start. */
  attemptTimes: number[];
  /** The next `next` publishes fail with `error` (default ENOSPC). */
  publishFails: { next: number; error?: () => Error };
  /** While true, publishes never settle (a hung file system). */
  publishHangs: { on: boolean };
  /** While true, builds never settle. */
  buildHangs: { on: boolean };
}

export function harness(
  target: Target,
  random: () => number = seededRandom(7),
  lifetimeMs = HOUR,
  extra: Partial<TargetRefresherDeps> = {},
): Harness {
  const clock = new FakeClock();
  const source = new FakeCredentialSource(() => clock.now(), lifetimeMs);
  const signs: { keyId: string }[] = [];
  const signer = fakeRdsSigner(signs, () => clock.now());
  const published: { at: number; value: TargetValue }[] = [];
  const failures: FailureInfo[] = [];
  const successes: SuccessInfo[] = [];
  const publishFails: Harness['publishFails'] = { next: 0 };
  const publishHangs = { on: false };
  const buildHangs = { on: false };
  const h = {
    clock,
    source,
    published,
    signs,
    failures,
    successes,
    attempts: 0,
    attemptTimes: [] as number[],
    publishFails,
    publishHangs,
    buildHangs,
  } as Harness;
  const events: RefreshEvents = {
    attempt: () => {
      h.attempts++;
      h.attemptTimes.push(clock.now());
    },
    success: (_t, info) => successes.push(info),
    failure: (_t, info) => failures.push(info),
  };
  const never = new Promise<never>(() => undefined);
  h.refresher = new TargetRefresher({
    target,
    fetchCredentials: source.fetch,
    build: (creds: TemporaryCredentials, now: number) => {
      if (buildHangs.on) return never;
      return target.kind === 'rds'
        ? makeRdsToken(target, creds, now, signer)
        : Promise.resolve(makeMongoCredentials(creds));
    },
    publish: async (value) => {
      if (publishHangs.on) return never;
      await Promise.resolve();
      if (publishFails.next > 0) {
        publishFails.next--;
        throw (
          publishFails.error?.() ??
          Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
        );
      }
      published.push({ at: clock.now(), value });
    },
    timers: clock,
    random,
    marginMs: MARGIN,
    events,
    ...extra,
  });
  return h;
}
