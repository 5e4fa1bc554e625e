// A long-running app process that keeps reconnecting to MongoDB with a real driver: every interval a
// new MongoClient (so a new authenticated connection), `ping` and `find`, then close. It takes its
// connection string where an app would: from an env var, or from a file named by an env var, re-read on
// every connection. Stops when its stdin closes.
// Env TOKEN_BROKER_E2E_APP_JOB: JSON MongoAppJob. Prints one JSON MongoAppAttempt line per connection.
import type { MongoAppAttempt, MongoAppJob } from './mongo-app.ts';
import { readFile } from 'node:fs/promises';
import {
  CONNECT_TIMEOUTS,
  driverFailure,
  loadMongoDriver,
  pingAndRead,
  type MongoDriverClient,
} from './mongo-driver.ts';

const job = JSON.parse(process.env.TOKEN_BROKER_E2E_APP_JOB ?? '{}') as MongoAppJob;
const driver = await loadMongoDriver(job.driver);

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
  let client: MongoDriverClient | undefined;
  try {
    client = new driver.MongoClient(await connectionString(), { ...CONNECT_TIMEOUTS, maxPoolSize: 1 });
    const { ping, documents } = await pingAndRead(client, job);
    return { startedAt, endedAt: Date.now(), ok: true, ping, documents: documents.length };
  } catch (error) {
    const failure = driverFailure(error);
    return {
      startedAt,
      endedAt: Date.now(),
      ok: false,
      error: `${failure.name}: ${failure.message}`,
      code: failure.code,
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
