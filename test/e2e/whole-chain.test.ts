// The whole chain, from a Deployment's annotations to authenticated queries, through credential
// rotation: the webhook (over HTTPS, as the API server calls it) injects the sidecar; the sidecar runs as
// its own process with exactly the injected command, args and env; the app side uses only what the
// injected app container is given (its env and the files of the shared volume) with real clients: psql
// (libpq) and node-postgres against a real PostgreSQL whose logins an RDS-like IAM check decides, the
// mariadb client (with the sidecar's option file) and mysql2 against a real MariaDB whose logins the same
// check decides (clear-text password over TLS, as RDS for MySQL), and the mongodb drivers 7 and 6 against a MONGODB-AWS wire stand-in that has
// STS verify the signature.
// This proves the webhook-sidecar contract, not just each half.
//
// What differs from a pod, and why (each is applied in one place below):
// - Volumes: the shared `token-broker` emptyDir and the projected IRSA `aws-iam-token` volume are temp
//   directories; every path inside a container's mounts (env values, the config's `directory`) is
//   rewritten to them, as the kubelet bind-mounts them (support/kubelet.ts).
// - The IRSA token file holds a token the STS emulator accepts (the kubelet would project a real one).
// - AWS_ENDPOINT_URL_STS points the sidecar's SDK at the STS emulator (the standard SDK override).
// - Network: a pod has its own network namespace, the test shares one loopback. So the webhook gets free
//   ports as its sidecar port defaults through its --sidecar-*-port flags (no other setting changes), and TOKEN_BROKER_LISTEN_HOST binds
//   the health and metrics ports to 127.0.0.1 instead of every address of the pod (::).
// - The image: its entrypoint `token-broker` is `node --import tsx cli/main.ts` here, with the image's
//   PATH/HOME and no ~/.aws files; processes run as the test's UID (runAsUser is not switched).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Signer } from '@aws-sdk/rds-signer';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import type { Container, Pod } from '../../webhook/src/injection/k8s-types.ts';
import { parseWebhookOptions } from '../../webhook/src/server/options.ts';
import { startWebhookServer } from '../../webhook/src/server/serve-command.ts';
import type { WebhookServer } from '../../webhook/src/server/serve-command.ts';
import { makeTempCertificates, TEST_SERVER_NAME } from '../webhook/server/support/certs.ts';
import type { TestCertificates } from '../webhook/server/support/certs.ts';
import { logSink } from '../webhook/server/support/log-sink.ts';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import type { StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { admissionReview, applyAdmissionPatch, callWebhook } from './support/admission-client.ts';
import type { AdmissionResponseBody } from './support/admission-client.ts';
import { containerEnv, findContainer, hostPath, persistPod, podFromTemplate } from './support/kubelet.ts';
import type { VolumeDirs } from './support/kubelet.ts';
import { startHttpIamVerifier } from './support/http-iam-verifier.ts';
import type { HttpIamVerifier } from './support/http-iam-verifier.ts';
import { startLdapIamVerifier } from './support/ldap-iam-verifier.ts';
import type { BindDecision, LdapIamVerifier } from './support/ldap-iam-verifier.ts';
import { startMariadb } from './support/mariadb.ts';
import type { MariadbServer } from './support/mariadb.ts';
import {
  clearPassword,
  clearPasswordFromFile,
  currentUser,
  mysqlLogin,
  verifiedTls,
} from './support/mysql-login.ts';
import type { MysqlTarget } from './support/mysql-login.ts';
import { startMongoApp } from './support/mongo-app.ts';
import type { MongoApp, MongoAppAttempt } from './support/mongo-app.ts';
import { isolatedAwsEnv, runMongoClient } from './support/mongo-client.ts';
import type { MongoClientJob } from './support/mongo-client.ts';
import { startMongoWire } from './support/mongo-wire.ts';
import type { MongoWireServer } from './support/mongo-wire.ts';
import type { MongoAwsDecision } from './support/mongo-aws-auth.ts';
import { LOOPBACK, freePort } from './support/net.ts';
import { loginAs } from './support/pg-login.ts';
import { startPostgres } from './support/postgres.ts';
import type { PostgresServer } from './support/postgres.ts';
import { parseMetrics, startContainerProcess } from './support/sidecar-process.ts';
import type { ContainerProcess } from './support/sidecar-process.ts';
import { forwardToStsEmulator } from './support/sts-forwarder.ts';

const run = promisify(execFile);
const DEPLOYMENT = new URL('./support/whole-chain-deployment.yaml', import.meta.url);
const NAMESPACE = 'billing';
const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const POD_ROLE = `arn:aws:iam::${ACCOUNT}:role/invoicing-pod`;
const MONGO_ROLE = `arn:aws:iam::${ACCOUNT}:role/MongoAccessRole`;
const DB_USER = 'invoicingdbuser';
const DATABASE = 'invoicingdb';
const OTHER_USER = 'reportingdbuser';
const MYSQL_USER = 'ledgeruser';
const MYSQL_DATABASE = 'ledger';
const MONGO_DATABASE = 'orders';
const COLLECTION = 'orders';
const DOCUMENTS = [
  { _id: 'ord-0001', customer: 'acme', amountCents: 4200 },
  { _id: 'ord-0002', customer: 'globex', amountCents: 1300 },
];
/** Every credential the emulator issues lives this long: the sidecar refreshes at 1/2..4/5 of it. */
const CREDENTIAL_LIFETIME_SECONDS = 12;
/** The pod's refresh-margin annotation: refreshes happen at the latest 3 s before expiry. */
const REFRESH_MARGIN = '3s';
/** How long the rotation phase may take at most (two refreshes take at most 2 x 9 s). */
const ROTATION_DEADLINE_MS = 35_000;
/** The negative test waits at most this long for the first credentials to expire (normally 0). */
const MAX_EXPIRY_WAIT_MS = 13_000;
const AUTH_FAILED = new RegExp(`LDAP authentication failed for user "${DB_USER}"`);
const MYSQL_ACCOUNT = `${MYSQL_USER}@%`;

/** Variables that would hand a process AWS credentials other than the container-credentials endpoint. */
const OTHER_AWS_CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
];

