/** The PostgreSQL proxy option: `proxy=<port>` on an RDS target and the CA ConfigMap annotation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSidecarConfig, SIDECAR_CONFIG_ENV } from '../../../contract/sidecar-config.ts';
import { parseConfigMapRef } from '../../../webhook/src/injection/annotations.ts';
import { injectPod } from '../../../webhook/src/injection/inject.ts';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { BUILTIN_DEFAULTS, resolveSpec } from '../../../webhook/src/injection/spec.ts';
import { parseRdsTarget } from '../../../webhook/src/injection/target-uri.ts';
import { deepFreeze } from './support.ts';

const HOST = 'orders.cluster-x.eu-west-1.rds.amazonaws.com';
const CA_FILE = '/etc/token-broker/rds-ca/global-bundle.pem';

describe('parseRdsTarget: proxy=<port>', () => {
  it('gives a postgres target a proxy on that port, with the CA file it is told', () => {
    const parsed = parseRdsTarget(
      'orders',
      `postgres://orders_app@${HOST}/orders?proxy=6432`,
      undefined,
      '/x/ca.pem',
    );
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.target?.proxy, { port: 6432, caFile: '/x/ca.pem' });
  });

  it('defaults the CA file to the mounted global bundle', () => {
    const parsed = parseRdsTarget('orders', `postgres://orders_app@${HOST}/orders?proxy=6432`);
    assert.equal(parsed.target?.proxy?.caFile, CA_FILE);
  });

  it('leaves a target without proxy= without a proxy', () => {
    assert.equal(parseRdsTarget('orders', `postgres://orders_app@${HOST}/orders`).target?.proxy, undefined);
  });

  const denied: [string, string, string, RegExp][] = [
    [
      'mysql',
      `mysql://orders_app@${HOST}/orders?proxy=6432`,
      'proxy-unsupported-engine',
      /PostgreSQL only; use the token file/,
    ],
    [
      'a privileged port',
      `postgres://orders_app@${HOST}/orders?proxy=1023`,
      'invalid-proxy-port',
      /1024 to 65535/,
    ],
    [
      'beyond 65535',
      `postgres://orders_app@${HOST}/orders?proxy=65536`,
      'invalid-proxy-port',
      /1024 to 65535/,
    ],
    ['not a number', `postgres://orders_app@${HOST}/orders?proxy=yes`, 'invalid-proxy-port', /"yes"/],
    ['empty', `postgres://orders_app@${HOST}/orders?proxy=`, 'invalid-proxy-port', /""/],
  ];
  for (const [name, uri, code, message] of denied) {
    it(`denies ${name} with ${code}, naming the annotation`, () => {
      const parsed = parseRdsTarget('orders', uri);
      assert.equal(parsed.target, undefined);
      assert.deepEqual(
        parsed.errors.map((e) => e.code),
        [code],
      );
      assert.equal(parsed.errors[0]?.annotation, 'token-broker.io/rds-orders');
      assert.match(parsed.errors[0]?.message ?? '', message);
      assert.ok((parsed.errors[0]?.fix ?? '').length > 0);
    });
  }
});

describe('parseConfigMapRef', () => {
  const cases: [string, unknown][] = [
    ['rds-ca', { name: 'rds-ca', key: 'global-bundle.pem' }],
    ['rds-ca/eu-west-1-bundle.pem', { name: 'rds-ca', key: 'eu-west-1-bundle.pem' }],
    ['certs.team-a/ca_bundle', { name: 'certs.team-a', key: 'ca_bundle' }],
  ];
  for (const [value, want] of cases) {
    it(value, () => assert.deepEqual(parseConfigMapRef(value), { ok: true, value: want }));
  }
  for (const value of [
    '',
    'RDS-CA',
    'rds-ca/',
    'rds-ca/../etc',
    'rds-ca/a/b',
    'rds-ca/..',
    'rds-ca/..data',
    '-ca',
  ]) {
    it(`denies ${JSON.stringify(value)}`, () => {
      const parsed = parseConfigMapRef(value);
      assert.equal(parsed.ok, false);
      assert.match(
        parsed.ok ? '' : parsed.error.fix,
        /kubectl create configmap rds-ca --from-file=global-bundle\.pem/,
      );
    });
  }
});

function pod(annotations: Record<string, string>, ports: number[] = []): Pod {
  return deepFreeze({
    metadata: { name: 'p', annotations: { 'token-broker.io/inject': 'true', ...annotations } },
    spec: {
      securityContext: { runAsUser: 1000 },
      containers: [{ name: 'app', ports: ports.map((containerPort) => ({ containerPort })) }],
    },
  });
}

describe('resolveSpec and injection with a proxied target', () => {
  const annotations = {
    'token-broker.io/rds-orders': `postgres://orders_app@${HOST}/orders?proxy=6432`,
    'token-broker.io/rds-ca-configmap': 'rds-ca',
  };

  it('mounts the CA bundle in the sidecar only, and gives the app the proxy env', () => {
    const p = pod(annotations);
    const result = resolveSpec(p, 'ns', BUILTIN_DEFAULTS);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.spec.rdsCa, { name: 'rds-ca', key: 'global-bundle.pem' });
    const out = injectPod(p, result.spec).pod;
    const sidecar = out.spec.initContainers?.[0];
    const app = out.spec.containers[0];
    assert.deepEqual(
      sidecar?.volumeMounts?.find((m) => m.name === 'token-broker-rds-ca'),
      { name: 'token-broker-rds-ca', mountPath: '/etc/token-broker/rds-ca', readOnly: true },
    );
    assert.equal(
      app?.volumeMounts?.some((m) => m.name === 'token-broker-rds-ca'),
      false,
    );
    assert.deepEqual(
      out.spec.volumes?.find((v) => v.name === 'token-broker-rds-ca'),
      {
        name: 'token-broker-rds-ca',
        configMap: { name: 'rds-ca', items: [{ key: 'global-bundle.pem', path: 'global-bundle.pem' }] },
      },
    );
    const env = Object.fromEntries((app?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.TOKEN_BROKER_ORDERS_PROXY_HOST, '127.0.0.1');
    assert.equal(env.TOKEN_BROKER_ORDERS_PROXY_PORT, '6432');
    assert.equal(
      env.TOKEN_BROKER_ORDERS_PROXY_URL,
      'postgresql://orders_app@127.0.0.1:6432/orders?sslmode=disable',
    );
    assert.equal(
      env.TOKEN_BROKER_ORDERS_JDBC_URL,
      'jdbc:postgresql://127.0.0.1:6432/orders?user=orders_app&sslmode=disable',
    );
    // The sidecar reads the same file the volume provides.
    const config = parseSidecarConfig(sidecar?.env?.find((e) => e.name === SIDECAR_CONFIG_ENV)?.value ?? '');
    const target = config.targets[0];
    assert.deepEqual(target?.kind === 'rds' && target.proxy, { port: 6432, caFile: CA_FILE });
  });

  it('percent-encodes the user and database in the URLs', () => {
    const p = pod({
      ...annotations,
      'token-broker.io/rds-orders': `postgres://orders%2Bapp@${HOST}/order%20s?proxy=6432`,
    });
    const result = resolveSpec(p, 'ns', BUILTIN_DEFAULTS);
    assert.ok(result.ok, JSON.stringify(result));
    const env = Object.fromEntries(
      (injectPod(p, result.spec).pod.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    assert.equal(
      env.TOKEN_BROKER_ORDERS_PROXY_URL,
      'postgresql://orders%2Bapp@127.0.0.1:6432/order%20s?sslmode=disable',
    );
  });

  it('denies a proxied target without the CA ConfigMap, saying how to create it', () => {
    const result = resolveSpec(
      pod({ 'token-broker.io/rds-orders': annotations['token-broker.io/rds-orders'] }),
      'ns',
      BUILTIN_DEFAULTS,
    );
    assert.equal(result.ok, false);
    const errors = result.ok ? [] : result.errors;
    assert.deepEqual(
      errors.map((e) => [e.code, e.annotation]),
      [['missing-rds-ca', 'token-broker.io/rds-ca-configmap']],
    );
    assert.match(
      errors[0]?.fix ?? '',
      /truststore\.pki\.rds\.amazonaws\.com.*kubectl create configmap rds-ca/,
    );
  });

  it("denies a proxy port that is the sidecar's or another target's", () => {
    for (const [extra, want] of [
      [{ 'token-broker.io/rds-orders': `postgres://orders_app@${HOST}/orders?proxy=9902` }, /health port/],
      [
        { 'token-broker.io/rds-reports': `postgres://r@${HOST}/reports?proxy=6432` },
        /proxy port of target "orders"/,
      ],
    ] as const) {
      const result = resolveSpec(pod({ ...annotations, ...extra }), 'ns', BUILTIN_DEFAULTS);
      assert.equal(result.ok, false);
      const errors = result.ok ? [] : result.errors;
      assert.deepEqual(
        errors.map((e) => e.code),
        ['proxy-port-conflict'],
      );
      assert.match(errors[0]?.message ?? '', want);
    }
  });

  it('warns about a CA ConfigMap no target uses, and mounts nothing', () => {
    const p = pod({
      'token-broker.io/rds-orders': `postgres://orders_app@${HOST}/orders`,
      'token-broker.io/rds-ca-configmap': 'rds-ca',
    });
    const result = resolveSpec(p, 'ns', BUILTIN_DEFAULTS);
    assert.ok(result.ok);
    assert.equal(result.spec.rdsCa, undefined);
    assert.match(result.warnings.join('\n'), /no token-broker\.io\/rds-<name> target has proxy=<port>/);
    assert.equal(
      injectPod(p, result.spec).pod.spec.volumes?.some((v) => v.name === 'token-broker-rds-ca'),
      false,
    );
  });

  it("warns when an app container declares the proxy's port", () => {
    const result = resolveSpec(pod(annotations, [6432]), 'ns', BUILTIN_DEFAULTS);
    assert.ok(result.ok);
    assert.match(
      result.warnings.join('\n'),
      /port 6432, which the PostgreSQL proxy of target "orders" listens on/,
    );
  });

  it('reserves the CA volume name', () => {
    const p = deepFreeze({
      ...pod(annotations),
      spec: { ...pod(annotations).spec, volumes: [{ name: 'token-broker-rds-ca', emptyDir: {} }] },
    });
    const result = resolveSpec(p, 'ns', BUILTIN_DEFAULTS);
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.errors.map((e) => e.code), ['reserved-name']);
  });
});
