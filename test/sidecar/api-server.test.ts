import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHttp } from '@aws-sdk/credential-providers';
import type { MongoTarget, RdsTarget } from '../../contract/sidecar-config.ts';
import {
  authorized,
  createApiHandler,
  isLoopbackHost,
  statusDocument,
} from '../../sidecar/src/api-server.ts';
import { boundPort, closeServer, listenTcp, listenUnix } from '../../sidecar/src/http.ts';
import type { RouteLabel } from '../../sidecar/src/metrics.ts';
import type { TargetValue } from '../../sidecar/src/publisher.ts';
import { mongoTarget, rdsTarget } from '../fakes/sidecar-config.ts';
import { httpRequest, type TestResponse } from './support/http-client.ts';
import { rawHttp } from './support/raw-http.ts';

const AUTH = 'a'.repeat(64);
const rds = rdsTarget({ name: 'db' });
const mongo = mongoTarget();
const pending = mongoTarget({ name: 'later' });
const expiresAt = Date.now() + 3600_000;
const creds = {
  accessKeyId: 'ASIAAPITEST000000001',
  secretAccessKey: 'api/secret+key=',
  sessionToken: 'api/session+token=',
  expiresAt,
};
const values: Record<string, { target: RdsTarget | MongoTarget; value: TargetValue | undefined }> = {
  db: {
    target: rds,
    value: { kind: 'rds', token: 'h:5432/?Action=connect&DBUser=u&X-Amz-Signature=abc', expiresAt },
  },
  docs: { target: mongo, value: { kind: 'mongo', credentials: creds, expiresAt } },
  later: { target: pending, value: undefined },
};

let dir: string;
let tcp: Server;
let unix: Server;
let port: number;
let socketPath: string;
const requests: [RouteLabel, number][] = [];
let quits = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tb-api-'));
  const handler = createApiHandler({
    authToken: AUTH,
    lookup: (name) => values[name],
    status: () =>
      statusDocument([
        {
          name: 'docs',
          kind: 'mongo',
          expiresAt,
          fresh: true,
          lastSuccessAt: Date.UTC(2030, 0, 1),
          lastFailureAt: undefined,
          lastErrorClass: 'throttling',
          consecutiveFailures: 0,
          nextRefreshAt: undefined,
        },
      ]),
    quit: () => quits++,
    onRequest: (route, code) => requests.push([route, code]),
  });
  tcp = await listenTcp(handler, '127.0.0.1', 0);
  port = boundPort(tcp);
  socketPath = join(dir, 'broker.sock');
  unix = await listenUnix(handler, socketPath);
});

after(async () => {
  await closeServer(tcp);
  await closeServer(unix);
  await rm(dir, { recursive: true, force: true });
});

