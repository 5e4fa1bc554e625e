/**
 * `token-broker inject -f <file|->`: the webhook's mutation, offline, over Kubernetes YAML. Every pod
 * template (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List items) goes through
 * the same `mutatePod` as an admission. Documents that change are edited in the YAML tree (comments and
 * layout elsewhere in them survive); every other document is copied from the input byte for byte.
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import { parseArgs, isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, isMap, isScalar, isSeq, type Document } from 'yaml';
import type { ConfigError } from '../injection/config-error.ts';
import type { Pod } from '../injection/k8s-types.ts';
import { mutatePod, type MutateResult } from '../injection/mutate.ts';
import { checkPodShape, renderShapeDenial } from '../injection/pod-shape.ts';
import {
  OptionsError,
  SIDECAR_DEFAULT_OPTIONS,
  parseArgsOptions,
  resolveInjectionDefaults,
} from '../injection/default-options.ts';
import type { JsonPatchOperation } from '../injection/patch.ts';
import type { WebhookDefaults } from '../injection/spec.ts';
import { findPodTemplates, rerootPatch, type PodTemplateRef } from './workloads.ts';

export interface InjectIo {
  stdin: AsyncIterable<string | Buffer>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  readFile?: (path: string) => Promise<string>;
}

export const INJECT_USAGE = `Usage: token-broker inject -f <file|-> [--diff] [--namespace <ns>] [options]

Adds the token-broker sidecar to every opted-in pod template in Kubernetes YAML (Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List; multi-document files), exactly as the webhook
would, and prints the result. Documents without opted-in templates are printed unchanged.

  -f, --filename <file|->            input file, or - for stdin
      --diff                         print each document's JSONPatch (RFC 6902) instead of the YAML
  -n, --namespace <ns>               namespace for objects that do not set metadata.namespace (default: default)
${Object.values(SIDECAR_DEFAULT_OPTIONS)
  .map((s) => `      --${s.flag.padEnd(30)} ${s.help}`)
  .join('\n')}

Exit codes: 0 success, 1 invalid token-broker annotations or unreadable input, 2 usage error.
`;

export interface InjectSettings {
  /** Namespace for objects without metadata.namespace. */
  namespace: string;
  defaults: WebhookDefaults;
  mutate?: typeof mutatePod;
}

export interface DocumentReport {
  /** 1-based position in the stream. */
  index: number;
  label: string;
  status: 'unchanged' | 'injected' | 'reconciled' | 'denied' | 'no pod template' | 'empty';
  /** Re-rooted at the document root. */
  patch: JsonPatchOperation[];
  warnings: string[];
  denials: { where: string; message: string; errors: ConfigError[] }[];
}

