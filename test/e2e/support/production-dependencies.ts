/**
 * The packages `npm ci --omit=dev` installs, computed from package-lock.json (v2/v3) without npm: start at
 * the root's `dependencies` (and `optionalDependencies`), resolve each name the way Node does (the
 * nearest `node_modules/<name>` walking up from the dependent), and follow every package's own
 * dependencies, optional ones and peers (npm installs peers). Dev dependencies are never entered.
 */

interface LockPackage {
  readonly version?: string;
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  /** npm's marks for packages that run install scripts / build with node-gyp. */
  readonly hasInstallScript?: boolean;
  readonly gypfile?: boolean;
}

export interface PackageLock {
  readonly lockfileVersion: number;
  readonly packages: Readonly<Record<string, LockPackage>>;
}

/** `node_modules/a/node_modules/b` -> the lock paths Node would try for `name` from there, nearest first. */
export function resolutionCandidates(from: string, name: string): string[] {
  const candidates: string[] = [];
  let base = from;
  for (;;) {
    candidates.push(base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`);
    if (base === '') return candidates;
    const at = base.lastIndexOf('/node_modules/');
    base = at === -1 ? '' : base.slice(0, at);
  }
}

/** Lock paths (`node_modules/...`) of every production package, sorted. */
export function productionPackages(lock: PackageLock): string[] {
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json: lockfileVersion 2 or 3 needed (npm 7+)');
  const root = lock.packages[''];
  if (root === undefined) throw new Error('package-lock.json: no root package entry ("")');
  const found = new Set<string>();
  const visit = (from: string, pkg: LockPackage): void => {
    const wanted: Array<[name: string, optional: boolean]> = [
      ...Object.keys(pkg.dependencies ?? {}).map((name): [string, boolean] => [name, false]),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((name): [string, boolean] => [name, true]),
      ...Object.keys(pkg.peerDependencies ?? {}).map((name): [string, boolean] => [
        name,
        pkg.peerDependenciesMeta?.[name]?.optional === true,
      ]),
    ];
    for (const [name, optional] of wanted) {
      const path = resolutionCandidates(from, name).find(
        (candidate) => lock.packages[candidate] !== undefined,
      );
      if (path === undefined) {
        // An optional dependency for another platform is not in the lock; anything else is a broken lock.
        if (optional) continue;
        throw new Error(`package-lock.json: "${name}" (needed by "${from || 'the root'}") is not resolvable`);
      }
      if (found.has(path)) continue;
      found.add(path);
      visit(path, lock.packages[path] ?? {});
    }
  };
  visit('', { dependencies: root.dependencies, optionalDependencies: root.optionalDependencies });
  return [...found].sort();
}

/** Production packages that declare an `os` or `cpu` restriction: installed only on some platforms. */
export function platformSpecific(lock: PackageLock, paths: readonly string[]): string[] {
  return paths.filter((path) => {
    const pkg = lock.packages[path];
    return (pkg?.os?.length ?? 0) > 0 || (pkg?.cpu?.length ?? 0) > 0;
  });
}
