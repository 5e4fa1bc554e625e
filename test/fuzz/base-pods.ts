/**
 * The valid pods fuzz cases start from: every input pod of the golden fixtures (test/fixtures/pods,
 * not the *.expected files) and the pod templates of the examples/, by a short name
 * (`fixtures/rds-postgres`, `examples/atlas-mongo-app`). Test-only annotations are dropped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEST_ONLY_PREFIX = 'test.token-broker.io/';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asApiPod(pod: Json): Json {
  const metadata = isObject(pod.metadata) ? pod.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : undefined;
  if (!annotations) return pod;
  // Annotation values are strings in the API; YAML may have typed some as numbers.
  const kept = Object.fromEntries(
    Object.entries(annotations)
      .filter(([k]) => !k.startsWith(TEST_ONLY_PREFIX))
      .map(([k, v]) => [k, String(v)]),
  );
  return { ...pod, metadata: { ...metadata, annotations: kept } };
}

/** A Pod as the API server sends it from a workload's template. */
function podFromTemplate(workload: Json): Json | undefined {
  const spec = isObject(workload.spec) ? workload.spec : undefined;
  const jobTemplate =
    spec && isObject(spec.jobTemplate) && isObject(spec.jobTemplate.spec) ? spec.jobTemplate.spec : spec;
  const template = jobTemplate && isObject(jobTemplate.template) ? jobTemplate.template : undefined;
  if (!template) return undefined;
  const metadata = isObject(template.metadata) ? template.metadata : {};
  const name =
    isObject(workload.metadata) && typeof workload.metadata.name === 'string'
      ? workload.metadata.name
      : 'app';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${name}-`, ...metadata },
    spec: template.spec,
  };
}

function load(): Map<string, Json> {
  const pods = new Map<string, Json>();
  const fixtures = `${ROOT}test/fixtures/pods/`;
  for (const file of readdirSync(fixtures).sort()) {
    if (!file.endsWith('.yaml') || file.endsWith('.expected.yaml')) continue;
    for (const doc of parseAllDocuments(readFileSync(fixtures + file, 'utf8'))) {
      const value = doc.toJS() as unknown;
      if (isObject(value) && value.kind === 'Pod') {
        pods.set(`fixtures/${file.replace(/\.yaml$/, '')}`, asApiPod(value));
      }
    }
  }
  const examples = `${ROOT}examples/`;
  for (const file of readdirSync(examples).sort()) {
    if (!file.endsWith('.yaml')) continue;
    for (const doc of parseAllDocuments(readFileSync(examples + file, 'utf8'))) {
      const value = doc.toJS() as unknown;
      const pod = isObject(value) ? podFromTemplate(value) : undefined;
      if (pod) pods.set(`examples/${file.replace(/\.yaml$/, '')}`, asApiPod(pod));
    }
  }
  // JSON round trip: what the API server would send (no YAML-only types).
  return new Map([...pods].map(([k, v]) => [k, JSON.parse(JSON.stringify(v)) as Json]));
}

const PODS = load();

export const BASE_NAMES: readonly string[] = [...PODS.keys()];

/** The named base pod (a shared object: callers clone before editing); an empty Pod for unknown names. */
export function basePod(name: string): Json {
  return PODS.get(name) ?? { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: [] } };
}
