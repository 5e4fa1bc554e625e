import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionsError, resolveInjectionDefaults } from '../../../webhook/src/injection/default-options.ts';
import { WEBHOOK_USAGE, parseDurationMs, parseWebhookOptions } from '../../../webhook/src/server/options.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';

function problems(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseWebhookOptions(argv, env);
  } catch (error) {
    assert.ok(error instanceof OptionsError);
    return [...error.problems];
  }
  assert.fail('expected an OptionsError');
}

void describe('webhook options', () => {
  void it('built-in defaults', () => {
    const options = parseWebhookOptions([], {});
    assert.equal(options.port, 8443);
    assert.equal(options.host, '::');
    assert.equal(options.tlsCertFile, '/etc/token-broker/tls/tls.crt');
    assert.equal(options.tlsKeyFile, '/etc/token-broker/tls/tls.key');
    assert.equal(options.logLevel, 'info');
    assert.deepEqual(options.serviceAccountLookup, { enabled: true, cacheTtlMs: 60_000, timeoutMs: 1_000 });
    assert.equal(options.shutdownDelayMs, 2_000);
    assert.deepEqual(options.defaults, BUILTIN_DEFAULTS);
  });

  void it('flag > env > built-in, and empty env counts as unset', () => {
    const env = {
      TOKEN_BROKER_WEBHOOK_PORT: '9443',
      TOKEN_BROKER_SIDECAR_IMAGE: 'registry.example/tb:env',
      TOKEN_BROKER_SIDECAR_MODE: 'legacy',
      TOKEN_BROKER_LOG_LEVEL: '',
      TOKEN_BROKER_SIDECAR_MEMORY_LIMIT: '128Mi',
    };
    const options = parseWebhookOptions(
      ['--sidecar-image', 'registry.example/tb:flag', '--refresh-margin=2m'],
      env,
    );
    assert.equal(options.port, 9443);
    assert.equal(options.defaults.sidecarImage, 'registry.example/tb:flag');
    assert.equal(options.defaults.sidecarMode, 'legacy');
    assert.equal(options.defaults.refreshMarginSeconds, 120);
    assert.equal(options.logLevel, 'info');
    assert.deepEqual(options.defaults.resources, { ...BUILTIN_DEFAULTS.resources, memoryLimit: '128Mi' });
  });

  void it('every option has its env var', () => {
    const options = parseWebhookOptions([], {
      TOKEN_BROKER_WEBHOOK_HOST: '127.0.0.1',
      TOKEN_BROKER_TLS_CERT_FILE: '/c',
      TOKEN_BROKER_TLS_KEY_FILE: '/k',
      TOKEN_BROKER_LOG_LEVEL: 'debug',
      TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP: 'false',
      TOKEN_BROKER_SERVICE_ACCOUNT_CACHE_TTL: '5m',
      TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP_TIMEOUT: '500ms',
      TOKEN_BROKER_SIDECAR_IMAGE_PULL_POLICY: 'Always',
      TOKEN_BROKER_SIDECAR_CPU_REQUEST: '20m',
      TOKEN_BROKER_SIDECAR_CPU_LIMIT: '200m',
      TOKEN_BROKER_SIDECAR_MEMORY_REQUEST: '32Mi',
      TOKEN_BROKER_SIDECAR_MEMORY_LIMIT: 'none',
      TOKEN_BROKER_REFRESH_MARGIN: '90s',
      TOKEN_BROKER_RUN_AS_USER: '1001',
      TOKEN_BROKER_WEBHOOK_SHUTDOWN_DELAY: '0',
    });
    assert.equal(options.shutdownDelayMs, 0);
    assert.equal(options.host, '127.0.0.1');
    assert.equal(options.tlsCertFile, '/c');
    assert.equal(options.tlsKeyFile, '/k');
    assert.equal(options.logLevel, 'debug');
    assert.deepEqual(options.serviceAccountLookup, { enabled: false, cacheTtlMs: 300_000, timeoutMs: 500 });
    assert.equal(options.defaults.imagePullPolicy, 'Always');
    assert.deepEqual(options.defaults.resources, {
      cpuRequest: '20m',
      cpuLimit: '200m',
      memoryRequest: '32Mi',
    });
    assert.equal(options.defaults.refreshMarginSeconds, 90);
    assert.equal(options.defaults.runAsUser, 1001);
  });

  void it('the result is frozen, and the built-in defaults are not touched', () => {
    const options = parseWebhookOptions(['--sidecar-cpu-request', '50m'], {});
    assert.ok(Object.isFrozen(options));
    assert.ok(Object.isFrozen(options.defaults.resources));
    assert.equal(BUILTIN_DEFAULTS.resources.cpuRequest, '10m');
  });

  void it('lists every problem, naming the flag or env var, the value and the fix', () => {
    const found = problems(['--port', '70000', '--sidecar-mode', 'sidecar', '--log-level', 'loud'], {
      TOKEN_BROKER_SIDECAR_MEMORY_REQUEST: '48 megs',
      TOKEN_BROKER_RUN_AS_USER: '0',
      TOKEN_BROKER_REFRESH_MARGIN: '1h',
      TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP: 'maybe',
      TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP_TIMEOUT: '1 minute',
      TOKEN_BROKER_SIDECAR_IMAGE_PULL_POLICY: 'Sometimes',
    });
    const text = found.join('\n');
    assert.equal(found.length, 9, text);
    assert.match(text, /--port="70000": must be a port number/);
    assert.match(text, /--sidecar-mode="sidecar": sidecar mode must be "native" or "legacy"/);
    assert.match(text, /--log-level="loud": must be one of fatal, error/);
    assert.match(
      text,
      /TOKEN_BROKER_SIDECAR_MEMORY_REQUEST="48 megs": is not a Kubernetes quantity. Fix: write memory/,
    );
    assert.match(text, /TOKEN_BROKER_RUN_AS_USER="0": the sidecar never runs as root/);
    assert.match(text, /TOKEN_BROKER_REFRESH_MARGIN="1h"/);
    assert.match(text, /TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP="maybe": must be true or false/);
    assert.match(text, /TOKEN_BROKER_SERVICE_ACCOUNT_LOOKUP_TIMEOUT="1 minute": must be a duration/);
    assert.match(text, /TOKEN_BROKER_SIDECAR_IMAGE_PULL_POLICY="Sometimes": must be one of Always/);
  });

  void it('rejects a request above its limit', () => {
    const found = problems(['--sidecar-memory-request', '256Mi']);
    assert.match(found.join('\n'), /memory request 256Mi is above its limit 128Mi/);
  });

  void it('rejects unknown flags and stray arguments', () => {
    assert.match(problems(['--prot', '1']).join(''), /Unknown option '--prot'.*--help/);
    assert.match(problems(['serve']).join(''), /serve/);
  });

  void it('usage lists every flag with its env var', () => {
    assert.match(
      WEBHOOK_USAGE,
      /--tls-cert-file\s+PEM certificate \(chain\) \[\$TOKEN_BROKER_TLS_CERT_FILE\]/,
    );
    assert.match(WEBHOOK_USAGE, /--sidecar-cpu-limit .*\[\$TOKEN_BROKER_SIDECAR_CPU_LIMIT\]/);
  });

  void it('injection defaults on their own (what `inject` uses)', () => {
    const found: string[] = [];
    const defaults = resolveInjectionDefaults({ 'sidecar-mode': 'legacy' }, {}, found);
    assert.deepEqual(found, []);
    assert.deepEqual(defaults, {
      ...BUILTIN_DEFAULTS,
      resources: { ...BUILTIN_DEFAULTS.resources },
      sidecarMode: 'legacy',
    });
  });

  void it('sidecar ports: flag or env, 1024..65535, all different', () => {
    const options = parseWebhookOptions(['--sidecar-api-port', '19901'], {
      TOKEN_BROKER_SIDECAR_HEALTH_PORT: '19902',
      TOKEN_BROKER_SIDECAR_METRICS_PORT: '19903',
    });
    assert.deepEqual(
      [options.defaults.apiPort, options.defaults.healthPort, options.defaults.metricsPort],
      [19901, 19902, 19903],
    );
    const bad = problems(['--sidecar-api-port', '80', '--sidecar-health-port', 'http'], {
      TOKEN_BROKER_SIDECAR_METRICS_PORT: '70000',
    }).join('\n');
    assert.match(bad, /--sidecar-api-port="80": must be a port number 1024..65535/);
    assert.match(bad, /--sidecar-health-port="http": must be a port number 1024..65535/);
    assert.match(bad, /TOKEN_BROKER_SIDECAR_METRICS_PORT="70000": must be a port number 1024..65535/);
    assert.deepEqual(problems(['--sidecar-metrics-port', '9902']), [
      '--sidecar-health-port (default) and --sidecar-metrics-port are both 9902: ' +
        "the sidecar's API, health and metrics ports must differ",
    ]);
    assert.match(
      problems([], { TOKEN_BROKER_SIDECAR_API_PORT: '9999', TOKEN_BROKER_SIDECAR_HEALTH_PORT: '9999' }).join(
        '',
      ),
      /TOKEN_BROKER_SIDECAR_API_PORT and TOKEN_BROKER_SIDECAR_HEALTH_PORT are both 9999/,
    );
    assert.match(WEBHOOK_USAGE, /--sidecar-metrics-port .*\[\$TOKEN_BROKER_SIDECAR_METRICS_PORT\]/);
  });

  void it('durations', () => {
    assert.equal(parseDurationMs('60'), 60_000);
    assert.equal(parseDurationMs('1.5s'), 1_500);
    assert.equal(parseDurationMs('250ms'), 250);
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('1h'), undefined);
    assert.equal(parseDurationMs(''), undefined);
  });
});
