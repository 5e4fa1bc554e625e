import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, readFile, readdir, readlink, stat, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { SIDECAR_BUNDLE, bundleSidecar } from '../../../scripts/sidecar-bundle.ts';
import type { Stage } from './dockerfile.ts';
import { productionPackages } from './production-dependencies.ts';
import type { PackageLock } from './production-dependencies.ts';

/**
 * The image's final stage as a directory, built without Docker: each `COPY --from=<build stage>` of the
 * final stage is mapped to what the build stage makes at that path, and made here the same way:
 *  - `<workdir>/package.json`: the project's package.json (copied there by the build stage);
 *  - `<workdir>/node_modules`: what `npm ci --omit=dev` leaves, i.e. the production closure of
 *    package-lock.json, each package copied from this checkout's node_modules without its nested
 *    node_modules (those are copied only where they are production packages themselves);
 *  - `<workdir>/dist`: `tsc -p tsconfig.build.json` (the build stage's own command), plus the sidecar
 *    bundle dist/sidecar.cjs when the stage runs `npm run build:bundle` (scripts/sidecar-bundle.ts).
 * A COPY of anything else fails: the test must learn it before it can vouch for the image.
 */

const run = promisify(execFile);

export interface BuildStageFacts {
  readonly workdir: string;
  /** Whether its RUN lines build with tsconfig.build.json and prune to production dependencies. */
  readonly builds: boolean;
  readonly prunes: boolean;
  /** Whether its RUN lines bundle the sidecar (`npm run build:bundle`) before pruning. */
  readonly bundles: boolean;
  /** Paths (relative to the project) it COPYs from the build context. */
  readonly contextSources: readonly string[];
}

export function buildStageFacts(stage: Stage): BuildStageFacts {
  let workdir = '/';
  const runs: string[] = [];
  const contextSources: string[] = [];
  for (const step of stage.instructions) {
    if (step.kind === 'WORKDIR') workdir = step.path;
    if (step.kind === 'RUN') runs.push(step.command);
    if (step.kind === 'COPY' && step.from === undefined) contextSources.push(...step.sources);
  }
  return {
    workdir,
    builds: runs.some((command) => /\btsc -p tsconfig\.build\.json\b/.test(command)),
    prunes: runs.some((command) => /\bnpm ci --omit=dev\b/.test(command)),
    bundles: runs.some((command) => /\bnpm run build:bundle\b/.test(command)),
    contextSources,
  };
}

export interface RuntimeTree {
  /** Destination -> what was put there, in COPY order. */
  readonly copies: ReadonlyArray<{
    readonly dest: string;
    readonly made: 'package.json' | 'node_modules' | 'dist';
  }>;
  /** Production packages (lock paths) in node_modules. */
  readonly packages: readonly string[];
}

/**
 * Makes the final stage's COPY --from=<build> lines under `root` (a path `/app/x` of the image becomes
 * `<root>/app/x`). `projectDir` is this checkout; `tsc` the TypeScript compiler's bin script.
 */
export async function assembleRuntimeTree(options: {
  readonly stages: readonly Stage[];
  readonly projectDir: string;
  readonly root: string;
  readonly tsc: string;
}): Promise<RuntimeTree> {
  const { stages, projectDir, root } = options;
  const final = stages.at(-1);
  if (final === undefined) throw new Error('Dockerfile has no stage');
  const copies: Array<RuntimeTree['copies'][number]> = [];
  let packages: string[] = [];
  // The copies are independent: tsc runs while node_modules is copied.
  const work: Array<Promise<unknown>> = [];
  let workdir = '/';
  for (const step of final.instructions) {
    if (step.kind === 'WORKDIR') workdir = step.path;
    if (step.kind === 'COPY' && step.from === undefined) {
      throw new Error(
        `final stage: COPY ${step.sources.join(' ')} from the build context is not known to this test`,
      );
    }
    if (step.kind !== 'COPY') continue;
    const build = stages.find((stage) => stage.name === step.from);
    if (build === undefined) throw new Error(`COPY --from=${step.from}: no stage of that name`);
    const facts = buildStageFacts(build);
    if (step.sources.length !== 1) throw new Error(`COPY --from=${step.from}: one source per COPY, please`);
    const source = step.sources[0] ?? '';
    const dest = join(root, step.dest.startsWith('/') ? step.dest : join(workdir, step.dest));
    const made = source.replace(/\/+$/, '').replace(`${facts.workdir.replace(/\/+$/, '')}/`, '');
    if (made === 'package.json') {
      await mkdir(join(dest, '..'), { recursive: true });
      await cp(join(projectDir, 'package.json'), dest);
    } else if (made === 'node_modules') {
      if (!facts.prunes)
        throw new Error(`stage ${build.name}: node_modules is not pruned with npm ci --omit=dev`);
      const lock = JSON.parse(await readFile(join(projectDir, 'package-lock.json'), 'utf8')) as PackageLock;
      packages = productionPackages(lock);
      work.push(copyPackages(projectDir, packages, dest));
    } else if (made === 'dist') {
      if (!facts.builds)
        throw new Error(`stage ${build.name}: dist is not built with tsc -p tsconfig.build.json`);
      const tsconfig = join(projectDir, 'tsconfig.build.json');
      work.push(run(process.execPath, [options.tsc, '-p', tsconfig, '--outDir', dest], { cwd: projectDir }));
      if (facts.bundles) {
        await mkdir(dest, { recursive: true });
        work.push(bundleSidecar(projectDir, join(dest, relative('dist', SIDECAR_BUNDLE))));
      }
    } else {
      throw new Error(`COPY --from=${step.from} ${source}: not a path this test knows how to make`);
    }
    copies.push({ dest: step.dest, made: made });
  }
  await Promise.all(work);
  return { copies, packages };
}

/** A directory without any node_modules below it (files, subdirectories and symlinks as they are). */
async function copyPackageDir(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      if (entry.isDirectory()) {
        // Nested node_modules hold other packages (dev ones too): those come only from the closure.
        if (entry.name !== 'node_modules') await copyPackageDir(source, target);
      } else if (entry.isSymbolicLink()) {
        await symlink(await readlink(source), target);
      } else if (entry.isFile()) {
        await copyFile(source, target);
      }
    }),
  );
}

/** Each package without its nested node_modules; a nested package after the one it is nested in. */
async function copyPackages(projectDir: string, packages: readonly string[], dest: string): Promise<void> {
  const depth = (path: string): number => path.split('/node_modules/').length;
  const deepest = Math.max(0, ...packages.map(depth));
  for (let level = 1; level <= deepest; level += 1) {
    await Promise.all(
      packages
        .filter((path) => depth(path) === level)
        .map((path) =>
          copyPackageDir(join(projectDir, path), join(dest, path.slice('node_modules/'.length))),
        ),
    );
  }
}

/** Every file under `dir` (recursively), with its size; symlinks are listed, not followed. */
export async function listFiles(dir: string): Promise<Array<{ path: string; size: number }>> {
  const files: Array<{ path: string; size: number }> = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push({ path, size: (await stat(path).catch(() => ({ size: 0 }))).size });
  }
  return files;
}
