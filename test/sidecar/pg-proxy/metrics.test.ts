/** The proxy's byte counters: counted as plain numbers by the relay, published at each scrape. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createProxyMetrics } from '../../../sidecar/src/pg-proxy/metrics.ts';
import { sample } from './support/proxy-harness.ts';

const series = (target: string, direction: string): string =>
  `token_broker_proxy_bytes_total{target="${target}",direction="${direction}"}`;

describe('proxy byte counters', () => {
  it('start at zero for every target and direction', async () => {
    const registry = new Registry();
    createProxyMetrics(registry, ['orders', 'ledger']);
    const text = await registry.metrics();
    for (const target of ['orders', 'ledger'])
      for (const direction of ['to-database', 'to-client'])
        assert.equal(sample(text, series(target, direction)), 0);
  });

  it('show every byte relayed by the time of each scrape, once, per target and direction', async () => {
    const registry = new Registry();
    const metrics = createProxyMetrics(registry, ['orders', 'ledger']);
    const orders = metrics.forTarget('orders');
    orders.relayed('to-database', 40);
    orders.relayed('to-client', 300);
    orders.relayed('to-database', 2);
    let text = await registry.metrics();
    assert.equal(sample(text, series('orders', 'to-database')), 42);
    assert.equal(sample(text, series('orders', 'to-client')), 300);
    assert.equal(sample(text, series('ledger', 'to-database')), 0);

    // A second handle on the same target shares its counts; a scrape with nothing new changes nothing.
    metrics.forTarget('orders').relayed('to-client', 5);
    metrics.forTarget('ledger').relayed('to-database', 7);
    text = await registry.metrics();
    assert.equal(sample(text, series('orders', 'to-database')), 42);
    assert.equal(sample(text, series('orders', 'to-client')), 305);
    assert.equal(sample(text, series('ledger', 'to-database')), 7);
    text = await registry.metrics();
    assert.equal(sample(text, series('orders', 'to-client')), 305);
    assert.equal(sample(text, series('ledger', 'to-database')), 7);
  });
});
