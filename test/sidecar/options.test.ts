import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SidecarConfigError, serializeSidecarConfig } from '../../contract/sidecar-config.ts';
import { parseSidecarOptions, SidecarOptionsError } from '../../sidecar/src/options.ts';
import { rdsTarget, sidecarConfig } from '../fakes/sidecar-config.ts';

const config = sidecarConfig({ targets: [rdsTarget({ name: 'db' })] });
const env = {
  TOKEN_BROKER_CONFIG: serializeSidecarConfig(config),
  TOKEN_BROKER_POD_NAME: 'pod-1',
  TOKEN_BROKER_POD_NAMESPACE: 'ns',
};

describe('parseSidecarOptions', () => {
  it('reads the config and the downward-API env, frozen', () => {
    const o = parseSidecarOptions([], env);
    assert.equal(o.podName, 'pod-1');
    assert.equal(o.podNamespace, 'ns');
    assert.equal(o.once, false);
    assert.equal(o.logLevel, 'info');
    assert.equal(o.config.targets[0]?.name, 'db');
    assert.ok(Object.isFrozen(o));
    assert.ok(Object.isFrozen(o.config));
  });
  it('--once and --log-level in both spellings; the flag beats TOKEN_BROKER_LOG_LEVEL', () => {
    assert.equal(parseSidecarOptions(['--once'], env).once, true);
    assert.equal(parseSidecarOptions(['--log-level', 'debug'], env).logLevel, 'debug');
    assert.equal(
      parseSidecarOptions(['--log-level=warn'], { ...env, TOKEN_BROKER_LOG_LEVEL: 'debug' }).logLevel,
      'warn',
    );
    assert.equal(parseSidecarOptions([], { ...env, TOKEN_BROKER_LOG_LEVEL: 'error' }).logLevel, 'error');
  });
  it('--once-timeout in both spellings, else TOKEN_BROKER_ONCE_TIMEOUT, else 60 s; 0 is allowed', () => {
    assert.equal(parseSidecarOptions(['--once'], env).onceTimeoutMs, 60_000);
    assert.equal(parseSidecarOptions(['--once', '--once-timeout', '90'], env).onceTimeoutMs, 90_000);
    assert.equal(
      parseSidecarOptions(['--once', '--once-timeout=0'], { ...env, TOKEN_BROKER_ONCE_TIMEOUT: '5' })
        .onceTimeoutMs,
      0,
    );
    assert.equal(
      parseSidecarOptions(['--once'], { ...env, TOKEN_BROKER_ONCE_TIMEOUT: ' 5 ' }).onceTimeoutMs,
      5_000,
    );
  });
  const bad: [string, string[], Record<string, string | undefined>, RegExp][] = [
    ['--once-timeout without value', ['--once', '--once-timeout'], env, /--once-timeout needs a value/],
    [
      '--once-timeout not a number',
      ['--once', '--once-timeout', '1m'],
      env,
      /--once-timeout: "1m" is not a whole number of seconds; use e\.g\. 60/,
    ],
    [
      'bad TOKEN_BROKER_ONCE_TIMEOUT',
      ['--once'],
      { ...env, TOKEN_BROKER_ONCE_TIMEOUT: '-1' },
      /TOKEN_BROKER_ONCE_TIMEOUT: "-1" is not a whole number of seconds/,
    ],
    ['--once-timeout without --once', ['--once-timeout', '5'], env, /--once-timeout applies to --once only/],
    ['unknown flag', ['--foo'], env, /unknown argument "--foo"; usage/],
    ['--log-level without value', ['--log-level'], env, /--log-level needs a value/],
    ['bad level', ['--log-level', 'loud'], env, /--log-level: "loud" is not a log level/],
    ['bad env level', [], { ...env, TOKEN_BROKER_LOG_LEVEL: 'loud' }, /TOKEN_BROKER_LOG_LEVEL: "loud"/],
    [
      'no config',
      [],
      { ...env, TOKEN_BROKER_CONFIG: undefined },
      /TOKEN_BROKER_CONFIG is not set; it is written by the token-broker webhook/,
    ],
    [
      'no pod name',
      [],
      { ...env, TOKEN_BROKER_POD_NAME: '' },
      /TOKEN_BROKER_POD_NAME is not set; .*downward API/,
    ],
    [
      'no namespace',
      [],
      { ...env, TOKEN_BROKER_POD_NAMESPACE: undefined },
      /TOKEN_BROKER_POD_NAMESPACE is not set/,
    ],
  ];
  for (const [name, argv, e, message] of bad) {
    it(`rejects: ${name}`, () => {
      assert.throws(
        () => parseSidecarOptions(argv, e),
        (err: unknown) => err instanceof SidecarOptionsError && message.test(err.message),
      );
    });
  }
  it('config errors come from the contract parser, naming the field', () => {
    assert.throws(
      () => parseSidecarOptions([], { ...env, TOKEN_BROKER_CONFIG: '{"apiVersion":"x"}' }),
      SidecarConfigError,
    );
  });
});

describe('TOKEN_BROKER_LISTEN_HOST', () => {
  it('defaults to :: (dual stack, for IPv6 clusters) and accepts IP addresses', () => {
    assert.equal(parseSidecarOptions([], env).listenHost, '::');
    assert.equal(
      parseSidecarOptions([], { ...env, TOKEN_BROKER_LISTEN_HOST: '0.0.0.0' }).listenHost,
      '0.0.0.0',
    );
    assert.equal(parseSidecarOptions([], { ...env, TOKEN_BROKER_LISTEN_HOST: '::' }).listenHost, '::');
    assert.equal(
      parseSidecarOptions([], { ...env, TOKEN_BROKER_LISTEN_HOST: '127.0.0.1' }).listenHost,
      '127.0.0.1',
    );
  });
  it('rejects a host name', () => {
    assert.throws(
      () => parseSidecarOptions([], { ...env, TOKEN_BROKER_LISTEN_HOST: 'example.com' }),
      /TOKEN_BROKER_LISTEN_HOST: "example.com" is not an IP address/,
    );
  });
});
