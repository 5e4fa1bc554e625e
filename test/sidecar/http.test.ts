import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createApiHandler } from '../../sidecar/src/api-server.ts';
import { createHealthHandler } from '../../sidecar/src/health-server.ts';
import {
  boundAddress,
  boundPort,
  closeServer,
  listenPublic,
  listenTcp,
  shownPath,
  type Handler,
} from '../../sidecar/src/http.ts';
import { createMetricsHandler } from '../../sidecar/src/metrics-server.ts';
import { httpRequest, type TestResponse } from './support/http-client.ts';
import { hasIpv6Loopback } from './support/ipv6.ts';
import { rawHttp } from './support/raw-http.ts';

const ok: Handler = (_req, res) => res.end('ok');

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}`), { code });
}

describe('listenPublic', () => {
  it('on :: answers kubelet over IPv4 and, where the host has it, IPv6', { timeout: 10_000 }, async (t) => {
    const server = await listenPublic(ok, '::', 0);
    try {
      const port = boundPort(server);
      assert.equal((await httpRequest({ port, host: '127.0.0.1' }, 'GET', '/')).body, 'ok');
      if (await hasIpv6Loopback()) {
        assert.equal(boundAddress(server), '::');
        assert.equal((await httpRequest({ port, host: '::1' }, 'GET', '/')).body, 'ok');
      } else {
        t.diagnostic('no IPv6 on this host: only the IPv4 fallback was checked');
        assert.equal(boundAddress(server), '0.0.0.0');
      }
    } finally {
      await closeServer(server);
    }
  });

  for (const code of ['EAFNOSUPPORT', 'EADDRNOTAVAIL']) {
    it(`falls back to 0.0.0.0 when :: fails with ${code} (no IPv6)`, async () => {
      const hosts: string[] = [];
      const fake = (handler: Handler, host: string, port: number): Promise<Server> => {
        hosts.push(host);
        return host === '::' ? Promise.reject(errno(code)) : listenTcp(handler, '127.0.0.1', port);
      };
      const server = await listenPublic(ok, '::', 0, fake);
      await closeServer(server);
      assert.deepEqual(hosts, ['::', '0.0.0.0']);
    });
  }

  it('does not fall back for other errors, or for a host other than ::', async () => {
    const calls: string[] = [];
    const failing = (_h: Handler, host: string): Promise<Server> => {
      calls.push(host);
      return Promise.reject(errno(host === '::' ? 'EADDRINUSE' : 'EADDRNOTAVAIL'));
    };
    await assert.rejects(listenPublic(ok, '::', 9902, failing), { code: 'EADDRINUSE' });
    await assert.rejects(listenPublic(ok, '10.0.0.7', 9902, failing), { code: 'EADDRNOTAVAIL' });
    assert.deepEqual(calls, ['::', '10.0.0.7']);
  });
});

describe('every sidecar server', { timeout: 10_000 }, () => {
  const servers = new Map<'api' | 'health' | 'metrics', Server>();
  const port = (name: 'api' | 'health' | 'metrics') => {
    const server = servers.get(name);
    assert.ok(server, `${name} server not started`);
    return boundPort(server);
  };
  before(async () => {
    servers.set(
      'api',
      await listenTcp(
        createApiHandler({
          authToken: 'a'.repeat(64),
          lookup: () => undefined,
          status: () => ({ ready: true, targets: [] }),
          quit: () => undefined,
        }),
        '127.0.0.1',
        0,
      ),
    );
    servers.set('health', await listenTcp(createHealthHandler({ notReady: () => ['db'] }), '127.0.0.1', 0));
    servers.set('metrics', await listenTcp(createMetricsHandler(new Registry()), '127.0.0.1', 0));
  });
  after(async () => {
    for (const server of servers.values()) await closeServer(server);
  });

  it('answers with X-Content-Type-Options: nosniff and Cache-Control: no-store, errors included', async () => {
    const answers: [string, Promise<TestResponse>][] = [
      ['api 200', httpRequest({ port: port('api') }, 'GET', '/v1/status')],
      ['api 404', httpRequest({ port: port('api') }, 'GET', '/<b>')],
      ['health 200', httpRequest({ port: port('health') }, 'GET', '/healthz')],
      ['health 503', httpRequest({ port: port('health') }, 'GET', '/readyz')],
      ['health 404', httpRequest({ port: port('health') }, 'GET', '/<b>')],
      ['health 405', httpRequest({ port: port('health') }, 'POST', '/healthz')],
      ['metrics 200', httpRequest({ port: port('metrics') }, 'GET', '/metrics')],
      ['metrics 404', httpRequest({ port: port('metrics') }, 'GET', '/<b>')],
      ['metrics 405', httpRequest({ port: port('metrics') }, 'DELETE', '/metrics')],
    ];
    for (const [what, pending] of answers) {
      const r = await pending;
      assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(r.headers['cache-control'], 'no-store', what);
      assert.ok(!r.body.includes('<b>'), `${what} reflects the path: ${r.body}`);
    }
  });

  it("node:http's own answer to a malformed request carries them too", async () => {
    for (const name of ['api', 'health', 'metrics'] as const) {
      const answer = await rawHttp({ port: port(name) }, 'NOT HTTP AT ALL\r\n\r\n');
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, name);
      assert.match(answer, /\r\nX-Content-Type-Options: nosniff\r\n/i, name);
      assert.match(answer, /\r\nCache-Control: no-store\r\n/i, name);
    }
  });

  it('health and metrics need no particular Host (kubelet and Prometheus send the pod IP)', async () => {
    const headers = { Host: '10.1.2.3:9902' };
    assert.equal((await httpRequest({ port: port('health') }, 'GET', '/healthz', headers)).status, 200);
    assert.equal((await httpRequest({ port: port('metrics') }, 'GET', '/metrics', headers)).status, 200);
    assert.match(
      await rawHttp({ port: port('health') }, 'GET /healthz HTTP/1.0\r\n\r\n'),
      /^HTTP\/1\.1 200 /,
    );
  });
});

describe('shownPath', () => {
  it('quotes a path without markup or control characters, at most 64 characters', () => {
    const table: [string, string][] = [
      ['/v1/token/db', '/v1/token/db'],
      ['/a%2Fb~c.d_e-f:g@h+i', '/a%2Fb~c.d_e-f:g@h+i'],
      ['/<script>alert(1)</script>', '/?script?alert?1??/script?'],
      ['/a"b\'c&d', '/a?b?c?d'],
      ['/x\u0000\u001b[31m\n', '/x???31m?'],
      ['/\u202eevil\ud800', '/?evil?'],
      [`/${'a'.repeat(100)}`, `/${'a'.repeat(63)}...`],
    ];
    for (const [path, want] of table) assert.equal(shownPath(path), want, JSON.stringify(path));
  });
});