/** The image's own environment (Dockerfile ENV and the runtime's defaults), not from the pod spec. */
function imageEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    // No ~/.aws in the image, and no instance metadata lookups off this machine.
    AWS_CONFIG_FILE: '/nonexistent/token-broker-e2e/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/token-broker-e2e/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** The access key id an RDS token was signed with. */
function tokenKeyId(token: string): string {
  const credential = new URLSearchParams(token.slice(token.indexOf('?') + 1)).get('X-Amz-Credential');
  const keyId = credential?.split('/')[0];
  assert.ok(keyId, 'the token carries no X-Amz-Credential');
  return keyId;
}

/** The access key id in a MONGODB-AWS URI's user info. */
function uriKeyId(uri: string): string {
  const keyId = /^mongodb:\/\/([^:@/]+):/.exec(uri)?.[1];
  assert.ok(keyId, 'the URI carries no access key id');
  return decodeURIComponent(keyId);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Three free ports for the sidecar; the webhook refuses equal ones, and a probe may hand one out twice. */
async function distinctFreePorts(): Promise<{ api: number; health: number; metrics: number }> {
  const found = new Set<number>();
  while (found.size < 3) found.add(await freePort());
  const [api = 0, health = 0, metrics = 0] = found;
  return { api, health, metrics };
}

describe('whole chain: Deployment -> webhook (HTTPS) -> sidecar process -> real clients, through rotation', () => {
  let dir: string;
  let sts: StsEmulator;
  let verifier: LdapIamVerifier;
  let postgres: PostgresServer;
  let mongo: MongoWireServer;
  let mysqlVerifier: HttpIamVerifier;
  let mariadb: MariadbServer;
  /** The CA of the MariaDB server certificate: the app's own (RDS: the global bundle), not injected. */
  let mysqlCa: string;
  let mysqlPool: mysql.Pool | undefined;
  let certs: TestCertificates & { cleanup: () => Promise<void> };
  let webhook: WebhookServer;
  const webhookLog = logSink();
  let ports: { api: number; health: number; metrics: number };
  let volumeDirs: VolumeDirs;
  let brokerDir: string;
  let irsaDir: string;

  let template: Pod;
  let admission: AdmissionResponseBody;
  let pod: Pod;
  let sidecarContainer: Container;
  let appContainer: Container;
  /** The injected app container's env, paths mapped: all the app side may use. */
  let appEnv: Record<string, string>;
  let sidecar: ContainerProcess | undefined;
  let pool: pg.Pool | undefined;
  const mongoApps: MongoApp[] = [];
  /** File contents right after startup, kept to show that old content is refused once expired. */
  let firstToken: string;
  let firstUri: string;
  let firstMysqlToken: string;

  const appVar = (name: string): string => {
    const value = appEnv[name];
    assert.ok(value, `the injected app env has no ${name}`);
    return value;
  };
  const target = () => ({
    host: appEnv.TOKEN_BROKER_INVOICING_HOST ?? '',
    port: Number(appEnv.TOKEN_BROKER_INVOICING_PORT),
    user: appEnv.TOKEN_BROKER_INVOICING_USER ?? '',
    database: appEnv.TOKEN_BROKER_INVOICING_DATABASE ?? '',
  });
  /** A process that is the app container: its env only (plus the image's PATH/HOME). */
  const appProcessEnv = (): Record<string, string> => ({ ...imageEnv(join(dir, 'app-home')), ...appEnv });

  const psql = async (sql: string): Promise<string> => {
    const { host, port, user, database } = target();
    const args = ['-X', '-A', '-t', '-w', '-h', host, '-p', String(port), '-U', user, '-d', database];
    const { stdout } = await run(postgres.psql, [...args, '-c', sql], {
      env: { ...appProcessEnv(), LC_ALL: 'C' },
    });
    return stdout.trim();
  };

  const connectWith = (password: string): Promise<string> => loginAs({ ...target(), password });

  const mysqlTarget = (): MysqlTarget => ({
    host: appEnv.TOKEN_BROKER_LEDGER_HOST ?? '',
    port: Number(appEnv.TOKEN_BROKER_LEDGER_PORT),
    user: appEnv.TOKEN_BROKER_LEDGER_USER ?? '',
    database: appEnv.TOKEN_BROKER_LEDGER_DATABASE ?? '',
    ca: mysqlCa,
  });

  /**
   * The mariadb client as the README tells the app to run it: the injected option file (user, token,
   * host, port and database, written by the sidecar) and the app's own CA, with verified TLS.
   */
  const mariadbCli = async (sql: string): Promise<string> => {
    const args = [
      `--defaults-extra-file=${appVar('TOKEN_BROKER_LEDGER_MY_CNF')}`,
      `--ssl-ca=${mariadb.caFile}`,
      '--ssl-verify-server-cert',
    ];
    const { stdout } = await run(mariadb.client, [...args, '-N', '-B', '-e', sql], {
      env: { ...appProcessEnv(), LC_ALL: 'C' },
    });
    return stdout.trim();
  };

  const mongoJob = (driver: MongoClientJob['driver'], uri: string): MongoClientJob => ({
    driver,
    uri,
    database: MONGO_DATABASE,
    collection: COLLECTION,
  });

  const metrics = async (): Promise<Map<string, number>> => {
    assert.ok(sidecar, 'the sidecar is not running');
    const reply = await sidecar.get('tb-metrics', '/metrics');
    assert.equal(reply.status, 200);
    return parseMetrics(reply.body);
  };
  /** Completed refresh cycles and failed ones of a target, from the sidecar's own metrics. */
  const refreshCounts = (samples: Map<string, number>, name: string) => {
    let failures = 0;
    for (const [key, value] of samples) {
      if (key.startsWith('token_broker_refresh_failures_total{') && key.includes(`target="${name}"`)) {
        failures += value;
      }
    }
    const completed = [...samples].find(
      ([key]) =>
        key.startsWith('token_broker_refresh_duration_seconds_count{') && key.includes(`target="${name}"`),
    )?.[1];
    return { successes: (completed ?? 0) - failures, failures };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-e2e-chain-'));
    brokerDir = join(dir, 'volumes', 'token-broker');
    irsaDir = join(dir, 'volumes', 'aws-iam-token');
    await mkdir(brokerDir, { recursive: true });
    await mkdir(irsaDir, { recursive: true });
    await mkdir(join(dir, 'app-home'));
    await mkdir(join(dir, 'sidecar-home'));
    volumeDirs = { 'token-broker': brokerDir, 'aws-iam-token': irsaDir };

    // What the kubelet projects for IRSA; the emulator accepts this token, and only for the pod's role.
    const irsaToken = makeWebIdentityToken({
      subject: `system:serviceaccount:${NAMESPACE}:invoicing`,
      expiresAt: Date.now() + 86_400_000,
    });
    await writeFile(join(irsaDir, 'token'), irsaToken, { mode: 0o644 });
    sts = await startStsEmulator({
      region: REGION,
      credentialLifetimeSeconds: CREDENTIAL_LIFETIME_SECONDS,
      acceptedWebIdentityTokens: [{ token: irsaToken, roles: [POD_ROLE] }],
      roles: {
        [POD_ROLE]: { allowWebIdentity: true },
        [MONGO_ROLE]: { allowWebIdentity: false, trust: [POD_ROLE] },
      },
    });

    const pgPort = await freePort();
    verifier = await startLdapIamVerifier({
      endpoint: { host: LOOPBACK, port: pgPort },
      region: REGION,
      lookup: sts.lookup,
    });
    postgres = await startPostgres({
      ldapPort: verifier.port,
      port: pgPort,
      logins: [
        { user: DB_USER, database: DATABASE },
        { user: OTHER_USER, database: 'reporting' },
      ],
    });
    const mysqlPort = await freePort();
    mysqlVerifier = await startHttpIamVerifier({
      endpoint: { host: LOOPBACK, port: mysqlPort },
      region: REGION,
      lookup: sts.lookup,
    });
    mariadb = await startMariadb({
      verifierUrl: mysqlVerifier.url,
      port: mysqlPort,
      logins: [{ user: MYSQL_USER, database: MYSQL_DATABASE }],
    });
    mysqlCa = await readFile(mariadb.caFile, 'utf8');
    mongo = await startMongoWire({
      sts: forwardToStsEmulator(sts),
      allowedArns: [MONGO_ROLE],
      database: MONGO_DATABASE,
      collection: COLLECTION,
      documents: DOCUMENTS,
    });

    const uid = process.getuid?.() ?? 1000;
    const yaml = (await readFile(DEPLOYMENT, 'utf8'))
      .replaceAll('__PG_PORT__', String(pgPort))
      .replaceAll('__MONGO_PORT__', String(mongo.port))
      .replaceAll('__MYSQL_PORT__', String(mysqlPort))
      .replaceAll('__REFRESH_MARGIN__', REFRESH_MARGIN)
      // runAsNonRoot: as root the test keeps the example's 1000 (the processes stay root, which reads 0600).
      .replaceAll('__RUN_AS_USER__', String(uid === 0 ? 1000 : uid));
    template = podFromTemplate(parseYaml(yaml) as Parameters<typeof podFromTemplate>[0]);

    certs = await makeTempCertificates();
    ports = await distinctFreePorts();
    const options = parseWebhookOptions(
      [
        '--host',
        LOOPBACK,
        '--port',
        '0',
        '--tls-cert-file',
        certs.certFile,
        '--tls-key-file',
        certs.keyFile,
        '--log-level',
        'info',
        // The pod's own network namespace, on a shared loopback: free ports as the sidecar port defaults,
        // through the webhook's own flags (the chart sets the same options as TOKEN_BROKER_SIDECAR_*_PORT).
        '--sidecar-api-port',
        String(ports.api),
        '--sidecar-health-port',
        String(ports.health),
        '--sidecar-metrics-port',
        String(ports.metrics),
      ],
      {},
    );
    assert.deepEqual(
      {
        api: options.defaults.apiPort,
        health: options.defaults.healthPort,
        metrics: options.defaults.metricsPort,
      },
      ports,
    );
    webhook = await startWebhookServer(options, { logDestination: webhookLog });
  });

  after(async () => {
    await Promise.all(mongoApps.map((app) => app.stop().catch(() => undefined)));
    await pool?.end().catch(() => undefined);
    await mysqlPool?.end().catch(() => undefined);
    if (sidecar) await sidecar.terminate();
    await webhook?.close();
    await mongo?.close();
    await postgres?.stop();
    await verifier?.close();
    await mariadb?.stop();
    await mysqlVerifier?.close();
    await sts?.close();
    await certs?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the webhook admits the pod of the Deployment over HTTPS and injects the sidecar, the volume and the app env', async () => {
    admission = await callWebhook(
      { host: LOOPBACK, port: webhook.port, serverName: TEST_SERVER_NAME, ca: certs.ca },
      admissionReview(template, NAMESPACE),
    );
    assert.equal(admission.allowed, true, admission.status?.message);
    assert.equal(admission.patchType, 'JSONPatch');
    pod = persistPod(applyAdmissionPatch(template, admission), NAMESPACE);

    assert.equal(pod.metadata?.annotations?.['token-broker.io/status'], 'injected');
    sidecarContainer = findContainer(pod, 'token-broker');
    appContainer = findContainer(pod, 'app');
    assert.equal(
      pod.spec.initContainers?.[0]?.name,
      'token-broker',
      'native sidecar: the first init container',
    );
    assert.equal(sidecarContainer.restartPolicy, 'Always');
    const volume = pod.spec.volumes?.find((v) => v.name === 'token-broker');
    assert.deepEqual(volume?.emptyDir, { medium: 'Memory', sizeLimit: '4Mi' });
    assert.deepEqual(
      appContainer.volumeMounts?.find((m) => m.name === 'token-broker'),
      { name: 'token-broker', mountPath: '/var/run/token-broker', readOnly: true },
    );

    appEnv = containerEnv(pod, appContainer, volumeDirs);
    for (const name of OTHER_AWS_CREDENTIAL_ENV) {
      assert.equal(appEnv[name], undefined, `the app container still has ${name}`);
    }
    assert.equal(
      appEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI,
      `http://127.0.0.1:${ports.api}/v1/credentials/orders`,
    );
    assert.equal(appEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, join(brokerDir, 'auth-token'));
    assert.equal(appEnv.PGPASSFILE, join(brokerDir, 'pgpass'));
    assert.equal(appEnv.TOKEN_BROKER_INVOICING_TOKEN_FILE, join(brokerDir, 'invoicing.token'));
    assert.equal(appEnv.TOKEN_BROKER_ORDERS_URI_FILE, join(brokerDir, 'orders.uri'));
    assert.deepEqual(target(), { host: LOOPBACK, port: postgres.port, user: DB_USER, database: DATABASE });
    assert.equal(appEnv.TOKEN_BROKER_LEDGER_TOKEN_FILE, join(brokerDir, 'ledger.token'));
    assert.equal(appEnv.TOKEN_BROKER_LEDGER_MY_CNF, join(brokerDir, 'ledger.my.cnf'));
    assert.equal(appEnv.TOKEN_BROKER_INVOICING_MY_CNF, undefined, 'a PostgreSQL target has no option file');
    assert.deepEqual(
      { ...mysqlTarget(), ca: '' },
      { host: LOOPBACK, port: mariadb.port, user: MYSQL_USER, database: MYSQL_DATABASE, ca: '' },
    );
  });

  test('the sidecar runs with exactly the injected command, args and env and passes its startupProbe', async () => {
    const env = containerEnv(pod, sidecarContainer, volumeDirs);
    // The IRSA identity was copied from the app container, its token file mapped to the test's token.
    assert.equal(env.AWS_ROLE_ARN, POD_ROLE);
    assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, join(irsaDir, 'token'));
    assert.equal(env.TOKEN_BROKER_POD_NAME, pod.metadata?.name);
    assert.equal(env.TOKEN_BROKER_POD_NAMESPACE, NAMESPACE);
    const configJson = env.TOKEN_BROKER_CONFIG;
    assert.ok(configJson, 'the injected sidecar has no TOKEN_BROKER_CONFIG');
    const config = JSON.parse(configJson) as { directory: string };
    assert.equal(config.directory, '/var/run/token-broker');
    const mapped = { ...config, directory: hostPath(sidecarContainer, volumeDirs, config.directory) };

    const stsCallsBefore = sts.calls.length;
    sidecar = startContainerProcess(sidecarContainer, {
      ...imageEnv(join(dir, 'sidecar-home')),
      ...env,
      TOKEN_BROKER_CONFIG: JSON.stringify(mapped),
      AWS_ENDPOINT_URL_STS: sts.url,
      TOKEN_BROKER_LISTEN_HOST: LOOPBACK,
    });
    await sidecar.waitForStartup();

    const files = [
      'pgpass',
      'invoicing.token',
      'ledger.token',
      'ledger.my.cnf',
      'orders.uri',
      'orders.credentials.json',
    ];
    for (const file of [...files, 'auth-token']) {
      const info = await stat(join(brokerDir, file));
      assert.equal(info.mode & 0o777, 0o600, `${file} is not 0600`);
      assert.equal(info.uid, process.getuid?.(), `${file} is not owned by the sidecar's UID`);
    }
    firstToken = await readFile(appVar('TOKEN_BROKER_INVOICING_TOKEN_FILE'), 'utf8');
    firstUri = await readFile(appVar('TOKEN_BROKER_ORDERS_URI_FILE'), 'utf8');
    firstMysqlToken = await readFile(appVar('TOKEN_BROKER_LEDGER_TOKEN_FILE'), 'utf8');

    // The sidecar used the pod's IRSA identity, named its session after the pod, and chained to the role.
    const session = `tb-${NAMESPACE}-${pod.metadata?.name ?? ''}`;
    const calls = sts.calls.slice(stsCallsBefore).filter((c) => c.outcome === 'ok');
    assert.ok(
      calls.some((c) => c.action === 'AssumeRoleWithWebIdentity' && c.roleArn === POD_ROLE),
      JSON.stringify(calls),
    );
    assert.ok(
      calls.some((c) => c.action === 'AssumeRole' && c.roleArn === MONGO_ROLE && c.sessionName === session),
      JSON.stringify(calls),
    );
    assert.ok(calls.every((c) => c.signingRegion === undefined || c.signingRegion === REGION));
  });

  test('psql (libpq) logs in with the injected PGPASSFILE and the injected host, port, user and database', async () => {
    const before = verifier.decisions.length;
    assert.equal(await psql('select current_user'), DB_USER);
    const decision = verifier.decisions[before];
    assert.equal(decision?.reason, 'accepted');
    assert.equal(decision.user, DB_USER);
    assert.equal(sts.credentialFor(decision.accessKeyId ?? '')?.roleArn, POD_ROLE);
  });

  test('a node-postgres Pool reads the injected token file for its password and logs in', async () => {
    const tokenFile = appVar('TOKEN_BROKER_INVOICING_TOKEN_FILE');
    pool = new pg.Pool({
      host: target().host,
      port: target().port,
      user: target().user,
      database: target().database,
      // Read on every new connection, as the README tells apps to; maxUses 1: every query logs in anew.
      password: async () => await readFile(tokenFile, 'utf8'),
      max: 2,
      maxUses: 1,
    });
    const before = verifier.decisions.length;
    const result = await pool.query<{ current_user: string }>('select current_user');
    assert.equal(result.rows[0]?.current_user, DB_USER);
    assert.equal(verifier.decisions[before]?.reason, 'accepted');
  });

  test('the mariadb client logs in with the injected option file and the CA alone, over verified TLS, into the database', async () => {
    const before = mysqlVerifier.decisions.length;
    assert.equal(
      await mariadbCli('select current_user(), database()'),
      `${MYSQL_ACCOUNT}\t${MYSQL_DATABASE}`,
    );
    const decision = mysqlVerifier.decisions[before];
    assert.equal(decision?.reason, 'accepted');
    assert.equal(decision.user, MYSQL_USER);
    assert.equal(sts.credentialFor(decision.accessKeyId ?? '')?.roleArn, POD_ROLE);
  });

  test('a mysql2 pool reads the injected token file for its clear-text password and logs in', async () => {
    const { host, port, user, database } = mysqlTarget();
    mysqlPool = mysql.createPool({
      host,
      port,
      user,
      database,
      ssl: verifiedTls(mysqlCa),
      // Read on every new connection, as the README tells apps to.
      authPlugins: clearPasswordFromFile(appVar('TOKEN_BROKER_LEDGER_TOKEN_FILE')),
      connectionLimit: 2,
    });
    const before = mysqlVerifier.decisions.length;
    const connection = await mysqlPool.getConnection();
    try {
      assert.equal(await currentUser(connection), MYSQL_ACCOUNT);
    } finally {
      connection.destroy();
    }
    assert.equal(mysqlVerifier.decisions[before]?.reason, 'accepted');
  });

  test("driver 7 authenticates through the sidecar's container-credentials endpoint with only the injected env", async () => {
    const env = appProcessEnv();
    for (const name of OTHER_AWS_CREDENTIAL_ENV) assert.equal(env[name], undefined, `${name} is set`);
    const before = mongo.decisions.length;
    const served = (await metrics()).get(
      'token_broker_http_requests_total{route="/v1/credentials/:name",code="200"}',
    );
    const outcome = await runMongoClient(mongoJob('mongodb', appVar('MONGODB_URI')), env);
    assert.deepEqual(outcome, { ok: true, ping: true, documents: DOCUMENTS });
    const decision = mongo.decisions[before];
    assert.equal(decision?.reason, 'accepted');
    assert.equal(decision.principal, MONGO_ROLE);
    assert.equal(
      decision.arn,
      `arn:aws:sts::${ACCOUNT}:assumed-role/MongoAccessRole/tb-${NAMESPACE}-${pod.metadata?.name}`,
    );
    const servedAfter = (await metrics()).get(
      'token_broker_http_requests_total{route="/v1/credentials/:name",code="200"}',
    );
    assert.ok((servedAfter ?? 0) > (served ?? 0), 'the driver did not get its credentials from the sidecar');
  });

  test('driver 6 authenticates with the content of the injected .uri file and no AWS env', async () => {
    const uri = await readFile(appVar('TOKEN_BROKER_ORDERS_URI_FILE'), 'utf8');
    const before = mongo.decisions.length;
    const outcome = await runMongoClient(mongoJob('mongodb6', uri), isolatedAwsEnv({}));
    assert.deepEqual(outcome, { ok: true, ping: true, documents: DOCUMENTS });
    assert.deepEqual(
      { reason: mongo.decisions[before]?.reason, accessKeyId: mongo.decisions[before]?.accessKeyId },
      { reason: 'accepted', accessKeyId: uriKeyId(uri) },
    );
  });

  test('through two refreshes of each target, every new connection of every client gets in', async (t) => {
    assert.ok(pool, 'the pool test did not run');
    const activePool = pool;
    assert.ok(mysqlPool, 'the mysql2 pool test did not run');
    const activeMysqlPool = mysqlPool;
    const mysqlFrom = mysqlVerifier.decisions.length;
    const startedAt = Date.now();
    const pgFrom = verifier.decisions.length;
    const mongoFrom = mongo.decisions.length;
    const stsFrom = sts.calls.length;
    const initial = await metrics();
    const base = {
      invoicing: refreshCounts(initial, 'invoicing').successes,
      orders: refreshCounts(initial, 'orders').successes,
      ledger: refreshCounts(initial, 'ledger').successes,
    };
    const keysAtStart = {
      pg: tokenKeyId(await readFile(appVar('TOKEN_BROKER_INVOICING_TOKEN_FILE'), 'utf8')),
      mongo: uriKeyId(await readFile(appVar('TOKEN_BROKER_ORDERS_URI_FILE'), 'utf8')),
      mysql: tokenKeyId(await readFile(appVar('TOKEN_BROKER_LEDGER_TOKEN_FILE'), 'utf8')),
    };

    const driver7 = startMongoApp(
      {
        driver: 'mongodb',
        uriFrom: { kind: 'env', env: 'MONGODB_URI' },
        database: MONGO_DATABASE,
        collection: COLLECTION,
        intervalMs: 300,
      },
      appProcessEnv(),
    );
    const driver6 = startMongoApp(
      {
        driver: 'mongodb6',
        uriFrom: { kind: 'file', env: 'TOKEN_BROKER_ORDERS_URI_FILE' },
        database: MONGO_DATABASE,
        collection: COLLECTION,
        intervalMs: 300,
      },
      appProcessEnv(),
    );
    mongoApps.push(driver7, driver6);

    interface Outcome {
      readonly startedAt: number;
      readonly ok: boolean;
      readonly error?: string;
    }
    const pgOutcomes: Outcome[] = [];
    const psqlOutcomes: Outcome[] = [];
    const mysql2Outcomes: Outcome[] = [];
    const mariadbOutcomes: Outcome[] = [];
    let stop = false;
    const loop = async (outcomes: Outcome[], pauseMs: number, once: () => Promise<string>): Promise<void> => {
      while (!stop) {
        const at = Date.now();
        try {
          const user = await once();
          outcomes.push(
            user === DB_USER ? { startedAt: at, ok: true } : { startedAt: at, ok: false, error: user },
          );
        } catch (error) {
          outcomes.push({ startedAt: at, ok: false, error: (error as Error).message });
        }
        await sleep(pauseMs);
      }
    };
    const loops = Promise.all([
      loop(pgOutcomes, 150, async () => {
        const result = await activePool.query<{ current_user: string }>('select current_user');
        return result.rows[0]?.current_user ?? '';
      }),
      loop(psqlOutcomes, 700, () => psql('select current_user')),
      // Each mysql2 checkout is a new connection (destroyed after use), so a new login with the file's token.
      loop(mysql2Outcomes, 150, async () => {
        const connection = await activeMysqlPool.getConnection();
        try {
          return (await currentUser(connection)) === MYSQL_ACCOUNT ? DB_USER : 'wrong user';
        } finally {
          connection.destroy();
        }
      }),
      loop(mariadbOutcomes, 700, async () =>
        (await mariadbCli('select current_user()')) === MYSQL_ACCOUNT ? DB_USER : 'wrong user',
      ),
    ]);

    // Until the sidecar has published credentials of two new generations for each target (watched in
    // the files, which it rewrites atomically) and every client has connected again after that.
    const tokenFile = appVar('TOKEN_BROKER_INVOICING_TOKEN_FILE');
    const uriFile = appVar('TOKEN_BROKER_ORDERS_URI_FILE');
    const ledgerFile = appVar('TOKEN_BROKER_LEDGER_TOKEN_FILE');
    const published = {
      pg: new Set([keysAtStart.pg]),
      mongo: new Set([keysAtStart.mongo]),
      mysql: new Set([keysAtStart.mysql]),
    };
    const logFrom = sidecar?.output().length ?? 0;
    let rotatedAt: number | undefined;
    const okAfter = (outcomes: readonly (Outcome | MongoAppAttempt)[], at: number) =>
      outcomes.some((o) => o.ok && o.startedAt > at);
    try {
      while (Date.now() - startedAt < ROTATION_DEADLINE_MS) {
        await sleep(250);
        published.pg.add(tokenKeyId(await readFile(tokenFile, 'utf8')));
        published.mongo.add(uriKeyId(await readFile(uriFile, 'utf8')));
        published.mysql.add(tokenKeyId(await readFile(ledgerFile, 'utf8')));
        const generations = [published.pg, published.mongo, published.mysql].map((keys) => keys.size);
        if (rotatedAt === undefined && generations.every((size) => size >= 3)) {
          rotatedAt = Date.now();
        }
        const clients = [
          pgOutcomes,
          psqlOutcomes,
          mysql2Outcomes,
          mariadbOutcomes,
          driver7.attempts,
          driver6.attempts,
        ];
        if (rotatedAt !== undefined && clients.every((outcomes) => okAfter(outcomes, rotatedAt!))) break;
      }
    } finally {
      stop = true;
      await loops;
    }
    const attempts7 = await driver7.stop();
    const attempts6 = await driver6.stop();
    assert.ok(
      rotatedAt !== undefined,
      `no two new credential generations per target in time: ${published.pg.size - 1} for ` +
        `invoicing, ${published.mongo.size - 1} for orders, ${published.mysql.size - 1} for ledger`,
    );

    // Zero failed connections, for every client, and each one connected after the second rotation.
    const failed = (outcomes: readonly (Outcome | MongoAppAttempt)[]) => outcomes.filter((o) => !o.ok);
    assert.deepEqual(failed(pgOutcomes), [], 'node-postgres');
    assert.deepEqual(failed(psqlOutcomes), [], 'psql');
    assert.deepEqual(failed(mysql2Outcomes), [], 'mysql2');
    assert.deepEqual(failed(mariadbOutcomes), [], 'mariadb client');
    assert.deepEqual(failed(attempts7), [], 'mongodb driver 7');
    assert.deepEqual(failed(attempts6), [], 'mongodb driver 6');
    const everyClient = { pgOutcomes, psqlOutcomes, mysql2Outcomes, mariadbOutcomes, attempts7, attempts6 };
    for (const [client, outcomes] of Object.entries(everyClient)) {
      assert.ok(okAfter(outcomes, rotatedAt), `${client}: no connection after the second rotation`);
    }
    assert.ok([...attempts7, ...attempts6].every((a) => a.ok && a.ping && a.documents === DOCUMENTS.length));

    // On the wire: every login accepted, each with credentials the sidecar published, and at least two
    // new credential generations per target.
    const logins: BindDecision[] = verifier.decisions.slice(pgFrom);
    const conversations: MongoAwsDecision[] = mongo.decisions.slice(mongoFrom);
    assert.deepEqual(
      logins.filter((d) => !d.ok),
      [],
    );
    assert.deepEqual(
      conversations.filter((d) => !d.ok),
      [],
    );
    assert.ok(logins.length >= pgOutcomes.length + psqlOutcomes.length, 'a login bypassed the IAM check');
    assert.ok(
      conversations.length >= attempts7.length + attempts6.length,
      'a connection bypassed MONGODB-AWS',
    );
    const keysOnWire = (decisions: readonly { accessKeyId?: string }[]) =>
      new Set(decisions.map((d) => d.accessKeyId ?? '(none)'));
    const pgKeys = keysOnWire(logins);
    const mongoKeys = keysOnWire(conversations);
    assert.deepEqual(
      [...pgKeys].filter((k) => !published.pg.has(k)),
      [],
      'PostgreSQL saw unpublished keys',
    );
    assert.deepEqual(
      [...mongoKeys].filter((k) => !published.mongo.has(k)),
      [],
      'MongoDB saw unpublished keys',
    );
    const newOnWire = { pg: pgKeys.size - (pgKeys.has(keysAtStart.pg) ? 1 : 0), mongo: 0 };
    newOnWire.mongo = mongoKeys.size - (mongoKeys.has(keysAtStart.mongo) ? 1 : 0);
    assert.ok(newOnWire.pg >= 2, `PostgreSQL saw ${newOnWire.pg} new access key ids`);
    assert.ok(newOnWire.mongo >= 2, `MongoDB saw ${newOnWire.mongo} new access key ids`);
    // MySQL likewise: every login accepted, with published tokens only, two new generations or more.
    const mysqlLogins: BindDecision[] = mysqlVerifier.decisions.slice(mysqlFrom);
    assert.deepEqual(
      mysqlLogins.filter((d) => !d.ok),
      [],
    );
    assert.ok(
      mysqlLogins.length >= mysql2Outcomes.length + mariadbOutcomes.length,
      'a MySQL login bypassed the IAM check',
    );
    const mysqlKeys = keysOnWire(mysqlLogins);
    assert.deepEqual(
      [...mysqlKeys].filter((k) => !published.mysql.has(k)),
      [],
      'MySQL saw unpublished keys',
    );
    const newMysqlKeys = mysqlKeys.size - (mysqlKeys.has(keysAtStart.mysql) ? 1 : 0);
    assert.ok(newMysqlKeys >= 2, `MySQL saw ${newMysqlKeys} new access key ids`);
    for (const key of mysqlKeys) assert.equal(sts.credentialFor(key)?.roleArn, POD_ROLE);
    for (const key of pgKeys) assert.equal(sts.credentialFor(key)?.roleArn, POD_ROLE);
    for (const key of mongoKeys) assert.equal(sts.credentialFor(key)?.roleArn, MONGO_ROLE);

    // The sidecar's own account: at least two successful refreshes and no failure per target, two
    // credential fetches per target in its log, and every STS call answered.
    const final = await metrics();
    const counts = {
      invoicing: refreshCounts(final, 'invoicing'),
      orders: refreshCounts(final, 'orders'),
      ledger: refreshCounts(final, 'ledger'),
    };
    assert.deepEqual(
      {
        invoicing: counts.invoicing.failures,
        orders: counts.orders.failures,
        ledger: counts.ledger.failures,
      },
      { invoicing: 0, orders: 0, ledger: 0 },
    );
    assert.ok(counts.invoicing.successes - base.invoicing >= 2, 'invoicing: fewer than 2 refreshes');
    assert.ok(counts.orders.successes - base.orders >= 2, 'orders: fewer than 2 refreshes');
    assert.ok(counts.ledger.successes - base.ledger >= 2, 'ledger: fewer than 2 refreshes');
    const log = sidecar?.output().slice(logFrom) ?? '';
    for (const name of ['invoicing', 'orders', 'ledger']) {
      const fetched = log.split(`refreshed credentials for target \\"${name}\\"`).length - 1;
      assert.ok(fetched >= 2, `the sidecar logged ${fetched} credential refreshes of ${name}`);
    }
    assert.deepEqual(
      sts.calls.slice(stsFrom).filter((c) => c.outcome !== 'ok'),
      [],
    );
    t.diagnostic(
      `${Math.round((Date.now() - startedAt) / 1000)} s; connections: node-postgres ${pgOutcomes.length}, ` +
        `psql ${psqlOutcomes.length}, mysql2 ${mysql2Outcomes.length}, mariadb ${mariadbOutcomes.length}, ` +
        `driver 7 ${attempts7.length}, driver 6 ${attempts6.length}; new access key ids on the wire: ` +
        `PostgreSQL ${newOnWire.pg}, MySQL ${newMysqlKeys}, MongoDB ${newOnWire.mongo}`,
    );
  });

  test('a token signed for another database user is refused through the same chain', async () => {
    const credentials = sts.issueCredentials({ roleArn: POD_ROLE, lifetimeSeconds: 600 });
    const token = await new Signer({
      hostname: target().host,
      port: target().port,
      username: OTHER_USER,
      region: REGION,
      credentials,
    }).getAuthToken();
    const before = verifier.decisions.length;
    await assert.rejects(connectWith(token), (error: Error & { code?: string }) => {
      assert.match(error.message, AUTH_FAILED);
      assert.equal(error.code, '28000');
      return true;
    });
    assert.deepEqual(
      { reason: verifier.decisions[before]?.reason, check: verifier.decisions[before]?.check },
      { reason: 'wrong-db-user', check: 'db-user' },
    );
  });

  test('token file and .uri content kept from before the rotation are refused once their credentials expired', async () => {
    const tokenKey = sts.credentialFor(tokenKeyId(firstToken));
    const uriKey = sts.credentialFor(uriKeyId(firstUri));
    const mysqlKey = sts.credentialFor(tokenKeyId(firstMysqlToken));
    assert.ok(tokenKey && uriKey && mysqlKey);
    // The rotation test ran for longer than a credential lives; wait out any rest (normally none).
    const expiredAt = Math.max(
      tokenKey.expiration.getTime(),
      uriKey.expiration.getTime(),
      mysqlKey.expiration.getTime(),
    );
    const rest = expiredAt - Date.now();
    assert.ok(rest < MAX_EXPIRY_WAIT_MS, `the first credentials expire only in ${rest} ms`);
    if (rest >= 0) await sleep(rest + 50);

    const before = verifier.decisions.length;
    await assert.rejects(connectWith(firstToken), AUTH_FAILED);
    assert.deepEqual(
      { reason: verifier.decisions[before]?.reason, check: verifier.decisions[before]?.check },
      { reason: 'credential-expired', check: 'credential-expiry' },
    );

    const mysqlBefore = mysqlVerifier.decisions.length;
    await assert.rejects(
      mysqlLogin(
        mysqlTarget(),
        clearPassword(() => firstMysqlToken),
      ),
      {
        code: 'ER_ACCESS_DENIED_ERROR',
      },
    );
    assert.deepEqual(
      {
        reason: mysqlVerifier.decisions[mysqlBefore]?.reason,
        check: mysqlVerifier.decisions[mysqlBefore]?.check,
      },
      { reason: 'credential-expired', check: 'credential-expiry' },
    );

    const mongoBefore = mongo.decisions.length;
    const outcome = await runMongoClient(mongoJob('mongodb6', firstUri), isolatedAwsEnv({}));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.ok ? undefined : outcome.code, 18);
    assert.equal(mongo.decisions[mongoBefore]?.reason, 'sts:credential-expired');

    // The same clients with what the files hold now still get in.
    assert.equal(
      await connectWith(await readFile(appVar('TOKEN_BROKER_INVOICING_TOKEN_FILE'), 'utf8')),
      DB_USER,
    );
    assert.equal(
      await mysqlLogin(mysqlTarget(), clearPasswordFromFile(appVar('TOKEN_BROKER_LEDGER_TOKEN_FILE'))),
      MYSQL_ACCOUNT,
    );
  });

  test('SIGTERM stops the sidecar with exit code 0, and its log holds no secret', async () => {
    assert.ok(sidecar, 'the sidecar is not running');
    const exit = await sidecar.terminate();
    assert.deepEqual(exit, { code: 0, signal: null }, sidecar.output().slice(-2000));
    const log = sidecar.output();
    assert.match(log, /refreshed credentials for target/);
    const secrets = [await readFile(join(brokerDir, 'auth-token'), 'utf8'), firstToken, firstMysqlToken];
    for (const call of sts.calls) {
      const issued =
        call.issuedAccessKeyId === undefined ? undefined : sts.credentialFor(call.issuedAccessKeyId);
      if (issued) secrets.push(issued.secretAccessKey, issued.sessionToken);
    }
    assert.ok(secrets.length > 6);
    for (const secret of secrets) assert.ok(!log.includes(secret), 'a secret is in the sidecar log');
  });
});
