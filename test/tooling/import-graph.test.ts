/**
 * The layering of the product sources (issue 12): the injection core imports neither the server nor
 * the CLI nor any I/O package, server and CLI do not import each other, and no import circle exists.
 * The checker is tested on synthetic graphs first, so each rule is seen failing, then run on the repo.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  findCircles,
  graphOf,
  layerViolations,
  loadImportGraph,
  parseImports,
} from './support/import-graph.ts';
import { LAYER_RULES, PRODUCT_DIRS } from './support/layer-rules.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

void describe('parseImports', () => {
  void it('reads static, type-only, side-effect and dynamic imports, and re-exports', () => {
    const source = [
      "import a from './a.ts';",
      "import { b, type B } from './b.ts';",
      'import type { C } from "./c.ts";',
      "import './d.ts';",
      "export { e } from './e.ts';",
      "export * from './f.ts';",
      "export type { G } from './g.ts';",
      'import {',
      '  h,',
      '  i,',
      "} from 'node:fs';",
      "const k = await import('@kubernetes/client-node');",
    ].join('\n');
    assert.deepEqual(parseImports(source), [
      { specifier: './a.ts', kind: 'static' },
      { specifier: './b.ts', kind: 'static' },
      { specifier: './c.ts', kind: 'type' },
      { specifier: './e.ts', kind: 'static' },
      { specifier: './f.ts', kind: 'static' },
      { specifier: './g.ts', kind: 'type' },
      { specifier: 'node:fs', kind: 'static' },
      { specifier: './d.ts', kind: 'static' },
      { specifier: '@kubernetes/client-node', kind: 'dynamic' },
    ]);
  });

  void it('ignores imports written in comments, templates and ordinary strings', () => {
    const source = [
      "// import x from 'fastify';",
      "/* import y from 'prom-client'; */",
      "const help = `import z from 'node:net'`;",
      'const text = \'import w from "node:tls"\';',
      "const url = 'http://example/'; import real from './real.ts';",
    ].join('\n');
    assert.deepEqual(parseImports(source), [{ specifier: './real.ts', kind: 'static' }]);
  });

  void it('resolves relative imports to repo paths and bare ones to their package', () => {
    const graph = graphOf({
      'webhook/src/server/app.ts':
        "import { x } from '../injection/spec.ts';\nimport f from 'fastify/lib/x';\nimport { y } from '@scope/pkg/deep';",
    });
    assert.deepEqual(
      graph.get('webhook/src/server/app.ts')?.map((e) => e.target),
      ['webhook/src/injection/spec.ts', 'fastify', '@scope/pkg'],
    );
  });
});

void describe('findCircles', () => {
  const all = () => true;

  void it('finds none in a graph without circles', () => {
    const graph = graphOf({
      'a.ts': "import './b.ts';\nimport './c.ts';",
      'b.ts': "import './c.ts';",
      'c.ts': "import 'node:fs';",
    });
    assert.deepEqual(findCircles(graph, all), []);
  });

  void it('finds a two-file circle, type-only imports included (the old spec.ts / app-containers.ts one)', () => {
    const graph = graphOf({
      'webhook/src/injection/spec.ts': "import { appEnvNames } from './app-containers.ts';",
      'webhook/src/injection/app-containers.ts': "import type { InjectionSpec } from './spec.ts';",
    });
    assert.deepEqual(findCircles(graph, all), [
      [
        'webhook/src/injection/app-containers.ts',
        'webhook/src/injection/spec.ts',
        'webhook/src/injection/app-containers.ts',
      ],
    ]);
  });

  void it('finds a longer circle and a self-import, each once, as a path', () => {
    const graph = graphOf({
      'a.ts': "import './b.ts';",
      'b.ts': "import './c.ts';\nimport './d.ts';",
      'c.ts': "import './a.ts';",
      'd.ts': "import './d.ts';",
    });
    assert.deepEqual(findCircles(graph, all), [
      ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
      ['d.ts', 'd.ts'],
    ]);
  });

  void it('only looks inside the files it is given', () => {
    const graph = graphOf({ 'x/a.ts': "import '../y/b.ts';", 'y/b.ts': "import '../x/a.ts';" });
    assert.deepEqual(
      findCircles(graph, (f) => f.startsWith('x/')),
      [],
    );
  });
});

