/** `token-broker status` arguments and where it asks (pure: argv and env in, endpoints out). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatusArgs, StatusUsageError } from '../../cli/status/status-args.ts';
import { sidecarEndpoints } from '../../cli/status/sidecar-endpoints.ts';
import { serializeSidecarConfig } from '../../contract/sidecar-config.ts';
import { sidecarConfig } from '../fakes/sidecar-config.ts';

const NO_FLAGS = { socket: undefined, url: undefined };

describe('status arguments', () => {
  it('parses --json, --socket, --url (also as --flag=value)', () => {
    assert.deepEqual(parseStatusArgs(['--json', '--socket', '/s']), {
      help: false,
      json: true,
      socket: '/s',
      url: undefined,
    });
    assert.equal(parseStatusArgs(['--url=http://127.0.0.1:9911']).url, 'http://127.0.0.1:9911');
    assert.equal(parseStatusArgs(['-h']).help, true);
  });

  const bad: [string, string[]][] = [
    ['an unknown flag', ['--verbose']],
    ['a flag without its value', ['--socket']],
    ['an https or bare URL', ['--url', 'localhost:9901']],
    ['both --socket and --url', ['--socket', '/s', '--url', 'http://127.0.0.1:1']],
  ];
  for (const [name, argv] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => parseStatusArgs(argv), StatusUsageError));
  }
});

describe('where status asks', () => {
  it('in the sidecar container: the socket in the config directory, then 127.0.0.1 on the config port', () => {
    const config = sidecarConfig({
      directory: '/mnt/tb',
      listen: { apiPort: 9911, healthPort: 9902, metricsPort: 9903 },
    });
    assert.deepEqual(sidecarEndpoints(NO_FLAGS, { TOKEN_BROKER_CONFIG: serializeSidecarConfig(config) }), [
      { via: 'socket', path: '/mnt/tb/broker.sock' },
      { via: 'url', url: 'http://127.0.0.1:9911' },
    ]);
  });

  it('in an app container: TOKEN_BROKER_DIR, then TOKEN_BROKER_URL (not repeated)', () => {
    assert.deepEqual(
      sidecarEndpoints(NO_FLAGS, {
        TOKEN_BROKER_DIR: '/var/run/tb/',
        TOKEN_BROKER_URL: 'http://127.0.0.1:9901',
      }),
      [
        { via: 'socket', path: '/var/run/tb/broker.sock' },
        { via: 'url', url: 'http://127.0.0.1:9901' },
      ],
    );
  });

  it('with nothing set (or a broken config): the default directory and port', () => {
    for (const env of [{}, { TOKEN_BROKER_CONFIG: '{' }]) {
      assert.deepEqual(sidecarEndpoints(NO_FLAGS, env), [
        { via: 'socket', path: '/var/run/token-broker/broker.sock' },
        { via: 'url', url: 'http://127.0.0.1:9901' },
      ]);
    }
  });

  it('a flag replaces every guess', () => {
    assert.deepEqual(
      sidecarEndpoints({ socket: '/x.sock', url: undefined }, { TOKEN_BROKER_URL: 'http://127.0.0.1:1' }),
      [{ via: 'socket', path: '/x.sock' }],
    );
    assert.deepEqual(sidecarEndpoints({ socket: undefined, url: 'http://127.0.0.1:2' }, {}), [
      { via: 'url', url: 'http://127.0.0.1:2' },
    ]);
  });
});
