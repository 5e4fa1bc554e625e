/**
 * `token-broker inject` as a process (node --import tsx cli/main.ts inject ...), plus in-process checks
 * of the YAML handling that a process cannot observe (namespace choice).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import { injectYaml, runInject } from '../../../webhook/src/cli/inject-command.ts';
import type { MutateInput } from '../../../webhook/src/injection/mutate.ts';
import type { PodSpec } from '../../../webhook/src/injection/k8s-types.ts';
import { BUILTIN_DEFAULTS } from '../../../webhook/src/injection/spec.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RDS = 'postgres://invoicing_app@invoicing.abc123.eu-west-1.rds.amazonaws.com/invoicing';

const DEPLOYMENT = `# The invoicing API: opted in.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: invoicing   # keep this comment
  namespace: billing
spec:
  replicas: 2
  selector:
    matchLabels: {app: invoicing}
  template:
    metadata:
      labels:
        app: invoicing
      annotations:
        token-broker.io/inject: "true"
        token-broker.io/rds-invoicing: "${RDS}"
    spec:
      securityContext:
        runAsUser: 1000
      containers:
      - name: app   # the app container
        image: example/invoicing:1.4
`;

const SERVICE = `---
# A Service: no pod template, must come out byte for byte.
apiVersion: v1
kind: Service
metadata: {name: invoicing,   namespace: billing}
spec:
  ports: [ {port: 80,targetPort: 8080} ]   # odd spacing on purpose
`;

const PLAIN = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reporting
spec:
  template:
    metadata:
      annotations:
        token-broker.io/inject: "false"     # not opted in
        token-broker.io/rds-reports: 'postgres://r@reports.abc.eu-west-1.rds.amazonaws.com/r'
    spec:
      containers:
        - name: app
          image: "example/reporting:2"
...
`;

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            token-broker.io/inject: "true"
            token-broker.io/rds-invoicing: "${RDS}"
        spec:
          restartPolicy: OnFailure
          securityContext: {runAsUser: 1000}
          containers:
          - name: export
            image: example/export:1
`;

const LIST = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {a: b}
- apiVersion: apps/v1
  kind: StatefulSet
  metadata: {name: ledger}
  spec:
    serviceName: ledger
    template:
      metadata:
        annotations:
          token-broker.io/inject: "true"
          token-broker.io/rds-ledger: "${RDS}"
      spec:
        securityContext: {runAsUser: 1000}
        containers:
        - name: app
          image: example/ledger:1
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'inject', ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function documents(text: string): unknown[] {
  const docs = parseAllDocuments(text);
  assert.ok(Array.isArray(docs));
  return docs.map((d) => {
    assert.deepEqual(d.errors, [], 'output is valid YAML');
    return d.toJS() as unknown;
  });
}

interface Template {
  metadata: { annotations: Record<string, string> };
  spec: PodSpec;
}
/** The fields of the workloads in these tests that the assertions read. */
interface Workload {
  spec: { template: Template; jobTemplate: { spec: { template: Template } } };
  items: Workload[];
}

/** Several cases read the plain run of stream.yaml: spawn it once. */
let streamRun: Promise<Run> | undefined;
const runStream = (): Promise<Run> => (streamRun ??= run(['-f', file('stream.yaml')]));

/** runInject in this process with fake streams: for the cases a process adds nothing to. */
async function runHere(args: string[], stdin = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runInject(args, {
    stdin: Readable.from([stdin]),
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

let dir: string;
const file = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'token-broker-inject-'));
  await writeFile(file('stream.yaml'), DEPLOYMENT + SERVICE + PLAIN);
  await writeFile(file('cronjob.yaml'), CRONJOB);
  await writeFile(file('list.yaml'), LIST);
  await writeFile(file('plain.yaml'), PLAIN.replace(/^---\n/, '') + SERVICE);
  await writeFile(
    file('bad.yaml'),
    SERVICE.replace(/^---\n/, '') +
      DEPLOYMENT.replace(
        RDS,
        'postgres://invoicing_app:hunter2@invoicing.abc123.eu-west-1.rds.amazonaws.com/invoicing',
      ).replace('# The invoicing API: opted in.\n', '---\n'),
  );
});
after(() => rm(dir, { recursive: true, force: true }));

