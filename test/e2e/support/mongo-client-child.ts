// Runs one real MongoDB driver in its own process, so the AWS SDK credential chain sees only the env the
// test gives it (as an app container would) and the test runner's env stays clean.
// Env TOKEN_BROKER_E2E_JOB: JSON MongoClientJob (not argv: a URI may carry credentials). Prints one JSON
// MongoClientOutcome line on stdout.
import type { MongoClientJob, MongoClientOutcome } from './mongo-client.ts';

interface Driver {
  MongoClient: new (
    uri: string,
    options: Record<string, unknown>,
  ) => {
    connect(): Promise<unknown>;
    db(name: string): {
      command(command: Record<string, unknown>): Promise<Record<string, unknown>>;
      collection(name: string): { find(filter: Record<string, unknown>): { toArray(): Promise<unknown[]> } };
    };
    close(): Promise<void>;
  };
}

const job = JSON.parse(process.env.TOKEN_BROKER_E2E_JOB ?? '{}') as MongoClientJob;
const driver = (await import(job.driver)) as Driver;
const client = new driver.MongoClient(job.uri, { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 });
let outcome: MongoClientOutcome;
try {
  await client.connect();
  const db = client.db(job.database);
  const ping = await db.command({ ping: 1 });
  const documents = await db.collection(job.collection).find({}).toArray();
  outcome = { ok: true, ping: ping.ok === 1, documents };
} catch (error) {
  const e = error as { name?: string; message?: string; code?: unknown };
  outcome = {
    ok: false,
    errorName: e.name ?? 'Error',
    message: e.message ?? String(error),
    code: typeof e.code === 'number' ? e.code : undefined,
  };
} finally {
  await client.close().catch(() => undefined);
}
process.stdout.write(`${JSON.stringify(outcome)}\n`);
