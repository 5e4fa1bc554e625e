/**
 * A database target as the webhook resolves it and the sidecar serves it: the types alone, so that the
 * rules on a target (target-rules.ts) and the config that carries them (sidecar-config.ts) both stand
 * on them without importing each other.
 */

export type RdsEngine = 'postgres' | 'mysql';
export type MongoScheme = 'mongodb' | 'mongodb+srv';

interface TargetBase {
  /** DNS-label-like name from the annotation suffix; names files, env vars and metric labels. */
  name: string;
  region: string;
  /** Role assumed on top of the pod's own identity; absent: the pod's identity signs directly. */
  roleArn?: string;
  externalId?: string;
}

export interface RdsTarget extends TargetBase {
  kind: 'rds';
  engine: RdsEngine;
  host: string;
  port: number;
  database: string;
  user: string;
  /** postgres only: the sidecar's loopback proxy that logs in with a fresh token for the app. */
  proxy?: PgProxyConfig;
}

/** The PostgreSQL loopback proxy of one target (sidecar/src/pg-proxy/). */
export interface PgProxyConfig {
  /** Port on 127.0.0.1 inside the pod, 1024-65535. */
  port: number;
  /** PEM bundle of the CAs the database's certificate is verified against (the RDS CA bundle). */
  caFile: string;
}

export interface MongoTarget extends TargetBase {
  kind: 'mongo';
  scheme: MongoScheme;
  /** `host` for mongodb+srv, `host:port` entries for mongodb. */
  hosts: string[];
  database: string;
  /** Extra URI query options passed through to the app's URI (e.g. replicaSet, tls). */
  options: Record<string, string>;
}

export type Target = RdsTarget | MongoTarget;
