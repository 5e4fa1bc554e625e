// The image's runtime, tested without Docker: the Dockerfile's final stage is assembled as a directory
// (its COPY lines read from the Dockerfile: package.json, the production node_modules that `npm ci
// --omit=dev` leaves, the code `tsc -p tsconfig.build.json` builds), and run from there as the image runs
// it: the ENTRYPOINT (its node is this Node 22), the image's ENV, UID:GID 65532 (its USER), every mount
// read-only but the pod's volume. The webhook answers the documented AdmissionReview over HTTPS (and looks
// the ServiceAccount up with @kubernetes/client-node, loaded from the tree); the sidecar it injects runs
// from the same tree against the STS emulator, as the native sidecar and as the legacy `--once` init.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Container, Pod } from '../../webhook/src/injection/k8s-types.ts';
import { startStsEmulator } from '../emulators/sts-emulator.ts';
import type { StsEmulator } from '../emulators/sts-emulator.ts';
import { makeWebIdentityToken } from '../emulators/web-identity-token.ts';
import { applyAdmissionPatch, callWebhook } from './support/admission-client.ts';
import type { AdmissionResponseBody } from './support/admission-client.ts';
import { parseDockerfile, runtimeOf } from './support/dockerfile.ts';
import type { Stage } from './support/dockerfile.ts';
import { containerEnv, findContainer, hostPath, persistPod } from './support/kubelet.ts';
import { LOOPBACK, freePort } from './support/net.ts';
import { platformSpecific } from './support/production-dependencies.ts';
import type { PackageLock } from './support/production-dependencies.ts';
import { runSandboxed, spawnSandboxed } from './support/readonly-sandbox.ts';
import type { SandboxOptions } from './support/readonly-sandbox.ts';
import { assembleRuntimeTree, buildStageFacts, listFiles } from './support/runtime-tree.ts';
import { dynamicImports } from '../../scripts/sidecar-bundle.ts';
import { SIDECAR_COMMAND } from '../../webhook/src/injection/sidecar-container.ts';
import type { RuntimeTree } from './support/runtime-tree.ts';

const run = promisify(execFile);
const PROJECT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(PROJECT, 'node_modules', 'typescript', 'bin', 'tsc');
const CERTS_SCRIPT = join(PROJECT, 'certs', 'generate.sh');
/** The distroless nonroot base image's own environment (its Dockerfile ENV lines and USER's HOME). */
const BASE_IMAGE_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/home/nonroot',
  SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
};
const REVIEW = JSON.parse(await readFile(join(PROJECT, 'examples', 'admission-review.json'), 'utf8')) as {
  request: { namespace: string; object: Pod };
};
const DOCUMENTED = JSON.parse(
  await readFile(join(PROJECT, 'examples', 'admission-response.json'), 'utf8'),
) as {
  response: AdmissionResponseBody;
};
const NAMESPACE = REVIEW.request.namespace;
const SERVICE_ACCOUNT = REVIEW.request.object.spec?.serviceAccountName ?? 'default';
const REGION = 'eu-west-1';
/** The IRSA role of the example's app container (the EKS pod-identity webhook's env). */
const POD_ROLE =
  findContainer(REVIEW.request.object, 'invoicing').env?.find((variable) => variable.name === 'AWS_ROLE_ARN')
    ?.value ?? '';
