/**
 * Golden fixtures: every `test/fixtures/pods/<case>.yaml` is a Pod; `<case>.expected.yaml` holds the
 * outcome with the patch and warnings, the denial message, or the skip reason. Adding a case needs no
 * code. `UPDATE_GOLDEN=1` rewrites the expected files (review the diff).
 *
 * Test-only annotations, stripped before mutating:
 * - `test.token-broker.io/service-account-annotations`: JSON annotations of the pod's ServiceAccount
 *   (absent: no ServiceAccount is passed, as when the lookup is disabled)
 * - `test.token-broker.io/defaults`: JSON overrides of the webhook defaults
 * - `test.token-broker.io/secret`: a string that must appear nowhere in the result
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseSidecarConfig, SIDECAR_CONFIG_ENV } from '../../../contract/sidecar-config.ts';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod, type MutateInput, type MutateResult } from '../../../webhook/src/injection/mutate.ts';
import { mergeDefaults, type DefaultsOverrides } from '../../../webhook/src/injection/spec.ts';
import {
  applyJsonPatch,
  asJson,
  assertInjectedStrict,
  assertKnownFields,
  deepFreeze,
  validatePod,
} from './support.ts';

const FIXTURES = new URL('../../fixtures/pods/', import.meta.url);
const TEST_PREFIX = 'test.token-broker.io/';
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Prepared {
  input: MutateInput;
  secret: string | undefined;
}

function prepare(raw: Pod): Prepared {
  const pod = structuredClone(raw);
  const annotations = pod.metadata?.annotations ?? {};
  const testValues: Record<string, string> = {};
  for (const key of Object.keys(annotations)) {
    if (!key.startsWith(TEST_PREFIX)) continue;
    testValues[key.slice(TEST_PREFIX.length)] = annotations[key] ?? '';
    delete annotations[key];
  }
  const saAnnotations = testValues['service-account-annotations'];
  const overrides = testValues.defaults;
  const input: MutateInput = {
    pod: deepFreeze(pod),
    namespace: pod.metadata?.namespace ?? 'default',
    defaults: mergeDefaults(overrides ? (JSON.parse(overrides) as DefaultsOverrides) : {}),
    serviceAccount:
      saAnnotations === undefined
        ? undefined
        : {
            name: pod.spec.serviceAccountName ?? 'default',
            annotations: JSON.parse(saAnnotations) as Record<string, string>,
          },
  };
  return { input, secret: testValues.secret };
}

function summarize(result: MutateResult): Record<string, unknown> {
  switch (result.outcome) {
    case 'skipped':
      return { outcome: result.outcome, reason: result.reason };
    case 'denied':
      return {
        outcome: result.outcome,
        codes: result.errors.map((e) => e.code),
        message: result.message,
        warnings: result.warnings,
      };
    default:
      return { outcome: result.outcome, warnings: result.warnings, patch: result.patch };
  }
}

const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.expected.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

test('the fixture set covers the required scenarios', () => {
  assert.ok(
    cases.filter((c) => c.startsWith('deny-')).length >= 20,
    'at least 20 malformed-annotation cases',
  );
  for (const required of [
    'rds-postgres',
    'mongo-atlas-role',
    'several-targets',
    'existing-init-containers',
    'istio-proxy',
    'job-never',
    'container-allow-list',
    'legacy-mode',
    'aws-credentials-irsa',
    'pod-identity',
    'already-injected',
    'reinvocation-irsa-added',
    'not-opted-in',
  ]) {
    assert.ok(cases.includes(required), `missing fixture ${required}`);
  }
});

for (const name of cases) {
  test(`fixture ${name}`, () => {
    const raw = parse(readFileSync(new URL(`${name}.yaml`, FIXTURES), 'utf8')) as Pod;
    const { input, secret } = prepare(raw);
    const result = mutatePod(input);
    const actual = asJson(summarize(result));

    const expectedUrl = new URL(`${name}.expected.yaml`, FIXTURES);
    if (UPDATE) {
      writeFileSync(expectedUrl, stringify(actual, { lineWidth: 0 }));
    } else {
      assert.ok(
        existsSync(expectedUrl),
        `${name}.expected.yaml is missing; run with UPDATE_GOLDEN=1 and review it`,
      );
      assert.deepEqual(actual, parse(readFileSync(expectedUrl, 'utf8')));
    }

    if (secret !== undefined) {
      assert.ok(
        !JSON.stringify(result).includes(secret),
        'a secret from the annotation leaked into the result',
      );
    }
    if (name.startsWith('deny-')) assert.equal(result.outcome, 'denied', 'deny-* fixtures must be denied');
    if (result.outcome !== 'injected' && result.outcome !== 'reconciled') return;

    // The patch, applied by an independent implementation, yields exactly the returned pod.
    assert.deepEqual(applyJsonPatch(input.pod, result.patch), asJson(result.pod));
    validatePod(result.pod);
    assertInjectedStrict(result.pod);
    // Fixture pods use only real fields, so the whole result must too (user containers included).
    assertKnownFields(asJson(result.pod), 'V1Pod', 'pod');
    for (const c of [...(result.pod.spec.initContainers ?? []), ...result.pod.spec.containers]) {
      const config = c.env?.find((e) => e.name === SIDECAR_CONFIG_ENV)?.value;
      if (config !== undefined) parseSidecarConfig(config);
    }
    // Idempotent: admitting the result again changes nothing.
    const again = mutatePod({ ...input, pod: deepFreeze(asJson(result.pod)) });
    assert.equal(again.outcome, 'reconciled');
    assert.deepEqual(again.outcome === 'reconciled' ? again.patch : undefined, []);
  });
}
