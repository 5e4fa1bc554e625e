import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { describe, it } from 'node:test';
import {
  boundAddress,
  boundPort,
  closeServer,
  listenPublic,
  listenTcp,
  type Handler,
} from '../../sidecar/src/http.ts';
import { httpRequest } from './support/http-client.ts';
import { hasIpv6Loopback } from './support/ipv6.ts';

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