const API_TOKEN = 'e2e-webhook-serviceaccount-token';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** GET over HTTP or HTTPS; the status code, or 0 when nothing answered. */
function probe(url: string, ca?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { ca, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** A started sandboxed process: its output so far, its exit, SIGTERM. */
function started(child: ChildProcess): {
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running: () => boolean;
  stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  let output = '';
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  void exit.then(() => process.removeListener('exit', kill));
  return {
    output: () => output,
    exit,
    running: () => !done,
    stop: async () => {
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
  };
}

describe('the image runtime: the Dockerfile final stage run read-only as UID 65532, without Docker', () => {
  let dir: string;
  let stages: Stage[];
  let final: Stage;
  let image: ReturnType<typeof runtimeOf>;
  let uid: number;
  let gid: number;
  /** The image's root file system, as far as the final stage fills it. */
  let imageRoot: string;
  let tree: RuntimeTree;
  let assemblyMs = 0;
  let certDir: string;
  let ca: Buffer;
  let sts: StsEmulator;
  let irsaDir: string;
  let admission: AdmissionResponseBody;
  const apiRequests: Array<{ path: string; authorization: string }> = [];
  let closeApi: (() => Promise<void>) | undefined;
  let apiPort: number;

  /** `/app/...` of the image -> the same file in the assembled tree. */
  const inImage = (path: string): string => join(imageRoot, path);
  /** The image's ENTRYPOINT: its node is this Node 22, its script the tree's. */
  const entrypoint = (): string[] => {
    const [node = '', script = '', ...rest] = image.entrypoint;
    assert.equal(node, '/nodejs/bin/node', 'the ENTRYPOINT no longer starts the base image node');
    return [process.execPath, inImage(script), ...rest];
  };
  /** The injected sidecar's command: the base image node with its flags, the tree's bundle. */
  const sidecarCommand = (command: readonly string[]): string[] => {
    const [node = '', ...rest] = command;
    assert.equal(node, '/nodejs/bin/node', 'the sidecar command no longer starts the base image node');
    return [process.execPath, ...rest.map((word) => (word.startsWith('/app/') ? inImage(word) : word))];
  };
  const sandbox = (options: Omit<SandboxOptions, 'uid' | 'gid' | 'cwd'>): Omit<SandboxOptions, never> => ({
    ...options,
    uid,
    gid,
    cwd: inImage(image.workdir),
    env: { ...BASE_IMAGE_ENV, ...image.env, ...options.env },
  });
  /** An empty directory that 65532 may write: the pod's emptyDir. */
  const volume = async (name: string): Promise<string> => {
    const path = join(dir, 'volumes', name);
    await mkdir(path, { recursive: true });
    await chown(path, uid, gid);
    return path;
  };

  before(async () => {
    stages = parseDockerfile(await readFile(join(PROJECT, 'Dockerfile'), 'utf8'));
    final = stages.at(-1) as Stage;
    image = runtimeOf(final);
    const user = /^(\d+):(\d+)$/.exec(image.user ?? '');
    assert.ok(user, `USER ${image.user} is not a numeric uid:gid`);
    [uid, gid] = [Number(user[1]), Number(user[2])];

    dir = await mkdtemp(join(tmpdir(), 'tb-e2e-image-'));
    await chmod(dir, 0o755);
    imageRoot = join(dir, 'image');
    const assemblyStarted = Date.now();
    tree = await assembleRuntimeTree({ stages, projectDir: PROJECT, root: imageRoot, tsc: TSC });
    assemblyMs = Date.now() - assemblyStarted;
    // Read-only for everyone (the sandbox mounts it read-only as well).
    await run('chmod', ['-R', 'a-w', imageRoot]);

    // One CA and a serving certificate for 127.0.0.1: the webhook's, and the stand-in API server's.
    certDir = join(dir, 'certs');
    await run('bash', [CERTS_SCRIPT, 'token-broker-webhook', 'token-broker', certDir], {
      env: { ...process.env, EXTRA_SANS: `IP:${LOOPBACK}`, DAYS: '2' },
    });
    await chmod(join(certDir, 'tls.key'), 0o644); // a Secret volume's default mode
    await chmod(certDir, 0o755);
    ca = await readFile(join(certDir, 'ca.crt'));

    // The Kubernetes API as the webhook's ServiceAccount sees it: one ServiceAccount, with an IRSA role.
    const api = createHttpsServer(
      { cert: await readFile(join(certDir, 'tls.crt')), key: await readFile(join(certDir, 'tls.key')) },
      (req, res) => {
        apiRequests.push({ path: req.url ?? '', authorization: req.headers.authorization ?? '' });
        const path = `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}`;
        if (req.method !== 'GET' || req.url !== path || req.headers.authorization !== `Bearer ${API_TOKEN}`) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: {
              name: SERVICE_ACCOUNT,
              namespace: NAMESPACE,
              annotations: { 'eks.amazonaws.com/role-arn': POD_ROLE },
            },
          }),
        );
      },
    );
    await new Promise<void>((resolve) => api.listen(0, LOOPBACK, resolve));
    apiPort = (api.address() as AddressInfo).port;
    closeApi = () => new Promise((resolve) => api.close(() => resolve()));

    irsaDir = join(dir, 'irsa');
    await mkdir(irsaDir);
    await chmod(irsaDir, 0o755);
    const irsaToken = makeWebIdentityToken({
      subject: `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`,
      expiresAt: Date.now() + 86_400_000,
    });
    await writeFile(join(irsaDir, 'token'), irsaToken, { mode: 0o644 });
    sts = await startStsEmulator({
      region: REGION,
      acceptedWebIdentityTokens: [{ token: irsaToken, roles: [POD_ROLE] }],
      roles: { [POD_ROLE]: { allowWebIdentity: true } },
    });
  });

  after(async () => {
    await sts?.close();
    await closeApi?.();
    if (dir) {
      await run('chmod', ['-R', 'u+w', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the final stage copies package.json, the production node_modules and dist from a build stage that compiles every folder tsconfig.build.json includes', async () => {
    assert.deepEqual(tree.copies, [
      { dest: './package.json', made: 'package.json' },
      { dest: './node_modules', made: 'node_modules' },
      { dest: './dist', made: 'dist' },
    ]);
    assert.equal(image.workdir, '/app');
    // distroless's `nonroot` user; the pod may override it, the image must not need root.
    assert.equal(image.user, '65532:65532');
    assert.deepEqual(image.entrypoint, ['/nodejs/bin/node', '/app/dist/cli/main.js']);
    assert.match(final.base, /^gcr\.io\/distroless\/nodejs22-debian12:nonroot$/);
    assert.equal(process.versions.node.split('.')[0], '22', 'the image runs Node 22; this test must too');
    const build = stages.find((stage) => stage.name === 'build');
    assert.ok(build);
    const include = (
      JSON.parse(await readFile(join(PROJECT, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
    ).include;
    const copied = buildStageFacts(build).contextSources;
    assert.deepEqual(
      include.filter((folder) => !copied.includes(folder)),
      [],
      'the build stage does not copy these',
    );
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      assert.ok(copied.includes(file), `the build stage does not copy ${file}`);
    }
    assert.ok(
      buildStageFacts(build).bundles,
      'the build stage does not bundle the sidecar (npm run build:bundle)',
    );
  });

  test('the injected command runs the sidecar bundle of the tree, which imports nothing at run time', async () => {
    const bundle = SIDECAR_COMMAND.at(-1) ?? '';
    assert.match(bundle, /^\/app\/dist\/[\w.-]+\.cjs$/);
    // Under --lite-mode, import('node:http') throws (scripts/sidecar-bundle.ts): none may be left.
    assert.deepEqual(dynamicImports(await readFile(inImage(bundle), 'utf8')), []);
  });

  test('the tree holds only production dependencies, nothing architecture-specific, and its size is reported', async (t) => {
    const pkg = JSON.parse(await readFile(join(PROJECT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const modules = inImage('/app/node_modules');
    for (const name of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(modules, name)), name);
    const lock = JSON.parse(await readFile(join(PROJECT, 'package-lock.json'), 'utf8')) as PackageLock;
    // Every package npm marks dev-only is absent (a devDependency that a production package also needs,
    // like @types/node for @kubernetes/client-node, is a production package and stays).
    const devOnly = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.dev === true)
      .map(([path]) => path);
    assert.ok(devOnly.length > 100, 'the lock marks few dev packages: did its format change?');
    assert.deepEqual(
      devOnly.filter((path) => existsSync(inImage(`/app/${path}`))),
      [],
      'dev-only packages in the runtime tree',
    );
    assert.ok(Object.keys(pkg.devDependencies).includes('typescript'));
    assert.ok(!existsSync(join(modules, 'typescript')), 'the compiler is in the runtime tree');
    assert.deepEqual(platformSpecific(lock, tree.packages), [], 'packages restricted to some os/cpu');

    // The same tree must run on linux/amd64 and linux/arm64, whichever machine built it: no package that
    // npm installs only on some platforms, none that compiles at install, no Node addon (.node), and any
    // prebuilt binaries shipped for both Linux architectures side by side.
    assert.deepEqual(
      tree.packages.filter((path) => lock.packages[path]?.hasInstallScript || lock.packages[path]?.gypfile),
      [],
      'packages that build at install',
    );
    const files = await listFiles(imageRoot);
    const relative = (path: string): string => path.slice(imageRoot.length);
    assert.deepEqual(
      files.filter(({ path }) => /\.node$|[\\/]binding\.gyp$/.test(path)).map(({ path }) => relative(path)),
      [],
      'Node addons or native build files',
    );
    const prebuilds = new Map<string, Set<string>>();
    const elf: string[] = [];
    for (const { path, size } of files) {
      const prebuilt = /^(.*[\\/]prebuilds)[\\/]([^\\/]+)[\\/]/.exec(path);
      if (prebuilt) {
        const platforms = prebuilds.get(prebuilt[1] ?? '') ?? new Set<string>();
        prebuilds.set(prebuilt[1] ?? '', platforms.add(prebuilt[2] ?? ''));
        continue;
      }
      if (size < 4) continue;
      const head = Buffer.alloc(4);
      const handle = await open(path, 'r');
      await handle.read(head, 0, 4, 0).finally(() => handle.close());
      if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) elf.push(relative(path));
    }
    assert.deepEqual(elf, [], 'ELF binaries outside prebuilds/<platform>-<arch>/');
    for (const [folder, platforms] of prebuilds) {
      for (const platform of ['linux-x64', 'linux-arm64']) {
        assert.ok(platforms.has(platform), `${relative(folder)} has no ${platform} build`);
      }
    }
    const bytes = files.reduce((sum, { size }) => sum + size, 0);
    const dist = files.filter(({ path }) => path.startsWith(inImage('/app/dist') + sep));
    t.diagnostic(
      `runtime tree: ${(bytes / 2 ** 20).toFixed(1)} MiB in ${files.length} files; ${tree.packages.length} ` +
        `production packages (${prebuilds.size} with prebuilt binaries for every platform: ` +
        `${[...prebuilds.keys()].map((folder) => relative(dirname(folder)).replace('/app/node_modules/', '')).join(', ')}); ` +
        `dist ${(dist.reduce((sum, { size }) => sum + size, 0) / 2 ** 10).toFixed(0)} KiB; ` +
        `assembled (tsc + copy) in ${(assemblyMs / 1000).toFixed(1)} s`,
    );
    // No node_modules above the tree: nothing outside it can satisfy an import.
    for (let up = dirname(imageRoot); up !== dirname(up); up = dirname(up)) {
      assert.ok(!existsSync(join(up, 'node_modules')), `${up}/node_modules would be found by Node`);
    }
  });

  test('in the sandbox, UID 65532 may write the volume and nothing else', async () => {
    const writable = await volume('probe');
    const targets = [
      join(writable, 'ok'),
      inImage('/app/dist/probe'),
      join(tmpdir(), `tb-e2e-probe-${process.pid}`),
      '/dev/shm/tb-e2e-probe',
      '/run/tb-e2e-probe',
      join(PROJECT, 'tb-e2e-probe'),
    ];
    const result = await runSandboxed(
      sandbox({
        volume: writable,
        env: {},
        argv: [
          '/bin/sh',
          '-c',
          'id -u; id -g; for p in "$@"; do if touch "$p" 2>/dev/null; then echo "written $p"; else echo "refused $p"; fi; done',
          'probe',
          ...targets,
        ],
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      String(uid),
      String(gid),
      `written ${targets[0]}`,
      ...targets.slice(1).map((target) => `refused ${target}`),
    ]);
    for (const target of targets.slice(1)) assert.ok(!existsSync(target), target);
  });

  test('the webhook from the tree, as UID 65532, answers the documented AdmissionReview over HTTPS, with the ServiceAccount looked up through @kubernetes/client-node', async () => {
    const port = await freePort();
    const writable = await volume('webhook-nothing');
    // The kubelet's in-cluster mounts under /var/run/secrets (here: the sandbox's /run).
    const runDir = join(dir, 'webhook-run');
    const saDir = join(runDir, 'secrets', 'kubernetes.io', 'serviceaccount');
    await mkdir(saDir, { recursive: true, mode: 0o755 });
    await writeFile(join(saDir, 'token'), API_TOKEN, { mode: 0o644 });
    await writeFile(join(saDir, 'ca.crt'), ca, { mode: 0o644 });
    await writeFile(join(saDir, 'namespace'), 'token-broker', { mode: 0o644 });
    await run('chmod', ['-R', 'a+rX', runDir]);

    const webhook = started(
      spawnSandboxed(
        sandbox({
          volume: writable,
          runDir,
          env: {
            // What the chart's Deployment sets (charts/token-broker/templates/deployment.yaml) and the kubelet adds.
            TOKEN_BROKER_WEBHOOK_PORT: String(port),
            TOKEN_BROKER_WEBHOOK_HOST: LOOPBACK,
            TOKEN_BROKER_TLS_CERT_FILE: join(certDir, 'tls.crt'),
            TOKEN_BROKER_TLS_KEY_FILE: join(certDir, 'tls.key'),
            TOKEN_BROKER_LOG_LEVEL: 'info',
            KUBERNETES_SERVICE_HOST: LOOPBACK,
            KUBERNETES_SERVICE_PORT: String(apiPort),
          },
          argv: [...entrypoint(), 'webhook'],
        }),
      ),
    );
    try {
      const deadline = Date.now() + 30_000;
      while ((await probe(`https://${LOOPBACK}:${port}/readyz`, ca)) !== 200) {
        assert.ok(webhook.running(), `the webhook exited:\n${webhook.output()}`);
        assert.ok(Date.now() < deadline, `the webhook is not ready after 30 s:\n${webhook.output()}`);
        await sleep(100);
      }
      admission = await callWebhook(
        { host: LOOPBACK, port, serverName: 'token-broker-webhook.token-broker.svc', ca },
        REVIEW,
      );
      assert.deepEqual(admission, DOCUMENTED.response);
      assert.deepEqual(apiRequests, [
        {
          path: `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}`,
          authorization: `Bearer ${API_TOKEN}`,
        },
      ]);
    } finally {
      const exit = await webhook.stop();
      assert.equal(exit.code, 0, webhook.output());
    }
    assert.deepEqual(await readdir(writable), [], 'the webhook wrote into its volume');
  });

  /** The injected pod, and the env and config of one of its token-broker containers mapped to this machine. */
  const injected = async (
    containerName: string,
    brokerDir: string,
  ): Promise<{ container: Container; env: Record<string, string> }> => {
    assert.ok(admission, 'the webhook test did not run');
    const pod = persistPod(applyAdmissionPatch(REVIEW.request.object, admission), NAMESPACE);
    const container = findContainer(pod, containerName);
    const dirs = { 'token-broker': brokerDir, 'aws-iam-token': irsaDir };
    const env = containerEnv(pod, container, dirs);
    const config = JSON.parse(env.TOKEN_BROKER_CONFIG ?? '{}') as {
      directory: string;
      listen: { apiPort: number; healthPort: number; metricsPort: number };
    };
    // A pod has its own network namespace; here free ports stand in for the defaults.
    const ports = new Set<number>();
    while (ports.size < 3) ports.add(await freePort());
    const [apiPort = 0, healthPort = 0, metricsPort = 0] = ports;
    const mapped = {
      ...config,
      directory: hostPath(container, dirs, config.directory),
      listen: { apiPort, healthPort, metricsPort },
    };
    return {
      container,
      env: {
        ...env,
        TOKEN_BROKER_CONFIG: JSON.stringify(mapped),
        AWS_ENDPOINT_URL_STS: sts.url,
        TOKEN_BROKER_LISTEN_HOST: LOOPBACK,
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    };
  };

  const assertBrokerFiles = async (brokerDir: string): Promise<void> => {
    for (const file of ['invoicing.token', 'pgpass', 'auth-token']) {
      const info = await stat(join(brokerDir, file));
      assert.equal(info.mode & 0o777, 0o600, `${file} is not 0600`);
      assert.deepEqual([info.uid, info.gid], [uid, gid], `${file} is not owned by ${uid}:${gid}`);
    }
    const token = await readFile(join(brokerDir, 'invoicing.token'), 'utf8');
    assert.match(
      token,
      /^invoicing\.cluster-c9akciq32lfa\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect&/,
    );
  };

  test('the injected sidecar from the tree, as UID 65532, writes its files into the volume, passes /readyz and stops on SIGTERM', async () => {
    const brokerDir = await volume('token-broker');
    const { container, env } = await injected('token-broker', brokerDir);
    assert.deepEqual(container.command, SIDECAR_COMMAND);
    assert.equal(container.args, undefined);
    const healthPort = (JSON.parse(env.TOKEN_BROKER_CONFIG ?? '') as { listen: { healthPort: number } })
      .listen.healthPort;
    const sidecar = started(
      spawnSandboxed(sandbox({ volume: brokerDir, env, argv: sidecarCommand(container.command ?? []) })),
    );
    try {
      const deadline = Date.now() + 30_000;
      while ((await probe(`http://${LOOPBACK}:${healthPort}/readyz`)) !== 200) {
        assert.ok(sidecar.running(), `the sidecar exited:\n${sidecar.output()}`);
        assert.ok(Date.now() < deadline, `/readyz not 200 after 30 s:\n${sidecar.output()}`);
        await sleep(100);
      }
      await assertBrokerFiles(brokerDir);
    } finally {
      const exit = await sidecar.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, sidecar.output());
    }
    assert.ok(
      sts.calls.some((call) => call.action === 'AssumeRoleWithWebIdentity' && call.roleArn === POD_ROLE),
      'the sidecar did not use the pod identity',
    );
  });

  test('the legacy init container (the sidecar command with --once) from the tree, as UID 65532, writes the files and exits 0', async () => {
    const brokerDir = await volume('token-broker-once');
    const { env } = await injected('token-broker', brokerDir);
    const result = await runSandboxed(
      // What the webhook injects as the legacy init container (test/fixtures/pods/legacy-mode.expected.yaml).
      sandbox({ volume: brokerDir, env, argv: [...sidecarCommand(SIDECAR_COMMAND), '--once'] }),
    );
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    await assertBrokerFiles(brokerDir);
  });
});
