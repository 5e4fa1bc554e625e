/**
 * The static import graph of the TypeScript sources, read with a small lexer of its own (no compiler,
 * no dependency), and the checks the layering rules are made of: which file imports what, import
 * circles, and imports that cross a layer boundary the wrong way. Pure except loadImportGraph.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

/** `static`: loaded at run time; `type`: `import type` / `export type`, erased; `dynamic`: `import()`. */
export type ImportKind = 'static' | 'type' | 'dynamic';

export interface ImportRef {
  specifier: string;
  kind: ImportKind;
}

export interface ImportEdge extends ImportRef {
  /** Repo-relative path (`webhook/src/injection/spec.ts`) for a relative import, else the package name. */
  target: string;
}

/** File (repo-relative, `/`-separated) -> what it imports. */
export type ImportGraph = ReadonlyMap<string, readonly ImportEdge[]>;

/**
 * Source with comments blanked and string/template contents replaced by placeholders, except the
 * quoted text of single- and double-quoted strings, which import specifiers are. Keeps the code's
 * keywords and punctuation, so the import patterns below cannot match inside a comment or a template.
 */
function codeOnly(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end === -1 ? source.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else if (c === '`') {
      // Template text never holds an import; `${...}` holes rarely do, and are skipped with it.
      let j = i + 1;
      while (j < source.length && source[j] !== '`') j += source[j] === '\\' ? 2 : 1;
      out += '``';
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const FROM_CLAUSE = /(?:^|[;}\n])\s*(import|export)(\s+type)?\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\3/g;
const SIDE_EFFECT = /(?:^|[;}\n])\s*import\s*(['"])([^'"\n]+)\1/g;
const DYNAMIC = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every import of a module's source: static, type-only and literal `import()`. */
export function parseImports(source: string): ImportRef[] {
  const code = codeOnly(source);
  const refs: ImportRef[] = [];
  for (const m of code.matchAll(FROM_CLAUSE)) {
    refs.push({ specifier: m[4] as string, kind: m[2] ? 'type' : 'static' });
  }
  for (const m of code.matchAll(SIDE_EFFECT)) refs.push({ specifier: m[2] as string, kind: 'static' });
  for (const m of code.matchAll(DYNAMIC)) refs.push({ specifier: m[2] as string, kind: 'dynamic' });
  return refs;
}

/** The repo-relative file a relative specifier names, or the package a bare one names. */
export function resolveTarget(importer: string, specifier: string): string {
  if (!specifier.startsWith('.')) {
    if (specifier.startsWith('node:')) return specifier;
    const parts = specifier.split('/');
    return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  }
  return posix.normalize(posix.join(posix.dirname(importer), specifier)).replace(/\.js$/, '.ts');
}

export function isRelative(edge: ImportEdge): boolean {
  return edge.specifier.startsWith('.');
}

/** Builds a graph from sources held in memory (for the checker's own tests). */
export function graphOf(sources: Readonly<Record<string, string>>): ImportGraph {
  const graph = new Map<string, ImportEdge[]>();
  for (const [file, source] of Object.entries(sources)) {
    graph.set(
      file,
      parseImports(source).map((ref) => ({ ...ref, target: resolveTarget(file, ref.specifier) })),
    );
  }
  return graph;
}

async function tsFiles(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (e) => {
      const path = posix.join(dir, e.name);
      if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(root, path);
      return /\.ts$/.test(e.name) && !/\.d\.ts$/.test(e.name) ? [path] : [];
    }),
  );
  return nested.flat();
}

/** Reads every `.ts` file under `dirs` (repo-relative) of the repository at `root`. */
export async function loadImportGraph(root: string, dirs: readonly string[]): Promise<ImportGraph> {
  const sources: Record<string, string> = {};
  for (const dir of dirs) {
    for (const file of await tsFiles(root, dir)) sources[file] = await readFile(join(root, file), 'utf8');
  }
  return graphOf(sources);
}

/**
 * Import circles among the files `within` selects, type-only imports included (a type circle still
 * ties two modules together). One circle per strongly connected component, as a path that starts and
 * ends at its alphabetically first file: `a.ts -> b.ts -> a.ts`.
 */
export function findCircles(graph: ImportGraph, within: (file: string) => boolean): string[][] {
  const files = [...graph.keys()].filter(within).sort();
  const next = (file: string): string[] =>
    [
      ...new Set(
        (graph.get(file) ?? []).filter((e) => isRelative(e) && within(e.target) && graph.has(e.target)),
      ),
    ]
      .map((e) => e.target)
      .sort();
  // Tarjan's strongly connected components, iterative so a long chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of files) {
    if (index.has(start)) continue;
    const work: { file: string; children: string[]; at: number }[] = [];
    const open = (file: string) => {
      index.set(file, counter);
      low.set(file, counter++);
      stack.push(file);
      onStack.add(file);
      work.push({ file, children: next(file), at: 0 });
    };
    open(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as (typeof work)[number];
      if (frame.at < frame.children.length) {
        const child = frame.children[frame.at++] as string;
        if (!index.has(child)) open(child);
        else if (onStack.has(child))
          low.set(frame.file, Math.min(low.get(frame.file) as number, index.get(child) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent)
        low.set(parent.file, Math.min(low.get(parent.file) as number, low.get(frame.file) as number));
      if (low.get(frame.file) !== index.get(frame.file)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.file);
      const selfLoop = component.length === 1 && next(frame.file).includes(frame.file);
      if (component.length > 1 || selfLoop) components.push(component.sort());
    }
  }
  return components
    .map((component) => circlePath(component, next))
    .sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
}

/** A shortest path from the component's first file back to itself, staying inside the component. */
function circlePath(component: string[], next: (file: string) => string[]): string[] {
  const first = component[0] as string;
  const members = new Set(component);
  const cameFrom = new Map<string, string>();
  const queue = [first];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    for (const child of next(file).filter((f) => members.has(f))) {
      if (child === first) {
        const path = [first];
        for (let at: string | undefined = file; at !== undefined && at !== first; at = cameFrom.get(at))
          path.splice(1, 0, at);
        return [...path, first];
      }
      if (!cameFrom.has(child)) {
        cameFrom.set(child, file);
        queue.push(child);
      }
    }
  }
  return [...component, first];
}

/** A layering rule: no file `from` selects may import a target `forbids` selects. */
export interface LayerRule {
  name: string;
  from: (file: string) => boolean;
  forbids: (edge: ImportEdge) => boolean;
}

export interface Violation {
  rule: string;
  file: string;
  specifier: string;
}

export function layerViolations(graph: ImportGraph, rules: readonly LayerRule[]): Violation[] {
  const found: Violation[] = [];
  for (const [file, edges] of [...graph].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const rule of rules.filter((r) => r.from(file))) {
      for (const edge of edges.filter(rule.forbids)) {
        found.push({ rule: rule.name, file, specifier: edge.specifier });
      }
    }
  }
  return found;
}
