/**
 * Chart values map one to one onto the webhook's TOKEN_BROKER_* env vars (webhook/src/server/options.ts):
 * every option has its env var in the Deployment, each value changes exactly its env var, and the
 * default render parses into the webhook's built-in defaults.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import { SIDECAR_DEFAULT_OPTIONS } from '../../webhook/src/injection/default-options.ts';
import {
  DEFAULT_TLS_CERT_FILE,
  DEFAULT_TLS_KEY_FILE,
  SERVER_OPTIONS,
  parseWebhookOptions,
} from '../../webhook/src/server/options.ts';
import { BUILTIN_DEFAULTS } from '../../webhook/src/injection/spec.ts';
import { findOne, render, renderRun, type RenderOptions } from './support/helm.ts';

function webhookEnv(options: RenderOptions = {}): Record<string, string> {
  const deployment = findOne<IDeployment>(render(options), 'Deployment');
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'webhook');
  assert.ok(container, 'a container named webhook');
  const env: Record<string, string> = {};
  for (const item of container.env ?? []) {
    assert.equal(env[item.name], undefined, `${item.name} is set once`);
    assert.equal(item.valueFrom, undefined, `${item.name} is a plain value`);
    env[item.name] = item.value ?? '';
  }
  return env;
}

/** value path -> env var, with a non-default value and the env value it must produce. */
const MAPPING: readonly [string, string, string | number | boolean, string][] = [
  ['webhook.port', 'TOKEN_BROKER_WEBHOOK_PORT', 9443, '9443'],
  ['webhook.host', 'TOKEN_BROKER_WEBHOOK_HOST', '0.0.0.0', '0.0.0.0'],
  ['webhook.shutdownDelay', 'TOKEN_BROKER_WEBHOOK_SHUTDOWN_DELAY', '5s', '5s'],
  ['logLevel', 'TOKEN_BROKER_LOG_LEVEL', 'debug', 'debug'],
  ['serviceAccountLookup.enabled', 'TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP', false, 'false'],
  ['serviceAccountLookup.cacheTtl', 'TOKEN_BROKER_SERVICE_ACCOUNT_CACHE_TTL', '5m', '5m'],
  ['serviceAccountLookup.timeout', 'TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP_TIMEOUT', '500ms', '500ms'],
  ['sidecar.image.pullPolicy', 'TOKEN_BROKER_SIDECAR_IMAGE_PULL_POLICY', 'Always', 'Always'],
  ['sidecar.mode', 'TOKEN_BROKER_SIDECAR_MODE', 'legacy', 'legacy'],
  ['sidecar.resources.requests.cpu', 'TOKEN_BROKER_SIDECAR_CPU_REQUEST', '20m', '20m'],
  ['sidecar.resources.limits.cpu', 'TOKEN_BROKER_SIDECAR_CPU_LIMIT', '200m', '200m'],
  ['sidecar.resources.requests.memory', 'TOKEN_BROKER_SIDECAR_MEMORY_REQUEST', '80Mi', '80Mi'],
  ['sidecar.resources.limits.memory', 'TOKEN_BROKER_SIDECAR_MEMORY_LIMIT', 'none', 'none'],
  ['sidecar.refreshMargin', 'TOKEN_BROKER_REFRESH_MARGIN', '3m', '3m'],
  ['sidecar.runAsUser', 'TOKEN_BROKER_RUN_AS_USER', 1000, '1000'],
  ['sidecar.ports.api', 'TOKEN_BROKER_SIDECAR_API_PORT', 19901, '19901'],
  ['sidecar.ports.health', 'TOKEN_BROKER_SIDECAR_HEALTH_PORT', 19902, '19902'],
  ['sidecar.ports.metrics', 'TOKEN_BROKER_SIDECAR_METRICS_PORT', 19903, '19903'],
];

const ALL_OPTION_ENVS = [...Object.values(SERVER_OPTIONS), ...Object.values(SIDECAR_DEFAULT_OPTIONS)].map(
  (o) => o.env,
);

