/**
 * templates/NOTES.txt: shown after install. Its example pod-template annotations must be ones the
 * webhook really injects, so they are fed through the webhook's own mutation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { Pod } from '../../webhook/src/injection/k8s-types.ts';
import { mutatePod } from '../../webhook/src/injection/mutate.ts';
import { BUILTIN_DEFAULTS } from '../../webhook/src/injection/spec.ts';
import { CHART_DIR, NAMESPACE, RELEASE, runHelm } from './support/helm.ts';

function notes(...set: string[]): string {
  const args = ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--dry-run=client'];
  for (const s of set) args.push('--set', s);
  const run = runHelm(args);
  assert.equal(run.status, 0, run.stderr);
  const at = run.stdout.indexOf('NOTES:\n');
  assert.ok(at >= 0, 'helm printed NOTES');
  return run.stdout.slice(at + 'NOTES:\n'.length);
}

/** The indented Deployment example in the notes, as YAML. */
function exampleDeployment(text: string): {
  spec: { template: { metadata: { annotations: Record<string, string> } } };
} {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'apiVersion: apps/v1');
  assert.ok(start >= 0, 'the notes show a Deployment example');
  const block: string[] = [];
  for (const line of lines.slice(start)) {
    if (line.trim() !== '' && !line.startsWith('  ')) break;
    block.push(line.slice(2));
  }
  return parse(block.join('\n')) as ReturnType<typeof exampleDeployment>;
}

void describe('NOTES.txt', () => {
  const text = notes();

  it('names the Service, the webhook configuration and how to check the rollout', () => {
    assert.match(text, /Service token-broker-webhook\.token-broker\.svc:443/);
    assert.match(text, /MutatingWebhookConfiguration token-broker \(failurePolicy Fail, TLS mode helm\)/);
    assert.match(text, /kubectl -n token-broker rollout status deployment\/token-broker-webhook/);
  });

  it('shows pod-template annotations that the webhook injects', () => {
    const annotations = exampleDeployment(text).spec.template.metadata.annotations;
    assert.equal(annotations['token-broker.io/inject'], 'true');
    const pod: Pod = {
      metadata: { annotations },
      spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: 'app', image: 'app:1' }] },
    };
    const result = mutatePod({ pod, namespace: 'shop', defaults: BUILTIN_DEFAULTS });
    assert.equal(result.outcome, 'injected', JSON.stringify(result));
  });

  it('warns when matchConditions are off and failurePolicy is Fail', () => {
    assert.doesNotMatch(text, /matchConditions\.enabled=false/);
    const off = notes('webhook.matchConditions.enabled=false');
    assert.match(off, /webhook\.matchConditions\.enabled=false sends EVERY pod/);
    assert.match(off, /blocks all those pods/);
  });
});
