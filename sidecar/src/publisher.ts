/**
 * Turns a target's new value into its files: `<name>.token` and its `<name>.token.meta.json`
 * (token-meta.ts; + the shared `pgpass` for PostgreSQL, + `<name>.my.cnf` for MySQL), or
 * `<name>.credentials.json` + `<name>.uri` for Mongo. Writes go through one queue so two targets
 * refreshing together never interleave their pgpass rewrites, and shutdown can wait for the queue.
 */
import { join } from 'node:path';
import {
  FILES,
  type MongoTarget,
  type RdsTarget,
  type SidecarConfig,
  type Target,
} from '../../contract/sidecar-config.ts';
import { renderCredentialsJson } from './credentials-json.ts';
import { nodeFileOps, SECRET_FILE_MODE, writeFileAtomic, type FileOps } from './files.ts';
import type { MongoValue } from './mongo-credentials.ts';
import { renderMongoUri } from './mongo-uri.ts';
import { renderMysqlOptionFile } from './mysql-option-file.ts';
import { renderPgpass, type PgpassEntry } from './pgpass.ts';
import type { RdsValue } from './rds-token.ts';
import { renderTokenMeta, tokenMetaFileName } from './token-meta.ts';

export type TargetValue = RdsValue | MongoValue;

export class FilePublisher {
  private queue: Promise<void> = Promise.resolve();
  private readonly postgresTokens = new Map<string, string>();
  private readonly postgresTargets: RdsTarget[];

  constructor(
    private readonly config: SidecarConfig,
    private readonly ops: FileOps = nodeFileOps,
  ) {
    this.postgresTargets = config.targets.filter(
      (t): t is RdsTarget => t.kind === 'rds' && t.engine === 'postgres',
    );
  }

  /** Resolves when this value's files are written; rejects with a FileWriteError (no secret in it). */
  publish(target: Target, value: TargetValue): Promise<void> {
    const run = this.queue.then(() => this.write(target, value));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Adopts values a previous run published (restore.ts) as if published now, so the next pgpass
   * rewrite keeps their lines. Their own files are left as they are; a derived file (pgpass, `.uri`,
   * `.my.cnf`) that does not match them (a run stopped between two writes) is rewritten from them.
   */
  restore(values: readonly { target: Target; value: TargetValue }[]): Promise<void> {
    const run = this.queue.then(() => this.reconcile(values));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every queued write has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  private async write(target: Target, value: TargetValue): Promise<void> {
    const dir = this.config.directory;
    if (target.kind === 'rds' && value.kind === 'rds') {
      // Rendered before any write: a token no MySQL client could read from the option file fails the
      // refresh (MysqlOptionFileError) and leaves the last good token and its option file in place.
      const optionFile = target.engine === 'mysql' ? mysqlOptionFile(target, value.token) : undefined;
      await writeFileAtomic(dir, FILES.rdsToken(target.name), value.token, SECRET_FILE_MODE, this.ops);
      // After the token: a crash in between leaves a record of another token, which restore ignores.
      await writeFileAtomic(
        dir,
        tokenMetaFileName(target.name),
        renderTokenMeta(value.token, value.expiresAt),
        SECRET_FILE_MODE,
        this.ops,
      );
      if (optionFile !== undefined) {
        await writeFileAtomic(
          dir,
          FILES.mysqlOptionFile(target.name),
          optionFile,
          SECRET_FILE_MODE,
          this.ops,
        );
      }
      if (target.engine === 'postgres') {
        this.postgresTokens.set(target.name, value.token);
        await writeFileAtomic(
          dir,
          FILES.pgpass,
          renderPgpass(this.pgpassEntries()),
          SECRET_FILE_MODE,
          this.ops,
        );
      }
      return;
    }
    if (target.kind === 'mongo' && value.kind === 'mongo') {
      await this.writeMongo(target, value);
      return;
    }
    throw new Error(`target ${target.name} is ${target.kind} but the value is ${value.kind}`);
  }

  private async reconcile(values: readonly { target: Target; value: TargetValue }[]): Promise<void> {
    let postgres = false;
    for (const { target, value } of values) {
      if (target.kind === 'rds' && value.kind === 'rds' && target.engine === 'postgres') {
        this.postgresTokens.set(target.name, value.token);
        postgres = true;
      } else if (target.kind === 'rds' && value.kind === 'rds' && target.engine === 'mysql') {
        await this.rewriteIfDifferent(
          FILES.mysqlOptionFile(target.name),
          mysqlOptionFile(target, value.token),
        );
      } else if (target.kind === 'mongo' && value.kind === 'mongo') {
        await this.rewriteIfDifferent(FILES.mongoUri(target.name), renderMongoUri(target, value.credentials));
      }
    }
    if (postgres) await this.rewriteIfDifferent(FILES.pgpass, renderPgpass(this.pgpassEntries()));
  }

  private async rewriteIfDifferent(name: string, content: string): Promise<void> {
    if ((await this.readOrUndefined(name)) !== content) {
      await writeFileAtomic(this.config.directory, name, content, SECRET_FILE_MODE, this.ops);
    }
  }

  private async readOrUndefined(name: string): Promise<string | undefined> {
    try {
      return await this.ops.readFile(join(this.config.directory, name));
    } catch {
      return undefined;
    }
  }

  private async writeMongo(target: MongoTarget, value: MongoValue): Promise<void> {
    const dir = this.config.directory;
    const json = renderCredentialsJson(value.credentials);
    await writeFileAtomic(dir, FILES.credentialsJson(target.name), json, SECRET_FILE_MODE, this.ops);
    await writeFileAtomic(
      dir,
      FILES.mongoUri(target.name),
      renderMongoUri(target, value.credentials),
      SECRET_FILE_MODE,
      this.ops,
    );
  }

  private pgpassEntries(): PgpassEntry[] {
    const entries: PgpassEntry[] = [];
    for (const t of this.postgresTargets) {
      const password = this.postgresTokens.get(t.name);
      if (password === undefined) continue;
      // An RDS token authenticates the user at host:port for every database, so the line matches any
      // (tools that first connect to `postgres`, or a second database on the same instance).
      entries.push({ host: t.host, port: t.port, database: undefined, user: t.user, password });
    }
    return entries;
  }
}

function mysqlOptionFile(target: RdsTarget, token: string): string {
  return renderMysqlOptionFile({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    password: token,
  });
}
