/** The examples/ manifests stay valid: every pod template is injected cleanly, without warnings. */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { Pod } from '../../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';
import { deepFreeze, validatePod } from './support.ts';

interface Manifest {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { template?: Pod };
}

const EXAMPLES = new URL('../../../examples/', import.meta.url);
const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

test('the required examples exist', () => {
  assert.ok(files.includes('invoicing-rds-postgres.yaml'));
  assert.ok(files.includes('atlas-mongo-app.yaml'));
});

for (const file of files) {
  test(`example ${file}`, () => {
    const docs = parseAllDocuments(readFileSync(new URL(file, EXAMPLES), 'utf8')).map(
      (d) => d.toJS() as Manifest,
    );
    const templates = docs.filter((d) => d.spec?.template);
    assert.ok(templates.length > 0, 'no workload with a pod template');
    for (const workload of templates) {
      const template = workload.spec?.template as Pod;
      const namespace = workload.metadata?.namespace ?? 'default';
      const saName = template.spec.serviceAccountName ?? 'default';
      const sa = docs.find((d) => d.kind === 'ServiceAccount' && d.metadata?.name === saName);
      const result = mutatePod({
        pod: deepFreeze(structuredClone(template)),
        namespace,
        defaults: BUILTIN_DEFAULTS,
        serviceAccount: sa ? { name: saName, annotations: sa.metadata?.annotations ?? {} } : undefined,
      });
      assert.equal(result.outcome, 'injected', JSON.stringify(result));
      if (result.outcome !== 'injected') return;
      assert.deepEqual(result.warnings, []);
      validatePod(result.pod);
    }
  });
}
