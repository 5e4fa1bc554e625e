// A long-running app process that keeps reconnecting to MongoDB with a real driver: every interval a
// new MongoClient (so a new authenticated connection), `ping` and `find`, then close. It takes its
// connection string where an app would: from an env var, or from a file named by an env var, re-read on
// every connection. Stops when its stdin closes.
// Env TOKEN_BROKER_E2E_APP_JOB: JSON MongoAppJob. Prints one JSON MongoAppAttempt line per connection.
import type { MongoAppAttempt, MongoAppJob } from './mongo-app.ts';
import { readFile } from 'node:fs/promises';

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

const job = JSON.parse(process.env.TOKEN_BROKER_E2E_APP_JOB ?? '{}') as MongoAppJob;
const driver = (await import(job.driver)) as Driver;

let stopping = false;
process.stdin.on('end', () => (stopping = true));
process.stdin.on('close', () => (stopping = true));
process.stdin.resume();

async function connectionString(): Promise<string> {
  const source = job.uriFrom;
  const value = process.env[source.env];
  if (value === undefined) throw new Error(`${source.env} is not set in the app's env`);
  return source.kind === 'env' ? value : await readFile(value, 'utf8');
}

async function attempt(): Promise<MongoAppAttempt> {
  const startedAt = Date.now();
  let client: InstanceType<Driver['MongoClient']> | undefined;
  try {
    client = new driver.MongoClient(await connectionString(), {
      serverSelectionTimeoutMS: 5000,
      connectTimeoutMS: 5000,
      maxPoolSize: 1,
    });
    await client.connect();
    const db = client.db(job.database);
    const ping = await db.command({ ping: 1 });
    const documents = await db.collection(job.collection).find({}).toArray();
    return { startedAt, endedAt: Date.now(), ok: true, ping: ping.ok === 1, documents: documents.length };
  } catch (error) {
    const e = error as { name?: string; message?: string; code?: unknown };
    return {
      startedAt,
      endedAt: Date.now(),
      ok: false,
      error: `${e.name ?? 'Error'}: ${e.message ?? String(error)}`,
      code: typeof e.code === 'number' ? e.code : undefined,
    };
  } finally {
    await client?.close().catch(() => undefined);
  }
}

while (!stopping) {
  process.stdout.write(`${JSON.stringify(await attempt())}\n`);
  if (!stopping) await new Promise((resolve) => setTimeout(resolve, job.intervalMs));
}
process.exit(0);
