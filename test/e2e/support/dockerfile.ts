/**
 * Just enough of a Dockerfile parser to rebuild its final stage without Docker: stages (`FROM ... AS`),
 * and per stage its WORKDIR, COPY (with `--from`), RUN, ENV, USER, ENTRYPOINT and CMD, in order. Line
 * continuations and comments are handled; JSON (exec) forms are parsed, shell forms kept as text.
 */

export type Instruction =
  | { readonly kind: 'WORKDIR'; readonly path: string }
  | {
      readonly kind: 'COPY';
      readonly from?: string;
      readonly sources: readonly string[];
      readonly dest: string;
    }
  | { readonly kind: 'RUN'; readonly command: string }
  | { readonly kind: 'ENV'; readonly vars: Readonly<Record<string, string>> }
  | { readonly kind: 'USER'; readonly user: string }
  | { readonly kind: 'ENTRYPOINT' | 'CMD'; readonly argv: readonly string[] }
  | { readonly kind: 'OTHER'; readonly keyword: string; readonly text: string };

export interface Stage {
  readonly base: string;
  readonly name?: string;
  readonly instructions: readonly Instruction[];
}

/** Logical lines: comments and blank lines dropped, `\` continuations joined. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push((current + line).trim());
    current = '';
  }
  if (current.trim() !== '') throw new Error('Dockerfile ends inside a line continuation');
  return lines;
}

function execForm(keyword: string, text: string): string[] {
  let argv: unknown;
  try {
    argv = JSON.parse(text);
  } catch {
    throw new Error(`${keyword} ${text}: only the JSON (exec) form is supported here`);
  }
  if (!Array.isArray(argv) || !argv.every((arg) => typeof arg === 'string')) {
    throw new Error(`${keyword} ${text}: expected a JSON array of strings`);
  }
  return argv;
}

function envVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of text.match(/[^\s=]+=(?:"[^"]*"|\S*)/g) ?? []) {
    const at = pair.indexOf('=');
    vars[pair.slice(0, at)] = pair.slice(at + 1).replace(/^"(.*)"$/, '$1');
  }
  if (Object.keys(vars).length === 0)
    throw new Error(`ENV ${text}: only the KEY=value form is supported here`);
  return vars;
}

function instruction(keyword: string, text: string): Instruction {
  switch (keyword) {
    case 'WORKDIR':
      return { kind: 'WORKDIR', path: text };
    case 'RUN':
      return { kind: 'RUN', command: text };
    case 'USER':
      return { kind: 'USER', user: text };
    case 'ENV':
      return { kind: 'ENV', vars: envVars(text) };
    case 'ENTRYPOINT':
    case 'CMD':
      return { kind: keyword, argv: execForm(keyword, text) };
    case 'COPY': {
      const words = text.split(/\s+/);
      let from: string | undefined;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift() ?? '';
        if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
        else throw new Error(`COPY ${flag}: not supported here`);
      }
      const dest = words.pop();
      if (dest === undefined || words.length === 0)
        throw new Error(`COPY ${text}: needs a source and a destination`);
      return { kind: 'COPY', ...(from === undefined ? {} : { from }), sources: words, dest };
    }
    default:
      return { kind: 'OTHER', keyword, text };
  }
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Array<{ base: string; name?: string; instructions: Instruction[] }> = [];
  for (const line of logicalLines(text)) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (match === null) throw new Error(`Dockerfile line "${line}": no instruction`);
    const keyword = (match[1] ?? '').toUpperCase();
    const rest = match[2] ?? '';
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (from === null) throw new Error(`FROM ${rest}: not understood`);
      stages.push({ base: from[1] ?? '', ...(from[2] ? { name: from[2] } : {}), instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`${keyword} before the first FROM`);
    stage.instructions.push(instruction(keyword, rest));
  }
  if (stages.length === 0) throw new Error('Dockerfile has no FROM');
  return stages;
}

/** What a stage's instructions add up to for running it: workdir, env, user, entrypoint and cmd. */
export function runtimeOf(stage: Stage): {
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint: readonly string[];
  cmd: readonly string[];
} {
  let workdir = '/';
  const env: Record<string, string> = {};
  let user: string | undefined;
  let entrypoint: readonly string[] = [];
  let cmd: readonly string[] = [];
  for (const step of stage.instructions) {
    if (step.kind === 'WORKDIR') workdir = step.path.startsWith('/') ? step.path : `${workdir}/${step.path}`;
    else if (step.kind === 'ENV') Object.assign(env, step.vars);
    else if (step.kind === 'USER') user = step.user;
    else if (step.kind === 'ENTRYPOINT') entrypoint = step.argv;
    else if (step.kind === 'CMD') cmd = step.argv;
  }
  return { workdir, env, ...(user === undefined ? {} : { user }), entrypoint, cmd };
}
