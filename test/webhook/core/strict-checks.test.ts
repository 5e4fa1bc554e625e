/** The strict pod checks used by the fixture and property tests catch what kubernetes-models lets through. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { assertInjectedStrict, assertKnownFields, validatePod } from './support.ts';

function pod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      initContainers: [
        {
          name: 'token-broker',
          image: 'tb:1',
          restartPolicy: 'Always',
          startupProbe: { httpGet: { path: '/readyz', port: 'tb-health' }, periodSeconds: 1 },
          volumeMounts: [{ name: 'token-broker', mountPath: '/var/run/token-broker' }],
          resources: { requests: { cpu: '10m' } },
        },
      ],
      containers: [{ name: 'app', image: 'app:1' }],
      volumes: [{ name: 'token-broker', emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } }],
    },
  };
}

test('a well-formed injected pod passes', () => {
  assert.doesNotThrow(() => assertInjectedStrict(pod()));
  assert.doesNotThrow(() => assertKnownFields(pod(), 'V1Pod', 'pod'));
});

test('an unknown field in an injected container fails (kubernetes-models accepts it)', () => {
  const p = pod();
  const sidecar = p.spec.initContainers?.[0];
  assert.ok(sidecar);
  sidecar.startupprobe = sidecar.startupProbe;
  assert.doesNotThrow(() => validatePod(p), 'kubernetes-models lets it through');
  assert.throws(
    () => assertInjectedStrict(p),
    /spec\.initContainers\[0\]\.startupprobe is not a field of V1Container/,
  );
});

test('an unknown field deep inside fails with its path', () => {
  const p = pod();
  const probe = p.spec.initContainers?.[0]?.startupProbe;
  assert.ok(probe);
  (probe as Record<string, unknown>).httpget = {};
  assert.throws(() => assertInjectedStrict(p), /startupProbe\.httpget is not a field of V1Probe/);
  const v = p.spec.volumes?.[0];
  assert.ok(v?.emptyDir);
  (v.emptyDir as Record<string, unknown>).size = '4Mi';
  assert.throws(
    () => assertKnownFields(v, 'V1Volume', 'v'),
    /v\.emptyDir\.size is not a field of V1EmptyDirVolumeSource/,
  );
});

test('a container name used in both initContainers and containers fails', () => {
  const p = pod();
  p.spec.containers.push({ name: 'token-broker', image: 'tb:1' });
  assert.throws(() => assertInjectedStrict(p), /container names must be unique/);
});

test('a mount of a volume the pod lacks fails', () => {
  const p = pod();
  p.spec.volumes = [];
  assert.throws(() => assertInjectedStrict(p), /mounts volume "token-broker", which the pod lacks/);
});