void describe('LAYER_RULES on synthetic graphs: each rule fails when broken', () => {
  const violated = (sources: Record<string, string>): string[] =>
    layerViolations(graphOf(sources), LAYER_RULES).map((v) => v.rule);

  void it('passes the intended direction: cli/server -> injection -> contract', () => {
    assert.deepEqual(
      violated({
        'webhook/src/cli/inject-command.ts':
          "import '../injection/mutate.ts';\nimport 'yaml';\nimport 'node:fs/promises';",
        'webhook/src/server/app.ts':
          "import '../injection/mutate.ts';\nimport 'fastify';\nimport 'node:tls';",
        'webhook/src/injection/mutate.ts':
          "import './spec.ts';\nimport '../../../contract/sidecar-config.ts';",
        'contract/sidecar-config.ts': "import './safe-text.ts';",
      }),
      [],
    );
  });

  void it('the core importing server or CLI code (type-only too)', () => {
    assert.deepEqual(
      violated({
        'webhook/src/injection/spec.ts': "import type { WebhookOptions } from '../server/options.ts';",
      }),
      ['the injection core imports only itself and contract/ (never server/ or cli/ code)'],
    );
    assert.deepEqual(
      violated({
        'webhook/src/injection/mutate.ts': "import { findPodTemplates } from '../cli/workloads.ts';",
      }),
      ['the injection core imports only itself and contract/ (never server/ or cli/ code)'],
    );
    assert.equal(
      violated({ 'webhook/src/injection/names.ts': "import '../../../sidecar/src/files.ts';" }).length,
      2,
    );
  });

  void it('the core importing an I/O package or Node module', () => {
    for (const pkg of [
      'fastify',
      '@kubernetes/client-node',
      'prom-client',
      'pino',
      'node:fs',
      'node:fs/promises',
      'node:net',
      'node:http',
      'node:https',
      'node:tls',
    ]) {
      assert.deepEqual(
        violated({ 'webhook/src/injection/spec.ts': `const m = await import('${pkg}');` }),
        ['the injection core imports no package and no Node module (it does no I/O)'],
        pkg,
      );
    }
  });

  void it('the server importing the CLI, and the CLI importing the server', () => {
    assert.deepEqual(violated({ 'webhook/src/server/app.ts': "import '../cli/workloads.ts';" }), [
      'the admission server does not import the inject CLI',
    ]);
    assert.deepEqual(
      violated({
        'webhook/src/cli/inject-command.ts': "import { parseWebhookOptions } from '../server/options.ts';",
      }),
      ['the inject CLI does not import the admission server'],
    );
  });

  void it('contract/ importing anything outside itself, and webhook and sidecar importing each other', () => {
    assert.deepEqual(
      violated({ 'contract/sidecar-config.ts': "import '../webhook/src/injection/names.ts';" }),
      ['contract/ imports only contract/ (both webhook and sidecar stand on it)'],
    );
    assert.deepEqual(violated({ 'contract/sidecar-config.ts': "import 'node:fs';" }), [
      'contract/ imports only contract/ (both webhook and sidecar stand on it)',
    ]);
    assert.deepEqual(violated({ 'webhook/src/server/app.ts': "import '../../../sidecar/src/metrics.ts';" }), [
      'the webhook does not import the sidecar (they share contract/ and common/)',
    ]);
    assert.deepEqual(violated({ 'sidecar/src/main.ts': "import '../../webhook/src/injection/names.ts';" }), [
      'the sidecar does not import the webhook (they share contract/ and common/)',
    ]);
  });
});

void describe('the product sources (webhook/src, sidecar/src, contract, cli, common)', () => {
  const graph = loadImportGraph(ROOT, PRODUCT_DIRS);

  void it('are read whole: every layer of the webhook is there', async () => {
    const files = [...(await graph).keys()];
    for (const layer of ['webhook/src/injection/', 'webhook/src/server/', 'webhook/src/cli/']) {
      assert.ok(files.filter((f) => f.startsWith(layer)).length >= 2, layer);
    }
    assert.ok(files.includes('webhook/src/injection/spec.ts'));
    assert.equal(
      files.filter((f) => f.startsWith('webhook/src/') && !/^webhook\/src\/(injection|server|cli)\//.test(f))
        .length,
      0,
      'every webhook source sits in a layer folder',
    );
  });

  void it('keep every layering rule', async () => {
    assert.deepEqual(layerViolations(await graph, LAYER_RULES), []);
  });

  void it('have no import circle', async () => {
    assert.deepEqual(
      findCircles(await graph, () => true),
      [],
    );
  });
});