describe('credentials API', { timeout: 10_000 }, () => {
  it('every credential route answers 401 without or with a wrong Authorization, before revealing target names', async () => {
    for (const path of ['/v1/token/db', '/v1/credentials/docs', '/v1/token/nope', '/v1/credentials/nope']) {
      const variants: Record<string, string>[] = [
        {},
        { Authorization: 'wrong' },
        { Authorization: `${AUTH}x` },
      ];
      for (const headers of variants) {
        const r = await httpRequest({ port }, 'GET', path, headers);
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.ok(!r.body.includes('docs') && !r.body.includes('"db"'));
      }
    }
    assert.equal((await httpRequest({ port }, 'POST', '/quitquitquit')).status, 401);
    assert.equal(quits, 0);
  });

  it('GET /v1/token/<name> returns the raw token with its expiry', async () => {
    const r = await httpRequest({ port }, 'GET', '/v1/token/db', { Authorization: AUTH });
    assert.equal(r.status, 200);
    assert.equal(r.body, (values.db!.value as { token: string }).token);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(String(r.headers['x-token-expiration']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  it('accepts "Bearer <token>" too', async () => {
    assert.equal(
      (await httpRequest({ port }, 'GET', '/v1/token/db', { Authorization: `Bearer ${AUTH}` })).status,
      200,
    );
  });

  it('GET /v1/credentials/<name> is the container-credentials shape', async () => {
    const r = await httpRequest({ port }, 'GET', '/v1/credentials/docs', { Authorization: AUTH });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']);
    assert.equal(body.SecretAccessKey, creds.secretAccessKey);
  });

  it('the real AWS SDK fromHttp reads /v1/credentials/<name> with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', async () => {
    const tokenFile = join(dir, 'auth-token');
    await writeFile(tokenFile, AUTH, { mode: 0o600 });
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `http://127.0.0.1:${port}/v1/credentials/docs`,
      awsContainerAuthorizationTokenFile: tokenFile,
    });
    const c = await provider();
    assert.equal(c.accessKeyId, creds.accessKeyId);
    assert.equal(c.secretAccessKey, creds.secretAccessKey);
    assert.equal(c.sessionToken, creds.sessionToken);
    assert.equal(c.expiration?.getTime(), Math.floor(expiresAt / 1000) * 1000);
  });

  it('the SDK gets a clear failure with a wrong token file', async () => {
    const tokenFile = join(dir, 'wrong-token');
    await writeFile(tokenFile, 'b'.repeat(64));
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `http://127.0.0.1:${port}/v1/credentials/docs`,
      awsContainerAuthorizationTokenFile: tokenFile,
      maxRetries: 0,
    });
    await assert.rejects(provider());
  });

  it('404 for unknown targets and for the wrong kind (with the right route), 503 before the first value', async () => {
    const auth = { Authorization: AUTH };
    const unknown = await httpRequest({ port }, 'GET', '/v1/token/nope', auth);
    assert.equal(unknown.status, 404);
    const wrongKind = await httpRequest({ port }, 'GET', '/v1/token/docs', auth);
    assert.equal(wrongKind.status, 404);
    assert.match(wrongKind.body, /use \/v1\/credentials\/docs/);
    assert.equal((await httpRequest({ port }, 'GET', '/v1/credentials/db', auth)).status, 404);
    const notYet = await httpRequest({ port }, 'GET', '/v1/credentials/later', auth);
    assert.equal(notYet.status, 503);
    assert.equal(notYet.headers['retry-after'], '1');
  });

  it('only the listed methods: 405 otherwise; 404 for other paths', async () => {
    const auth = { Authorization: AUTH };
    for (const [method, path] of [
      ['POST', '/v1/token/db'],
      ['PUT', '/v1/credentials/docs'],
      ['DELETE', '/v1/status'],
      ['HEAD', '/v1/token/db'],
      ['GET', '/quitquitquit'],
    ] as const) {
      const r = await httpRequest({ port }, method, path, auth);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.ok(r.headers.allow);
    }
    assert.equal((await httpRequest({ port }, 'GET', '/', auth)).status, 404);
    assert.equal((await httpRequest({ port }, 'GET', '/metrics', auth)).status, 404);
    assert.equal((await httpRequest({ port }, 'GET', '/v1/tokens/db', auth)).status, 404);
  });

  it('GET /v1/status needs no auth and carries no secret', async () => {
    const r = await httpRequest({ port }, 'GET', '/v1/status');
    assert.equal(r.status, 200);
    const doc = JSON.parse(r.body) as {
      ready: boolean;
      targets: { name: string; lastErrorClass: string; lastSuccess: string }[];
    };
    assert.equal(doc.ready, true);
    assert.equal(doc.targets[0]?.lastErrorClass, 'throttling');
    assert.equal(doc.targets[0]?.lastSuccess, '2030-01-01T00:00:00Z');
    for (const secret of [creds.secretAccessKey, creds.sessionToken, creds.accessKeyId, AUTH])
      assert.ok(!r.body.includes(secret));
  });

  it('the unix socket serves the same API and is 0600', async () => {
    assert.equal((await stat(socketPath)).mode & 0o777, 0o600);
    assert.equal((await httpRequest({ socketPath }, 'GET', '/v1/token/db')).status, 401);
    const r = await httpRequest({ socketPath }, 'GET', '/v1/token/db', { Authorization: AUTH });
    assert.equal(r.status, 200);
  });

  it('POST /quitquitquit with auth asks the sidecar to stop', async () => {
    const r = await httpRequest({ port }, 'POST', '/quitquitquit', { Authorization: AUTH });
    assert.equal(r.status, 200);
    assert.equal(quits, 1);
  });

  it('counts requests by route template and code', () => {
    assert.ok(requests.some(([route, code]) => route === '/v1/token/:name' && code === 401));
    assert.ok(requests.some(([route, code]) => route === '/v1/credentials/:name' && code === 200));
    assert.ok(requests.some(([route]) => route === 'other'));
    assert.ok(
      requests.every(([route]) => !route.includes('db') && !route.includes('docs')),
      'no target name in the route label',
    );
  });
});