export interface InjectResult {
  /** The YAML stream with changed documents rewritten and the rest copied verbatim. */
  output: string;
  documents: DocumentReport[];
  /** YAML syntax errors, one line each, naming the document. */
  syntaxErrors: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function labelOf(value: unknown): string {
  if (!isObject(value)) return '(not an object)';
  const kind = typeof value.kind === 'string' ? value.kind : '(no kind)';
  const metadata = isObject(value.metadata) ? value.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '(unnamed)';
  return `${kind}/${name}`;
}

/** RFC 6901 pointer -> keys. */
function pointerKeys(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Applies JSONPatch operations to the YAML tree in place, so untouched nodes keep their comments and
 * style. Throws on anything it cannot express; the caller then falls back to replacing the template.
 */
function applyPatchToDocument(doc: Document, patch: readonly JsonPatchOperation[]): void {
  for (const op of patch) {
    const keys = pointerKeys(op.path);
    const last = keys.at(-1);
    if (last === undefined) throw new Error('patch on the document root');
    const parentKeys = keys.slice(0, -1);
    const parent = parentKeys.length === 0 ? doc.contents : doc.getIn(parentKeys, true);
    switch (op.op) {
      case 'add': {
        const node = doc.createNode(op.value);
        if (isSeq(parent)) {
          if (last === '-') parent.items.push(node);
          else if (/^\d+$/.test(last) && Number(last) <= parent.items.length)
            parent.items.splice(Number(last), 0, node);
          else throw new Error(`bad array index ${last}`);
        } else if (isMap(parent)) {
          parent.set(last, node);
        } else {
          throw new Error(`no parent at ${op.path}`);
        }
        break;
      }
      case 'replace': {
        const existing = doc.getIn(keys, true);
        const value = op.value;
        if (existing === undefined) throw new Error(`nothing to replace at ${op.path}`);
        // Keep a scalar node (its comment and quoting) when only its value changes.
        if (isScalar(existing) && (value === null || typeof value !== 'object')) existing.value = value;
        else doc.setIn(keys, doc.createNode(value));
        break;
      }
      case 'remove':
        if (!doc.deleteIn(keys)) throw new Error(`nothing to remove at ${op.path}`);
        break;
      default:
        throw new Error(`unsupported op ${(op as { op: string }).op}`);
    }
  }
}

function setAtPointer(root: unknown, pointer: string, value: unknown): unknown {
  const keys = pointerKeys(pointer);
  if (keys.length === 0) return value;
  let node = root as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys.at(-1) as string] = value;
  return root;
}

/** kubectl writes `- item` at the parent key's indentation; keep whichever style the input uses. */
function usesIndentedSequences(source: string): boolean {
  const flat = /^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m.test(source);
  const indented = /^( *)[^\s#-][^\n]*:[ \t]*\n\1 {2}- /m.test(source);
  return !flat || indented;
}

/** `{app: x}` stays `{app: x}` when the input writes flow collections without inner spaces. */
function usesFlowPadding(source: string): boolean {
  const padded = /:[ \t]*[{[] /.test(source);
  const unpadded = /:[ \t]*[{[][^\s}\]]/.test(source);
  return padded || !unpadded;
}

function namespaceOf(ref: PodTemplateRef, fallback: string): string {
  return ref.owner.namespace ?? fallback;
}

/** Runs every pod template of a YAML stream through the mutation. Pure apart from the injected mutate. */
export function injectYaml(text: string, settings: InjectSettings): InjectResult {
  const mutate = settings.mutate ?? mutatePod;
  const docs = parseAllDocuments(text, { prettyErrors: true });
  // parseAllDocuments returns an EmptyStream (an array too) for text without documents.
  const list: Document.Parsed[] = Array.isArray(docs) ? (docs as Document.Parsed[]) : [];
  const syntaxErrors: string[] = [];
  const documents: DocumentReport[] = [];
  const pieces: string[] = [];

  list.forEach((doc, i) => {
    // Each document owns the text from its start to the next one's start: joined, they are the input.
    const start = i === 0 ? 0 : doc.range[0];
    const end = i + 1 < list.length ? (list[i + 1] as Document.Parsed).range[0] : text.length;
    const source = text.slice(start, end);
    const report: DocumentReport = {
      index: i + 1,
      label: '(empty)',
      status: 'unchanged',
      patch: [],
      warnings: [],
      denials: [],
    };
    documents.push(report);
    pieces.push(source);
    if (doc.errors.length > 0) {
      const first = doc.errors[0]?.message.split('\n')[0] ?? 'invalid YAML';
      syntaxErrors.push(`document ${i + 1}: ${first}`);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias bomb, or nesting deeper than the stack: not a document to inject into.
      syntaxErrors.push(`document ${i + 1}: ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    if (value === null || value === undefined) {
      report.status = 'empty';
      return;
    }
    report.label = labelOf(value);
    const templates = findPodTemplates(value);
    if (templates.length === 0) {
      report.status = 'no pod template';
      return;
    }
    let expected: unknown = structuredClone(value);
    let changed = false;
    for (const ref of templates) {
      const where =
        ref.pointer === '' ? report.label : `${ref.owner.kind}/${ref.owner.name} at ${ref.pointer}`;
      // The webhook's own gate (pod-shape.ts): a template the core cannot read is denied if it opted
      // in and left alone otherwise, never handed to the core (which assumes the Kubernetes types).
      const shape = checkPodShape(ref.template);
      if (!shape.ok) {
        if (shape.optedIn) {
          const message = renderShapeDenial(shape.problems, shape.total);
          report.denials.push({ where, message, errors: [] });
        }
        continue;
      }
      const pod = structuredClone(ref.template) as unknown as Pod;
      const result: MutateResult = mutate({
        pod,
        namespace: namespaceOf(ref, settings.namespace),
        defaults: settings.defaults,
      });
      if (result.outcome === 'skipped') continue;
      report.warnings.push(...result.warnings.map((w) => (templates.length > 1 ? `${where}: ${w}` : w)));
      if (result.outcome === 'denied') {
        report.denials.push({ where, message: result.message, errors: result.errors });
        continue;
      }
      if (report.status === 'unchanged' || result.outcome === 'injected') report.status = result.outcome;
      if (result.patch.length === 0) continue;
      changed = true;
      report.patch.push(...rerootPatch(result.patch, ref.pointer));
      // JSON round trip: keys holding undefined are absent in YAML too.
      expected = setAtPointer(expected, ref.pointer, JSON.parse(JSON.stringify(result.pod)));
    }
    if (report.denials.length > 0) {
      report.status = 'denied';
      return;
    }
    if (!changed) return;
    pieces[i] = renderChangedDocument(doc, report.patch, expected, templates, source, i > 0);
  });

  return { output: pieces.join(''), documents, syntaxErrors };
}

function renderChangedDocument(
  doc: Document,
  patch: readonly JsonPatchOperation[],
  expected: unknown,
  templates: readonly PodTemplateRef[],
  source: string,
  needsStartMarker: boolean,
): string {
  const edited = doc.clone();
  let ok: boolean;
  try {
    applyPatchToDocument(edited, patch);
    ok = isDeepStrictEqual(edited.toJS(), expected);
  } catch {
    ok = false;
  }
  let result = edited;
  if (!ok) {
    // Fallback: replace each template subtree (comments inside the templates are lost, not elsewhere).
    result = doc.clone();
    for (const ref of templates) {
      const keys = pointerKeys(ref.pointer);
      const value = keys.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], expected);
      if (keys.length === 0) result.contents = result.createNode(value);
      else result.setIn(keys, result.createNode(value));
    }
  }
  let out = result.toString({
    lineWidth: 0,
    indentSeq: usesIndentedSequences(source),
    flowCollectionPadding: usesFlowPadding(source),
  });
  if (needsStartMarker && !out.startsWith('---')) out = `---\n${out}`;
  return out;
}

/** The `--diff` output: one YAML document per input document, a comment line and the JSONPatch. */
export function renderDiff(documents: readonly DocumentReport[]): string {
  return documents
    .map((d) => `# document ${d.index}: ${d.label}: ${d.status}\n${JSON.stringify(d.patch, null, 2)}\n`)
    .join('---\n');
}

async function readAll(stream: AsyncIterable<string | Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The `token-broker inject` subcommand; resolves with the process exit code. */
export async function runInject(argv: readonly string[], io: InjectIo): Promise<number> {
  let flags: Record<string, unknown>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: {
        filename: { type: 'string', short: 'f' },
        diff: { type: 'boolean' },
        namespace: { type: 'string', short: 'n' },
        help: { type: 'boolean', short: 'h' },
        ...parseArgsOptions(SIDECAR_DEFAULT_OPTIONS),
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.stderr.write(`token-broker inject: ${(error as Error).message}\n\n${INJECT_USAGE}`);
    return 2;
  }
  if (flags.help === true) {
    io.stdout.write(INJECT_USAGE);
    return 0;
  }
  const file = flags.filename;
  if (typeof file !== 'string' || file === '') {
    io.stderr.write(`token-broker inject: -f <file|-> is required\n\n${INJECT_USAGE}`);
    return 2;
  }
  const problems: string[] = [];
  // Offline runs read flags only (not TOKEN_BROKER_* env), so the output depends on the command line.
  const defaults = resolveInjectionDefaults(flags, {}, problems);
  const namespace =
    typeof flags.namespace === 'string' && flags.namespace !== '' ? flags.namespace : 'default';
  if (problems.length > 0) {
    const error = new OptionsError(problems);
    io.stderr.write(
      `token-broker inject: invalid options:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`,
    );
    return 2;
  }

  let text: string;
  try {
    text =
      file === '-' ? await readAll(io.stdin) : await (io.readFile ?? ((p) => fsReadFile(p, 'utf8')))(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    io.stderr.write(`token-broker inject: cannot read ${file === '-' ? 'stdin' : file} (${code})\n`);
    return 1;
  }

  const result = injectYaml(text, { namespace, defaults });
  if (result.syntaxErrors.length > 0) {
    for (const line of result.syntaxErrors) io.stderr.write(`token-broker inject: ${file}: ${line}\n`);
    return 1;
  }
  for (const d of result.documents) {
    for (const w of d.warnings) io.stderr.write(`warning: ${d.label} (document ${d.index}): ${w}\n`);
  }
  const denied = result.documents.filter((d) => d.denials.length > 0);
  if (denied.length > 0) {
    // Nothing on stdout: half-injected output piped into kubectl apply would be worse than none.
    for (const d of denied) {
      for (const denial of d.denials) {
        io.stderr.write(`error: ${denial.where} (document ${d.index}) denied:\n${denial.message}\n`);
      }
    }
    return 1;
  }
  io.stdout.write(flags.diff === true ? renderDiff(result.documents) : result.output);
  return 0;
}
