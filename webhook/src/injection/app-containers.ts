/**
 * What selected app containers (and init containers) get: a read-only mount of the credentials volume
 * and env naming the files, the local API and, with `aws-credentials`, the container-credentials
 * endpoint. Env the user already set is never overwritten.
 */

import {
  envSegment,
  FILES,
  PROXY_HOST,
  ROUTES,
  type RdsTarget,
  type Target,
} from '../../../contract/sidecar-config.ts';
import {
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
  AWS_CONTAINER_CREDENTIALS_FULL_URI,
  pointAtSidecar,
} from './identity.ts';
import type { Container, EnvVar } from './k8s-types.ts';
import { VOLUME_NAME } from './names.ts';
import type { InjectionSpec } from './injection-spec.ts';

interface AppEnvEntry {
  name: string;
  value: string;
  /** The target the entry belongs to; undefined for token-broker's own entries. */
  target?: Target;
}

function apiUrl(spec: Pick<InjectionSpec, 'apiPort'>): string {
  return `http://127.0.0.1:${spec.apiPort}`;
}

function appEnvEntries(
  spec: Pick<InjectionSpec, 'targets' | 'directory' | 'apiPort' | 'awsCredentials'>,
): AppEnvEntry[] {
  const dir = spec.directory;
  const authTokenFile = `${dir}/${FILES.authToken}`;
  const entries: AppEnvEntry[] = [
    { name: 'TOKEN_BROKER_DIR', value: dir },
    { name: 'TOKEN_BROKER_URL', value: apiUrl(spec) },
    { name: 'TOKEN_BROKER_AUTH_TOKEN_FILE', value: authTokenFile },
  ];
  for (const t of spec.targets) {
    if (t.kind !== 'rds') continue;
    const n = envSegment(t.name);
    entries.push(
      { name: `TOKEN_BROKER_${n}_TOKEN_FILE`, value: `${dir}/${FILES.rdsToken(t.name)}`, target: t },
      { name: `TOKEN_BROKER_${n}_HOST`, value: t.host, target: t },
      { name: `TOKEN_BROKER_${n}_PORT`, value: String(t.port), target: t },
      { name: `TOKEN_BROKER_${n}_USER`, value: t.user, target: t },
      { name: `TOKEN_BROKER_${n}_DATABASE`, value: t.database, target: t },
    );
    if (t.proxy !== undefined) entries.push(...proxyEnv(t, t.proxy.port));
    if (t.engine === 'mysql') {
      entries.push({
        name: `TOKEN_BROKER_${n}_MY_CNF`,
        value: `${dir}/${FILES.mysqlOptionFile(t.name)}`,
        target: t,
      });
    }
  }
  if (spec.targets.some((t) => t.kind === 'rds' && t.engine === 'postgres')) {
    entries.push({ name: 'PGPASSFILE', value: `${dir}/${FILES.pgpass}` });
  }
  for (const t of spec.targets) {
    if (t.kind !== 'mongo') continue;
    const n = envSegment(t.name);
    entries.push(
      { name: `TOKEN_BROKER_${n}_URI_FILE`, value: `${dir}/${FILES.mongoUri(t.name)}`, target: t },
      {
        name: `TOKEN_BROKER_${n}_CREDENTIALS_FILE`,
        value: `${dir}/${FILES.credentialsJson(t.name)}`,
        target: t,
      },
    );
  }
  if (spec.awsCredentials !== undefined) {
    entries.push(
      { name: AWS_CONTAINER_CREDENTIALS_FULL_URI, value: credentialsUri(spec, spec.awsCredentials) },
      { name: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, value: authTokenFile },
    );
  }
  return entries;
}

/**
 * Where the app connects through the sidecar's PostgreSQL proxy: no password, no TLS on loopback
 * (the proxy speaks TLS to the database), as a libpq URL and a JDBC URL.
 */
function proxyEnv(t: RdsTarget, port: number): AppEnvEntry[] {
  const n = envSegment(t.name);
  const user = encodeURIComponent(t.user);
  const db = encodeURIComponent(t.database);
  return [
    { name: `TOKEN_BROKER_${n}_PROXY_HOST`, value: PROXY_HOST, target: t },
    { name: `TOKEN_BROKER_${n}_PROXY_PORT`, value: String(port), target: t },
    {
      name: `TOKEN_BROKER_${n}_PROXY_URL`,
      value: `postgresql://${user}@${PROXY_HOST}:${port}/${db}?sslmode=disable`,
      target: t,
    },
    {
      name: `TOKEN_BROKER_${n}_JDBC_URL`,
      value: `jdbc:postgresql://${PROXY_HOST}:${port}/${db}?user=${user}&sslmode=disable`,
      target: t,
    },
  ];
}

function credentialsUri(spec: Pick<InjectionSpec, 'apiPort'>, target: string): string {
  return `${apiUrl(spec)}${ROUTES.credentials(target)}`;
}

/** The env var names injection adds for these targets, with their owner (for collision checks). */
export function appEnvNames(targets: Target[]): { name: string; target?: Target }[] {
  return appEnvEntries({ targets, directory: '', apiPort: 0 }).map(({ name, target }) =>
    target ? { name, target } : { name },
  );
}

/** The env added to every selected app container, in injection order. */
export function appEnv(spec: InjectionSpec): EnvVar[] {
  return appEnvEntries(spec).map(({ name, value }) => ({ name, value }));
}

/** With `aws-credentials`, drops web identity env and repoints the EKS endpoint at the sidecar. */
export function pointContainerAtSidecar(container: Container, spec: InjectionSpec): void {
  if (spec.awsCredentials === undefined) return;
  pointAtSidecar(
    container,
    credentialsUri(spec, spec.awsCredentials),
    `${spec.directory}/${FILES.authToken}`,
  );
}

/**
 * Injects mount and env into one app container (a clone; edited in place). `kind` only words the
 * warnings. Returns the warnings.
 */
export function injectAppContainer(container: Container, spec: InjectionSpec, kind: string): string[] {
  const warnings: string[] = [];
  pointContainerAtSidecar(container, spec);
  const env = (container.env ??= []);
  for (const entry of appEnv(spec)) {
    const existing = env.find((e) => e.name === entry.name);
    if (!existing) {
      env.push(entry);
    } else if (existing.value !== entry.value || existing.valueFrom !== undefined) {
      warnings.push(
        `${kind} "${container.name}": env ${entry.name} is already set; kept the user's value instead of ${JSON.stringify(entry.value)}`,
      );
    }
  }
  const mounts = (container.volumeMounts ??= []);
  const clash = mounts.find((m) => m.mountPath === spec.directory && m.name !== VOLUME_NAME);
  if (clash) {
    warnings.push(
      `${kind} "${container.name}": ${spec.directory} is already mounted from volume "${clash.name}"; ` +
        'the token-broker volume was not mounted there, so the app will not see the credential files',
    );
  } else if (!mounts.some((m) => m.name === VOLUME_NAME)) {
    mounts.push({ name: VOLUME_NAME, mountPath: spec.directory, readOnly: true });
  }
  return warnings;
}