describe('credentials API: the Host check against DNS rebinding', { timeout: 10_000 }, () => {
  const auth = { Authorization: AUTH };

  it('refuses a Host that is not loopback with 421 on every route, before auth, status or any target', async () => {
    const quitsBefore = quits;
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      `127.0.0.1.nip.io:${port}`,
      `localhost.evil.example:${port}`,
      `127.0.0.2:${port}`,
      `[::2]:${port}`,
      `127.0.0.1:${port}@evil.example`,
    ]) {
      for (const [method, path] of [
        ['GET', '/v1/status'],
        ['GET', '/v1/token/db'],
        ['GET', '/v1/credentials/docs'],
        ['POST', '/quitquitquit'],
        ['GET', '/nope'],
      ] as const) {
        const r = await httpRequest({ port }, method, path, { ...auth, Host: host });
        assert.equal(r.status, 421, `${method} ${path} with Host ${host}`);
        assert.match(r.body, /Host header must be 127\.0\.0\.1, localhost or \[::1\]/);
        for (const leak of ['docs', '"db"', 'throttling', creds.sessionToken, 'IQo', host])
          assert.ok(!r.body.includes(leak), `${host}: the 421 body reveals ${leak}`);
      }
    }
    assert.equal(quits, quitsBefore, 'a refused quit request stops nothing');
  });

  it('refuses a request without any Host header (HTTP/1.0) on TCP', async () => {
    const r = await rawHttp({ port }, 'GET /v1/status HTTP/1.0\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 421 /);
  });

  it('accepts the loopback Hosts that the AWS SDKs, curl and kubectl port-forward send', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      '127.0.0.1',
      `localhost:${port}`,
      'LocalHost',
      `[::1]:${port}`,
      '[::1]',
    ]) {
      assert.equal((await httpRequest({ port }, 'GET', '/v1/status', { Host: host })).status, 200, host);
      assert.equal(
        (await httpRequest({ port }, 'GET', '/v1/token/db', { ...auth, Host: host })).status,
        200,
        host,
      );
    }
  });

  it('the unix socket accepts any Host (curl --unix-socket sends localhost)', async () => {
    for (const host of ['localhost', 'evil.example']) {
      assert.equal((await httpRequest({ socketPath }, 'GET', '/v1/status', { Host: host })).status, 200);
    }
    assert.match(await rawHttp({ socketPath }, 'GET /v1/status HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /);
  });

  it('isLoopbackHost: only 127.0.0.1, localhost and [::1], each with an optional port', () => {
    const table: [string | undefined, boolean][] = [
      ['127.0.0.1:9901', true],
      ['127.0.0.1', true],
      ['localhost:9901', true],
      ['LOCALHOST', true],
      ['[::1]:9901', true],
      ['[::1]', true],
      [undefined, false],
      ['', false],
      ['::1', false],
      ['127.0.0.1:', false],
      ['127.0.0.1:123456', false],
      ['127.0.0.1.evil.example', false],
      ['evil.example', false],
      ['localhost.evil.example', false],
      ['127.0.0.1:9901 evil.example', false],
      ['0.0.0.0:9901', false],
    ];
    for (const [host, want] of table) assert.equal(isLoopbackHost(host), want, String(host));
  });
});

describe('credentials API: response headers and bodies', { timeout: 10_000 }, () => {
  const auth = { Authorization: AUTH };
  const cases: [string, () => Promise<TestResponse>, number][] = [
    ['token', () => httpRequest({ port }, 'GET', '/v1/token/db', auth), 200],
    ['credentials', () => httpRequest({ port }, 'GET', '/v1/credentials/docs', auth), 200],
    ['status', () => httpRequest({ port }, 'GET', '/v1/status'), 200],
    ['no auth', () => httpRequest({ port }, 'GET', '/v1/token/db'), 401],
    ['unknown path', () => httpRequest({ port }, 'GET', '/x', auth), 404],
    ['unknown target', () => httpRequest({ port }, 'GET', '/v1/token/nope', auth), 404],
    ['method', () => httpRequest({ port }, 'PUT', '/v1/status', auth), 405],
    ['host', () => httpRequest({ port }, 'GET', '/v1/status', { Host: 'evil.example' }), 421],
    ['pending', () => httpRequest({ port }, 'GET', '/v1/credentials/later', auth), 503],
    ['unix socket', () => httpRequest({ socketPath }, 'GET', '/v1/token/db', auth), 200],
  ];
  it('every answer carries X-Content-Type-Options: nosniff and Cache-Control: no-store', async () => {
    for (const [what, request, status] of cases) {
      const r = await request();
      assert.equal(r.status, status, what);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(r.headers['cache-control'], 'no-store', what);
      assert.match(String(r.headers['content-type']), /^(application\/json|text\/plain)/, what);
    }
  });

  it('error bodies are JSON that never reflects markup or an unbounded path', async () => {
    const markup = '/<script>alert(1)</script>';
    const paths = [markup, `/v1/token${markup}`, '/v1/credentials/"><img%20src=x>', `/${'a'.repeat(5000)}`];
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const r = await httpRequest({ port }, method, path, auth);
        assert.ok(r.status === 404 || r.status === 405, `${method} ${path.slice(0, 40)}: ${r.status}`);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        const error = (JSON.parse(r.body) as { error: string }).error;
        assert.ok(!/<(script|img)|alert\(|src=/.test(error), `reflected markup: ${error}`);
        assert.ok(error.length < 300, `unbounded message: ${error.length} characters`);
      }
    }
  });
});

describe('authorized', { timeout: 10_000 }, () => {
  it('compares exactly (after trimming) and in constant time', () => {
    assert.equal(authorized(AUTH, AUTH), true);
    assert.equal(authorized(` ${AUTH}\n`, AUTH), true);
    assert.equal(authorized(undefined, AUTH), false);
    assert.equal(authorized('', AUTH), false);
    assert.equal(authorized(AUTH.slice(1), AUTH), false);
  });
});