// Each case spawns its own processes and shares nothing but the input files: run them side by side.
void describe('token-broker inject (process)', { concurrency: true }, () => {
  void it('injects the opted-in Deployment; the Service and the non-opted Deployment are byte-identical', async () => {
    const { code, stdout, stderr } = await runStream();
    assert.equal(code, 0, stderr);
    assert.ok(stdout.endsWith(SERVICE + PLAIN), 'the last two documents are copied verbatim');
    const injected = stdout.slice(0, stdout.length - (SERVICE + PLAIN).length);
    assert.match(injected, /^# The invoicing API: opted in\.\n/);
    assert.match(injected, /name: invoicing # keep this comment/);
    assert.match(injected, /- name: app # the app container/);
    assert.match(injected, /matchLabels: \{app: invoicing\}/, 'flow style kept');
    const [deployment, service, plain] = documents(stdout) as Workload[];
    assert.ok(deployment);
    const pod = deployment.spec.template;
    assert.equal(pod.metadata.annotations['token-broker.io/status'], 'injected');
    const names = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name);
    assert.ok(names.includes('token-broker'), names.join());
    assert.deepEqual(service, documents(SERVICE)[0]);
    assert.deepEqual(plain, documents(PLAIN)[0]);
  });

  void it('reads stdin with -f - and prints the same', async () => {
    const fromFile = await runStream();
    const fromStdin = await run(['-f', '-'], DEPLOYMENT + SERVICE + PLAIN);
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, fromFile.stdout);
  });

  void it('is idempotent: its own output comes back unchanged', async () => {
    const once = await runStream();
    const twice = await runHere(['-f', '-'], once.stdout);
    assert.equal(twice.code, 0, twice.stderr);
    assert.equal(twice.stdout, once.stdout);
  });

  void it('copies a stream without opted-in templates byte for byte', async () => {
    const input = PLAIN.replace(/^---\n/, '') + SERVICE;
    const { code, stdout } = await runHere(['-f', file('plain.yaml')]);
    assert.equal(code, 0);
    assert.equal(stdout, input);
  });

  void it('--diff prints per-document JSONPatch re-rooted at the template, equal to the YAML output', async () => {
    const diff = await run(['-f', file('stream.yaml'), '--diff']);
    const yaml = await runStream();
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^# document 1: Deployment\/invoicing: injected\n/);
    assert.match(diff.stdout, /# document 2: Service\/invoicing: no pod template\n\[\]/);
    assert.match(diff.stdout, /# document 3: Deployment\/reporting: unchanged\n\[\]/);
    const patches = documents(diff.stdout) as jsonpatch.Operation[][];
    assert.equal(patches.length, 3);
    assert.ok(patches[0]?.length && patches[0].every((op) => op.path.startsWith('/spec/template/')));
    const inputs = documents(DEPLOYMENT + SERVICE + PLAIN);
    const outputs = documents(yaml.stdout);
    inputs.forEach((input, i) => {
      const patched = jsonpatch.applyPatch(structuredClone(input), patches[i] ?? [], true, false).newDocument;
      assert.deepEqual(patched, outputs[i], `document ${i + 1}`);
    });
  });

  void it('handles a CronJob (spec.jobTemplate.spec.template)', async () => {
    const { code, stdout, stderr } = await run(['-f', file('cronjob.yaml'), '--diff']);
    assert.equal(code, 0, stderr);
    const [patch] = documents(stdout) as jsonpatch.Operation[][];
    assert.ok(
      patch?.some(
        (op) => op.path === '/spec/jobTemplate/spec/template/metadata/annotations/token-broker.io~1status',
      ),
    );
    const yaml = documents((await runHere(['-f', file('cronjob.yaml')])).stdout) as Workload[];
    assert.equal(
      yaml[0]?.spec.jobTemplate.spec.template.metadata.annotations['token-broker.io/status'],
      'injected',
    );
  });

  void it('handles a List (each item on its own)', async () => {
    const { code, stdout, stderr } = await run(['-f', file('list.yaml')]);
    assert.equal(code, 0, stderr);
    const [list] = documents(stdout) as Workload[];
    assert.deepEqual(list?.items[0], {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings' },
      data: { a: 'b' },
    });
    assert.equal(list?.items[1]?.spec.template.metadata.annotations['token-broker.io/status'], 'injected');
    const diff = await runHere(['-f', file('list.yaml'), '--diff']);
    assert.match(diff.stdout, /"path": "\/items\/1\/spec\/template\//);
  });

  void it('a bad annotation: exit 1, the webhook message on stderr naming the document, nothing on stdout', async () => {
    const { code, stdout, stderr } = await run(['-f', file('bad.yaml')]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /Deployment\/invoicing .*\(document 2\) denied/);
    assert.match(stderr, /token-broker.io\/rds-invoicing=.*password/s);
    assert.doesNotMatch(stderr, /hunter2/);
  });

  void it('warnings go to stderr, the YAML to stdout', async () => {
    const input = DEPLOYMENT.replace(
      '        image: example/invoicing:1.4\n',
      '        image: example/invoicing:1.4\n        env:\n        - {name: PGPASSFILE, value: /etc/pgpass}\n',
    );
    const { code, stdout, stderr } = await runHere(['-f', '-'], input);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^warning: Deployment\/invoicing \(document 1\): .*PGPASSFILE/m);
    assert.doesNotMatch(stdout, /warning/);
  });

  void it('usage errors exit 2', async () => {
    const missingF = await run([]);
    assert.equal(missingF.code, 2);
    assert.match(missingF.stderr, /-f <file\|-> is required/);
  });
  void it('sidecar flags change the defaults, as the webhook flags do', async () => {
    const { stdout } = await runHere(
      ['-f', '-', '--sidecar-image', 'registry.example/tb:9', '--sidecar-mode', 'legacy'],
      DEPLOYMENT,
    );
    const [deployment] = documents(stdout) as Workload[];
    const first = deployment?.spec.template.spec.containers[0];
    assert.equal(first?.name, 'token-broker', 'legacy mode: a regular sidecar container');
    assert.equal(first?.image, 'registry.example/tb:9');
  });
});

void describe('runInject and injectYaml (in process)', () => {
  void it('usage errors exit 2; unreadable input and broken YAML exit 1; --help exits 0', async () => {
    const unknown = await runHere(['-f', '-', '--frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--frobnicate'/);
    const badFlag = await runHere(['-f', '-', '--sidecar-mode', 'sideways']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--sidecar-mode="sideways"/);
    const missing = await runHere(['-f', file('nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope.yaml \(ENOENT\)/);
    const broken = await runHere(['-f', '-'], 'a: [1, 2\n---\nkind: Pod\n');
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /document 1:/);
    assert.equal(broken.stdout, '');
    const help = await runHere(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: token-broker inject -f <file\|->/);
  });

  void it('namespace: metadata.namespace, else --namespace', () => {
    const seen: string[] = [];
    const mutate = (input: MutateInput) => {
      seen.push(input.namespace);
      return { outcome: 'skipped' as const, reason: 'test' };
    };
    injectYaml(DEPLOYMENT + SERVICE + PLAIN + '---\n' + CRONJOB, {
      namespace: 'fallback',
      defaults: BUILTIN_DEFAULTS,
      mutate,
    });
    assert.deepEqual(seen, ['billing', 'fallback', 'fallback']);
  });

  void it('hands the template to the mutation as a copy', () => {
    let received: unknown;
    injectYaml(CRONJOB, {
      namespace: 'default',
      defaults: BUILTIN_DEFAULTS,
      mutate: (input) => {
        received = input.pod;
        if (input.pod.metadata) input.pod.metadata.annotations = {};
        return { outcome: 'skipped', reason: 'test' };
      },
    });
    assert.deepEqual(Object.keys(received as object), ['metadata', 'spec']);
  });

  void it('never loads the Kubernetes client, fastify or prom-client (static import graph)', async () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = async (path: string): Promise<void> => {
      if (seen.has(path)) return;
      seen.add(path);
      const source = await readFile(path, 'utf8');
      // Static imports only: `import ... from 'x'` and `export ... from 'x'` (type-only imports vanish).
      for (const match of source.matchAll(/^(?:import|export)(?! type)[^;]*? from '([^']+)'/gm)) {
        const target = match[1] ?? '';
        if (target.startsWith('.')) await visit(join(dirname(path), target));
        else packages.add(target);
      }
    };
    await visit(join(ROOT, 'webhook/src/cli/inject-command.ts'));
    assert.ok(seen.size > 3);
    for (const forbidden of ['@kubernetes/client-node', 'fastify', 'prom-client', 'pino']) {
      assert.ok(!packages.has(forbidden), `inject imports ${forbidden}`);
    }
  });

  void it("a malformed opted-in template: exit 1 with the webhook's message naming the field, never a crash", async () => {
    const malformed = [
      ['containers: [null, 42, "x"]', /spec\.containers\[0\]: is null/],
      ['containers: [{name: app, image: x, env: "oops"}]', /spec\.containers\[0\]\.env: is a string/],
      ['containers: [{name: app, image: x, ports: [{containerPort: "80"}]}]', /containerPort: is a string/],
    ] as const;
    for (const [containers, field] of malformed) {
      const input = DEPLOYMENT.replace(/containers:\n.*\n.*\n$/, `${containers}\n`);
      assert.notEqual(input, DEPLOYMENT);
      const { code, stdout, stderr } = await runHere(['-f', '-'], input);
      assert.equal(code, 1, stderr);
      assert.equal(stdout, '');
      assert.match(stderr, /Deployment\/invoicing at \/spec\/template \(document 1\) denied:/);
      assert.match(stderr, /the pod opts in to injection but cannot be read/);
      assert.match(stderr, field);
    }
    const number = DEPLOYMENT.replace(`"${RDS}"`, '42');
    const quoted = await runHere(['-f', '-'], number);
    assert.equal(quoted.code, 1);
    assert.match(
      quoted.stderr,
      /annotations\["token-broker.io\/rds-invoicing"\]: is a number.*Fix: quote the value/,
    );
    // Not opted in: left alone, as the webhook allows it untouched.
    const plain = PLAIN.replace(/- name: app\n\s+image: "example\/reporting:2"/, '- null');
    assert.notEqual(plain, PLAIN);
    const passed = await runHere(['-f', '-'], plain);
    assert.equal(passed.code, 0, passed.stderr);
    assert.equal(passed.stdout, plain);
  });

  void it('a YAML alias bomb: exit 1 naming the document, never a crash', async () => {
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++)
      bomb += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    const { code, stdout, stderr } = await runHere(['-f', '-'], `${bomb}kind: Pod\n`);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /document 1: .*alias/i);
  });

  void it('an empty stream and empty documents pass through', () => {
    assert.equal(injectYaml('', { namespace: 'default', defaults: BUILTIN_DEFAULTS }).output, '');
    const text = '# only a comment\n---\n---\n';
    assert.equal(injectYaml(text, { namespace: 'default', defaults: BUILTIN_DEFAULTS }).output, text);
  });
});
