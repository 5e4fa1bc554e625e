/**
 * What `npm test` needs from the machine beyond `npm ci`: Debian packages, each with why and with the
 * files or commands that show it is installed. `scripts/provision.ts` (the `pretest` step) installs the
 * missing ones or names the command that would.
 */

/** A command found on PATH, or a file; one `*` path segment matches any directory entry. */
export type Probe = { readonly command: string } | { readonly file: string };

export interface DebianRequirement {
  readonly package: string;
  readonly why: string;
  readonly probes: readonly Probe[];
}

export const TEST_REQUIREMENTS: readonly DebianRequirement[] = [
  {
    package: 'postgresql',
    why: 'PostgreSQL e2e: a real server (initdb, pg_ctl, postgres)',
    probes: [
      { file: '/usr/lib/postgresql/*/bin/initdb' },
      { file: '/usr/lib/postgresql/*/bin/pg_ctl' },
      { file: '/usr/lib/postgresql/*/bin/postgres' },
      { file: '/usr/lib/postgresql/*/bin/pgbench' },
    ],
  },
  {
    package: 'postgresql-client',
    why: 'PostgreSQL e2e: psql',
    probes: [{ command: 'psql' }, { file: '/usr/lib/postgresql/*/bin/psql' }],
  },
  {
    package: 'default-jre-headless',
    why: 'PostgreSQL proxy e2e: runs the HikariCP harness (java runs its single source file, no JDK needed)',
    probes: [{ command: 'java' }],
  },
  {
    package: 'libhikaricp-java',
    why: 'PostgreSQL proxy e2e: HikariCP, a pool that reads its password once',
    probes: [{ file: '/usr/share/java/HikariCP.jar' }],
  },
  {
    package: 'libpostgresql-jdbc-java',
    why: 'PostgreSQL proxy e2e: the PostgreSQL JDBC driver',
    probes: [{ file: '/usr/share/java/postgresql.jar' }],
  },
  {
    package: 'libslf4j-java',
    why: "PostgreSQL proxy e2e: HikariCP's logging API and its no-op binding",
    probes: [{ file: '/usr/share/java/slf4j-api.jar' }, { file: '/usr/share/java/slf4j-nop.jar' }],
  },
  {
    package: 'prometheus',
    why: 'alert-rule and metric tests (promtool) and the real-Prometheus SRE e2e (prometheus)',
    probes: [{ command: 'promtool' }, { command: 'prometheus' }],
  },
  {
    package: 'mariadb-server',
    why: 'MySQL e2e: mariadbd with its PAM plugin, and the mariadb client',
    probes: [
      { file: '/usr/sbin/mariadbd' },
      { file: '/usr/bin/mariadb-install-db' },
      { file: '/usr/lib/mysql/plugin/auth_pam.so' },
      { command: 'mariadb' },
      { command: 'my_print_defaults' },
    ],
  },
  {
    package: 'libpam-python',
    why: 'MySQL e2e: the PAM module that hands the token to the RDS-style verifier',
    probes: [{ file: '/lib/security/pam_python.so' }],
  },
  {
    package: 'openssl',
    why: 'TLS certificates (certs/generate.sh) for the webhook and the e2e servers',
    probes: [{ command: 'openssl' }],
  },
  {
    package: 'python3',
    why: 'unpacks helm for the chart tests (scripts/helm.sh)',
    probes: [{ command: 'python3' }],
  },
  {
    package: 'util-linux',
    why: 'runtime-image e2e: unshare and setpriv (read-only root, UID 65532); runuser for PostgreSQL',
    probes: [{ command: 'unshare' }, { command: 'setpriv' }, { command: 'runuser' }],
  },
  {
    package: 'mount',
    why: 'runtime-image e2e: read-only bind mounts',
    probes: [{ command: 'mount' }],
  },
  {
    package: 'socat',
    why: 'npm run bench: the pgbench floor, a C relay between pgbench and PostgreSQL (bench/socat-relay.ts)',
    probes: [{ command: 'socat' }],
  },
];
