import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPodTemplates, rerootPatch } from '../../../webhook/src/cli/workloads.ts';

const podSpec = { containers: [{ name: 'app', image: 'x' }] };
const template = { metadata: { labels: { app: 'x' } }, spec: podSpec };

function pointers(doc: unknown): string[] {
  return findPodTemplates(doc).map((t) => t.pointer);
}

void describe('findPodTemplates', () => {
  const cases: [string, unknown, string[]][] = [
    ['Pod', { kind: 'Pod', metadata: { name: 'p' }, spec: podSpec }, ['']],
    ['Deployment', { kind: 'Deployment', spec: { template } }, ['/spec/template']],
    ['StatefulSet', { kind: 'StatefulSet', spec: { template } }, ['/spec/template']],
    ['DaemonSet', { kind: 'DaemonSet', spec: { template } }, ['/spec/template']],
    ['ReplicaSet', { kind: 'ReplicaSet', spec: { template } }, ['/spec/template']],
    ['Job', { kind: 'Job', spec: { template } }, ['/spec/template']],
    [
      'CronJob',
      { kind: 'CronJob', spec: { jobTemplate: { spec: { template } } } },
      ['/spec/jobTemplate/spec/template'],
    ],
    [
      'List of mixed items',
      {
        kind: 'List',
        items: [
          { kind: 'Service', spec: {} },
          { kind: 'Deployment', spec: { template } },
          { kind: 'CronJob', spec: { jobTemplate: { spec: { template } } } },
        ],
      },
      ['/items/1/spec/template', '/items/2/spec/jobTemplate/spec/template'],
    ],
    [
      'DeploymentList',
      { kind: 'DeploymentList', items: [{ kind: 'Deployment', spec: { template } }] },
      ['/items/0/spec/template'],
    ],
    ['Service', { kind: 'Service', spec: { ports: [] } }, []],
    ['ConfigMap', { kind: 'ConfigMap', data: { template: 'x' } }, []],
    ['Deployment without a template', { kind: 'Deployment', spec: {} }, []],
    ['a scalar', 'hello', []],
    ['null', null, []],
    ['no kind', { spec: { template } }, []],
  ];
  for (const [name, doc, expected] of cases) {
    void it(name, () => assert.deepEqual(pointers(doc), expected));
  }

  void it('names the owner and its namespace', () => {
    const [ref] = findPodTemplates({
      kind: 'Job',
      metadata: { name: 'migrate', namespace: 'billing' },
      spec: { template },
    });
    assert.deepEqual(ref?.owner, { kind: 'Job', name: 'migrate', namespace: 'billing' });
    assert.equal(ref?.template, template);
  });
});

void describe('rerootPatch', () => {
  void it('prefixes paths with the template pointer and leaves the input alone', () => {
    const patch = [
      { op: 'add' as const, path: '/metadata/annotations/token-broker.io~1status', value: 'injected' },
    ];
    assert.deepEqual(rerootPatch(patch, '/spec/template'), [
      { op: 'add', path: '/spec/template/metadata/annotations/token-broker.io~1status', value: 'injected' },
    ]);
    assert.equal(patch[0]?.path, '/metadata/annotations/token-broker.io~1status');
    assert.deepEqual(rerootPatch(patch, ''), patch);
  });
});
