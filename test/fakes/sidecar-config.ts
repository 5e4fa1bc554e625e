/**
 * Sample sidecar targets and configs for tests. Each builder returns a fresh, valid value; a test
 * overrides only the fields it is about, so what it checks stays visible where it checks it.
 */
import {
  SIDECAR_CONFIG_API_VERSION,
  type MongoTarget,
  type RdsTarget,
  type SidecarConfig,
} from '../../contract/sidecar-config.ts';

/** The downward-API identity of the sample pod (TOKEN_BROKER_POD_NAME / _NAMESPACE). */
export const SAMPLE_POD = { name: 'invoicing-7d9f-abcde', namespace: 'billing' } as const;

/** The invoicing app's PostgreSQL database, reached as the pod's own identity (no roleArn). */
export function rdsTarget(overrides: Partial<RdsTarget> = {}): RdsTarget {
  return {
    kind: 'rds',
    name: 'invoicing-db',
    region: 'eu-west-1',
    engine: 'postgres',
    host: 'inv.cluster-x.eu-west-1.rds.amazonaws.com',
    port: 5432,
    database: 'invoicing',
    user: 'invoicing_app',
    ...overrides,
  };
}

/** A MongoDB Atlas-like cluster reached through SRV, with no options and no roleArn. */
export function mongoTarget(overrides: Partial<MongoTarget> = {}): MongoTarget {
  return {
    kind: 'mongo',
    name: 'docs',
    region: 'eu-west-1',
    scheme: 'mongodb+srv',
    hosts: ['c0.example.mongodb.net'],
    database: 'docs',
    options: {},
    ...overrides,
  };
}

/** A whole config with the contract's default directory, ports and margin, and one RDS target. */
export function sidecarConfig(overrides: Partial<SidecarConfig> = {}): SidecarConfig {
  return {
    apiVersion: SIDECAR_CONFIG_API_VERSION,
    directory: '/var/run/token-broker',
    listen: { apiPort: 9901, healthPort: 9902, metricsPort: 9903 },
    refresh: { marginSeconds: 120 },
    targets: [rdsTarget()],
    ...overrides,
  };
}
