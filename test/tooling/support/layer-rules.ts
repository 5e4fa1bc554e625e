/**
 * This repository's layering, as rules over the import graph (support/import-graph.ts). The webhook has
 * three layers: the CLI (webhook/src/cli/) and the admission server (webhook/src/server/) sit side by
 * side on top of the pure injection core (webhook/src/injection/), which stands on contract/. Arrows
 * point only down: cli/server -> injection -> contract.
 */
import { isRelative, type ImportEdge, type LayerRule } from './import-graph.ts';

export const CORE = 'webhook/src/injection/';
export const SERVER = 'webhook/src/server/';
export const WEBHOOK_CLI = 'webhook/src/cli/';
export const CONTRACT = 'contract/';

/** The product sources whose imports are checked (tests, scripts and benchmarks are not product). */
export const PRODUCT_DIRS = ['webhook/src', 'sidecar/src', 'contract', 'cli', 'common'] as const;

const under =
  (...prefixes: string[]) =>
  (file: string): boolean =>
    prefixes.some((p) => file.startsWith(p));

const targetUnder =
  (...prefixes: string[]) =>
  (edge: ImportEdge): boolean =>
    isRelative(edge) && under(...prefixes)(edge.target);

export const LAYER_RULES: readonly LayerRule[] = [
  {
    name: 'the injection core imports only itself and contract/ (never server/ or cli/ code)',
    from: under(CORE),
    forbids: (edge) => isRelative(edge) && !under(CORE, CONTRACT)(edge.target),
  },
  {
    // Today the core imports no package at all: keep it so. I/O (fastify, the Kubernetes client,
    // prom-client, pino, node:fs/net/http/https/tls) belongs to the server and the CLI.
    name: 'the injection core imports no package and no Node module (it does no I/O)',
    from: under(CORE),
    forbids: (edge) => !isRelative(edge),
  },
  {
    name: 'the admission server does not import the inject CLI',
    from: under(SERVER),
    forbids: targetUnder(WEBHOOK_CLI),
  },
  {
    name: 'the inject CLI does not import the admission server',
    from: under(WEBHOOK_CLI),
    forbids: targetUnder(SERVER),
  },
  {
    name: 'contract/ imports only contract/ (both webhook and sidecar stand on it)',
    from: under(CONTRACT),
    forbids: (edge) => !isRelative(edge) || !under(CONTRACT)(edge.target),
  },
  {
    name: 'the webhook does not import the sidecar (they share contract/ and common/)',
    from: under('webhook/src/'),
    forbids: targetUnder('sidecar/src/'),
  },
  {
    name: 'the sidecar does not import the webhook (they share contract/ and common/)',
    from: under('sidecar/src/'),
    forbids: targetUnder('webhook/src/'),
  },
];
