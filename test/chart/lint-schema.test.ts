/** `helm lint --strict` and values.schema.json: wrong types and unknown keys fail with a clear message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHART_DIR, renderRun, runHelm, type RenderOptions } from './support/helm.ts';

void describe('helm lint --strict', () => {
  for (const [label, args] of [
    ['default values', []],
    [
      'cert-manager mode with monitoring',
      [
        '--set',
        'tls.mode=cert-manager',
        '--set',
        'prometheusRule.enabled=true',
        '--set',
        'metrics.serviceMonitor.enabled=true',
      ],
    ],
    [
      'secret mode, legacy sidecar',
      [
        '--set',
        'tls.mode=secret',
        '--set',
        'tls.secret.name=tls',
        '--set',
        'tls.secret.caBundle=Zm9v',
        '--set',
        'sidecar.mode=legacy',
      ],
    ],
  ] as const) {
    it(`passes with ${label}`, () => {
      const run = runHelm(['lint', '--strict', CHART_DIR, ...args]);
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(run.stdout, /\[(WARNING|ERROR)\]/);
    });
  }
});

void describe('values.schema.json rejects bad values before rendering', () => {
  const cases: [string, RenderOptions, RegExp][] = [
    ['replicaCount=abc', { set: { replicaCount: 'abc' } }, /at '\/replicaCount': got string, want integer/],
    ['an unknown top-level key', { set: { replicas: 2 } }, /additional properties 'replicas' not allowed/],
    [
      'an unknown key under webhook',
      { set: { 'webhook.failPolicy': 'Fail' } },
      /additional properties 'failPolicy' not allowed/,
    ],
    [
      'failurePolicy=Retry',
      { set: { 'webhook.failurePolicy': 'Retry' } },
      /at '\/webhook\/failurePolicy': value must be one of 'Fail', 'Ignore'/,
    ],
    [
      'timeoutSeconds=60',
      { set: { 'webhook.timeoutSeconds': 60 } },
      /at '\/webhook\/timeoutSeconds': maximum: got 60, want 30/,
    ],
    [
      'sidecar.mode=sidecar',
      { set: { 'sidecar.mode': 'sidecar' } },
      /at '\/sidecar\/mode': value must be one of '', 'native', 'legacy'/,
    ],
    [
      'a privileged sidecar port',
      { set: { 'sidecar.ports.health': 80 } },
      /at '\/sidecar\/ports\/health': minimum: got 80, want 1,024/,
    ],
    [
      'an unknown sidecar port',
      { set: { 'sidecar.ports.admin': 9904 } },
      /additional properties 'admin' not allowed/,
    ],
    [
      'tls.mode=acme',
      { set: { 'tls.mode': 'acme' } },
      /at '\/tls\/mode': value must be one of 'helm', 'cert-manager', 'secret'/,
    ],
    ['logLevel=verbose', { set: { logLevel: 'verbose' } }, /at '\/logLevel': value must be one of/],
    [
      'a memory request with a bad unit',
      { set: { 'sidecar.resources.requests.memory': '48MB' } },
      /at '\/sidecar\/resources\/requests\/memory'/,
    ],
    ['refreshMargin=700', { set: { 'sidecar.refreshMargin': 700 } }, /at '\/sidecar\/refreshMargin'/],
    [
      'a duration without unit grammar',
      { set: { 'serviceAccountLookup.timeout': 'soon' } },
      /at '\/serviceAccountLookup\/timeout'/,
    ],
    [
      'port=70000',
      { set: { 'webhook.port': 70000 } },
      /at '\/webhook\/port': maximum: got 70,000, want 65,535/,
    ],
  ];
  for (const [label, options, message] of cases) {
    it(`rejects ${label}`, () => {
      const run = renderRun(options);
      assert.notEqual(run.status, 0, 'helm template must fail');
      assert.match(run.stderr, /values don't meet the specifications of the schema/);
      assert.match(run.stderr, message);
    });
  }

  it('accepts the documented alternative forms', () => {
    const forms: RenderOptions[] = [
      { set: { 'sidecar.refreshMargin': 90 } },
      { setString: { 'sidecar.refreshMargin': '1m30s' } },
      { setString: { 'sidecar.resources.limits.memory': 'none' } },
      { set: { 'image.tag': 2 } },
    ];
    for (const options of forms) {
      const run = renderRun(options);
      assert.equal(run.status, 0, `${JSON.stringify(options)}: ${run.stderr}`);
    }
  });
});