void describe('webhook env from chart values', () => {
  const defaults = webhookEnv();

  it('sets every webhook option env var, and no TOKEN_BROKER_* var the webhook does not know', () => {
    const chartEnvs = Object.keys(defaults).filter((name) => name.startsWith('TOKEN_BROKER_'));
    assert.deepEqual([...chartEnvs].sort(), [...ALL_OPTION_ENVS].sort());
  });

  it('default values parse into the webhook built-in defaults (values.yaml mirrors them)', () => {
    const options = parseWebhookOptions([], defaults);
    assert.equal(options.port, 8443);
    assert.equal(options.host, '::');
    assert.equal(options.tlsCertFile, DEFAULT_TLS_CERT_FILE);
    assert.equal(options.tlsKeyFile, DEFAULT_TLS_KEY_FILE);
    assert.equal(options.logLevel, 'info');
    assert.deepEqual(options.serviceAccountLookup, { enabled: true, cacheTtlMs: 60_000, timeoutMs: 1_000 });
    assert.equal(options.shutdownDelayMs, 2_000);
    assert.deepEqual(options.defaults, BUILTIN_DEFAULTS);
  });

  for (const [path, envName, value, expected] of MAPPING) {
    it(`${path} sets ${envName} and nothing else`, () => {
      const changed = webhookEnv(
        typeof value === 'string' ? { setString: { [path]: value } } : { set: { [path]: value } },
      );
      assert.equal(changed[envName], expected);
      assert.notEqual(defaults[envName], expected, 'the test value differs from the default');
      const others = Object.keys(changed).filter((n) => n !== envName && changed[n] !== defaults[n]);
      assert.deepEqual(others, [], `only ${envName} changed`);
      // The webhook accepts what the chart rendered.
      assert.doesNotThrow(() => parseWebhookOptions([], changed));
    });
  }

  it('the sidecar image defaults to the webhook image and follows sidecar.image.*', () => {
    assert.equal(defaults.TOKEN_BROKER_SIDECAR_IMAGE, 'ghcr.io/token-broker/token-broker:0.1.0');
    assert.equal(
      webhookEnv({ set: { 'image.repository': 'registry.example/tb', 'image.tag': '1.2.3' } })
        .TOKEN_BROKER_SIDECAR_IMAGE,
      'registry.example/tb:1.2.3',
    );
    assert.equal(
      webhookEnv({ set: { 'sidecar.image.repository': 'registry.example/broker', 'sidecar.image.tag': '9' } })
        .TOKEN_BROKER_SIDECAR_IMAGE,
      'registry.example/broker:9',
    );
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(
      webhookEnv({
        set: { 'sidecar.image.repository': 'registry.example/broker', 'sidecar.image.digest': digest },
      }).TOKEN_BROKER_SIDECAR_IMAGE,
      `registry.example/broker@${digest}`,
    );
  });

  it('an empty value renders an empty env var, which the webhook reads as its built-in default', () => {
    const env = webhookEnv({ setString: { 'sidecar.refreshMargin': '', 'webhook.shutdownDelay': '' } });
    assert.equal(env.TOKEN_BROKER_REFRESH_MARGIN, '');
    const options = parseWebhookOptions([], env);
    assert.equal(options.defaults.refreshMarginSeconds, BUILTIN_DEFAULTS.refreshMarginSeconds);
    assert.equal(options.shutdownDelayMs, 2_000);
  });

  void describe('sidecar.mode "" picks by the cluster version', () => {
    const mode = (options: RenderOptions) => webhookEnv(options).TOKEN_BROKER_SIDECAR_MODE;
    it('legacy before 1.29, where restartPolicy on init containers is dropped', () => {
      assert.equal(mode({ kubeVersion: '1.28.0' }), 'legacy');
    });
    it('native from 1.29', () => {
      assert.equal(mode({ kubeVersion: '1.29.0' }), 'native');
      assert.equal(mode({ kubeVersion: '1.30.0' }), 'native');
    });
    it('an explicit value wins', () => {
      assert.equal(mode({ kubeVersion: '1.28.0', set: { 'sidecar.mode': 'native' } }), 'native');
      assert.equal(mode({ kubeVersion: '1.30.0', set: { 'sidecar.mode': 'legacy' } }), 'legacy');
    });
  });

  it('refuses to render equal sidecar ports, naming them', () => {
    const run = renderRun({ set: { 'sidecar.ports.metrics': 9902 } });
    assert.notEqual(run.status, 0);
    assert.match(
      run.stderr,
      /sidecar\.ports: api \(9901\), health \(9902\) and metrics \(9902\) must all differ/,
    );
  });

  it('the container port follows webhook.port', () => {
    const deployment = findOne<IDeployment>(render({ set: { 'webhook.port': 9443 } }), 'Deployment');
    const container = deployment.spec?.template.spec?.containers[0];
    assert.deepEqual(container?.ports, [{ name: 'https', containerPort: 9443, protocol: 'TCP' }]);
  });

  it('extraEnv is appended after the option env vars', () => {
    const env = webhookEnv({ set: { 'extraEnv[0].name': 'TZ', 'extraEnv[0].value': 'UTC' } });
    assert.equal(env.TZ, 'UTC');
  });

  it('caps the V8 heap at webhook.maxHeapMiB (128 by default), and 0 leaves Node its own', () => {
    assert.equal(defaults.NODE_OPTIONS, '--max-old-space-size=128');
    assert.equal(webhookEnv({ set: { 'webhook.maxHeapMiB': 96 } }).NODE_OPTIONS, '--max-old-space-size=96');
    assert.equal(webhookEnv({ set: { 'webhook.maxHeapMiB': 0 } }).NODE_OPTIONS, undefined);
  });
});
