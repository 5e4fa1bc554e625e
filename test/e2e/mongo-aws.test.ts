// The real `mongodb` drivers authenticate with MONGODB-AWS against a wire-protocol stand-in that checks
// the signed sts:GetCallerIdentity like Atlas does (nonce bound, signature verified by the STS emulator,
// ARN mapped to a database user). Each driver runs in a child process so the AWS SDK chain sees only the
// env an app container would get. Credentials come from the emulator via the real SDK; the sidecar takes
// the place of the container-credentials endpoint in the whole-chain test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Binary, serialize } from 'bson';
import { fromWebToken } from '@aws-sdk/credential-providers';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import type { StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { startContainerCredentials } from './support/container-credentials.ts';
import type { ContainerCredentialsEndpoint, ServedCredentials } from './support/container-credentials.ts';
import { isolatedAwsEnv, runMongoClient } from './support/mongo-client.ts';
import type { MongoClientJob, MongoClientOutcome } from './support/mongo-client.ts';
import { startMongoWire } from './support/mongo-wire.ts';
import type { MongoWireServer } from './support/mongo-wire.ts';
import { GS2_FLAG_N } from './support/mongo-aws-auth.ts';
import type { MongoAwsCheck, MongoAwsDecision } from './support/mongo-aws-auth.ts';
import { runRawCommand } from './support/mongo-raw-command.ts';
import { forwardToStsEmulator } from './support/sts-forwarder.ts';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const MONGO_ROLE = `arn:aws:iam::${ACCOUNT}:role/MongoAccessRole`;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/SomeOtherRole`;
const DATABASE = 'invoicing';
const COLLECTION = 'invoices';
const DOCUMENTS = [{ _id: 'inv-0001', customer: 'acme', amountCents: 4200 }];
const AUTH_FAILED = 18;

void describe('MongoDB MONGODB-AWS: the real mongodb drivers on the wire', () => {
  let sts: StsEmulator;
  let mongo: MongoWireServer;
  let endpoint: ContainerCredentialsEndpoint;
  let dir: string;
  let driver7Env: Record<string, string>;
  /** Shifts the STS emulator's clock (to mint credentials that have expired since). */
  let stsSkewMs = 0;

  const credentialsFor = async (roleArn: string, session: string): Promise<ServedCredentials> => {
    const identity = await fromWebToken({
      roleArn,
      roleSessionName: session,
      webIdentityToken: makeWebIdentityToken({ subject: 'system:serviceaccount:billing:invoicing' }),
      clientConfig: { endpoint: sts.url, region: REGION },
    })();
    assert.ok(
      identity.sessionToken && identity.expiration,
      'the emulator returned no session token/expiration',
    );
    return { ...identity, sessionToken: identity.sessionToken, expiration: identity.expiration };
  };

  const job = (driver: MongoClientJob['driver'], uri: string): MongoClientJob => ({
    driver,
    uri,
    database: DATABASE,
    collection: COLLECTION,
  });
  const driver7Uri = (): string =>
    `mongodb://${mongo.address}/${DATABASE}?authMechanism=MONGODB-AWS&authSource=%24external`;

  /** Driver 7 takes its credentials from the container-credentials endpoint, serving `credentials`. */
  const runDriver7With = async (credentials: ServedCredentials): Promise<MongoClientOutcome> => {
    endpoint.set(credentials);
    return await runMongoClient(job('mongodb', driver7Uri()), driver7Env);
  };

  const lastDecision = (): MongoAwsDecision => {
    const decision = mongo.decisions.at(-1);
    assert.ok(decision, 'the server completed no MONGODB-AWS conversation');
    return decision;
  };

  const assertRefused = (outcome: MongoClientOutcome, reason: string): void => {
    assert.equal(outcome.ok, false, 'the driver authenticated but should have been refused');
    if (!outcome.ok) {
      assert.equal(outcome.code, AUTH_FAILED, `driver error: ${outcome.errorName}: ${outcome.message}`);
      assert.match(outcome.message, /Authentication failed/);
    }
    assert.equal(lastDecision().reason, reason);
    assert.equal(lastDecision().ok, false);
  };

  const assertServed = (outcome: MongoClientOutcome): void => {
    assert.deepEqual(outcome, { ok: true, ping: true, documents: DOCUMENTS });
  };

  /** With `check` switched off the same attempt gets in: that check alone refused it. */
  const withCheckOff = async <T>(check: MongoAwsCheck, attempt: () => Promise<T>): Promise<T> => {
    mongo.disabledChecks.add(check);
    try {
      return await attempt();
    } finally {
      mongo.disabledChecks.delete(check);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-e2e-mongo-'));
    sts = await startStsEmulator({ now: () => Date.now() + stsSkewMs });
    mongo = await startMongoWire({
      sts: forwardToStsEmulator(sts),
      allowedArns: [MONGO_ROLE],
      database: DATABASE,
      collection: COLLECTION,
      documents: DOCUMENTS,
    });
    const authToken = 'e2e-container-credentials-auth-token';
    const authTokenFile = join(dir, 'auth-token');
    await writeFile(authTokenFile, authToken, { mode: 0o600 });
    endpoint = await startContainerCredentials({ authToken });
    driver7Env = isolatedAwsEnv({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.url,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: authTokenFile,
    });
  });

  after(async () => {
    await mongo?.close();
    await endpoint?.close();
    await sts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  void test('driver 7 gets credentials from the container-credentials endpoint and can ping and find', async () => {
    const credentials = await credentialsFor(MONGO_ROLE, 'e2e-driver7');
    const servedBefore = endpoint.served();
    assertServed(await runDriver7With(credentials));
    assert.ok(endpoint.served() > servedBefore, 'the driver did not ask the container-credentials endpoint');
    assert.equal(endpoint.refused(), 0);
    assert.deepEqual(lastDecision(), {
      ok: true,
      reason: 'accepted',
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/MongoAccessRole/e2e-driver7`,
      principal: MONGO_ROLE,
      accessKeyId: credentials.accessKeyId,
    });
    const find = mongo.commands.findLast((command) => command.command === 'find');
    assert.deepEqual(find && { database: find.database, principal: find.principal, ok: find.ok }, {
      database: DATABASE,
      principal: MONGO_ROLE,
      ok: true,
    });
  });

  // driver 6 signs MONGODB-AWS with its optional dependency `aws4`, a dev dependency here.
  void test('driver 6 takes the credentials from the URI and can ping and find', async () => {
    const credentials = await credentialsFor(MONGO_ROLE, 'e2e-driver6');
    const enc = encodeURIComponent;
    const uri =
      `mongodb://${enc(credentials.accessKeyId)}:${enc(credentials.secretAccessKey)}@${mongo.address}/${DATABASE}` +
      `?authMechanism=MONGODB-AWS&authSource=%24external` +
      `&authMechanismProperties=AWS_SESSION_TOKEN:${enc(credentials.sessionToken)}`;
    // No AWS env at all: the URI is the only source.
    assertServed(await runMongoClient(job('mongodb6', uri), isolatedAwsEnv({})));
    assert.equal(lastDecision().accessKeyId, credentials.accessKeyId);
    assert.equal(lastDecision().ok, true);
  });

  void test("a signature over another nonce than this conversation's is refused by the nonce binding alone", async () => {
    const credentials = await credentialsFor(MONGO_ROLE, 'e2e-nonce');
    mongo.hooks.tamperExpectedNonce = true;
    assertRefused(await runDriver7With(credentials), 'nonce-mismatch');
    const outcome = await withCheckOff('nonce-binding', async () => {
      mongo.hooks.tamperExpectedNonce = true;
      return await runDriver7With(credentials);
    });
    assertServed(outcome);
  });

  void test("a bad signature (wrong secret key) is refused by STS's signature check", async () => {
    const credentials = await credentialsFor(MONGO_ROLE, 'e2e-bad-signature');
    const last = credentials.secretAccessKey.at(-1) === 'A' ? 'B' : 'A';
    const wrongSecret = `${credentials.secretAccessKey.slice(0, -1)}${last}`;
    assertRefused(
      await runDriver7With({ ...credentials, secretAccessKey: wrongSecret }),
      'sts:signature-mismatch',
    );
    assertServed(await runDriver7With(credentials));
  });

  void test("expired credentials are refused by STS's expiry check", async () => {
    stsSkewMs = -20 * 60_000; // minted 20 minutes ago, for 15 minutes
    let expired: ServedCredentials;
    try {
      const issued = sts.issueCredentials({ roleArn: MONGO_ROLE, lifetimeSeconds: 900 });
      expired = { ...issued };
    } finally {
      stsSkewMs = 0;
    }
    assert.ok(expired.expiration.getTime() < Date.now());
    assertRefused(await runDriver7With(expired), 'sts:credential-expired');
  });

  void test("credentials with a forged session token (right key id and secret) are refused by STS's session-token check", async () => {
    const credentials = await credentialsFor(MONGO_ROLE, 'e2e-forged-token');
    const tail = credentials.sessionToken.endsWith('AAAA') ? 'BBBB' : 'AAAA';
    const forged = `${credentials.sessionToken.slice(0, -4)}${tail}`;
    // The driver signs over the forged X-Amz-Security-Token, so the signature itself is valid.
    assertRefused(await runDriver7With({ ...credentials, sessionToken: forged }), 'sts:token-mismatch');
    assertServed(await runDriver7With(credentials));
  });

  void test('a saslStart whose GS2 flag is not "n" (110) is refused by the GS2 check', async () => {
    // No real driver sends another flag, so a raw OP_MSG client does: the same client-first with p = 110
    // opens a conversation, with p = 121 ("y", channel binding supported but not used) it is refused.
    const saslStart = async (p: number): Promise<Record<string, unknown>> =>
      await runRawCommand(mongo.host, mongo.port, {
        saslStart: 1,
        mechanism: 'MONGODB-AWS',
        payload: new Binary(serialize({ r: new Binary(randomBytes(32)), p })),
        $db: '$external',
      });
    const before = mongo.decisions.length;
    const opened = await saslStart(GS2_FLAG_N);
    assert.deepEqual({ ok: opened.ok, done: opened.done }, { ok: 1, done: false });
    assert.equal(mongo.decisions.length, before, 'a well-formed client-first ended the conversation');

    const refused = await saslStart(121);
    assert.deepEqual(
      { ok: refused.ok, code: refused.code },
      { ok: 0, code: AUTH_FAILED },
      'the server answered a client-first with GS2 flag "y" as if it were valid',
    );
    assert.equal(mongo.decisions.length, before + 1);
    assert.deepEqual(lastDecision(), { ok: false, reason: 'gs2-flag' });
  });

  void test('credentials of a role that is not registered as a database user are refused by the ARN mapping alone', async () => {
    const credentials = await credentialsFor(OTHER_ROLE, 'e2e-unmapped');
    assertRefused(await runDriver7With(credentials), 'unmapped-arn');
    assert.equal(lastDecision().arn, `arn:aws:sts::${ACCOUNT}:assumed-role/SomeOtherRole/e2e-unmapped`);
    assertServed(await withCheckOff('arn-mapping', async () => await runDriver7With(credentials)));
  });
});
