// Runs one real MongoDB driver in its own process, so the AWS SDK credential chain sees only the env the
// test gives it (as an app container would) and the test runner's env stays clean.
// Env TOKEN_BROKER_E2E_JOB: JSON MongoClientJob (not argv: a URI may carry credentials). Prints one JSON
// MongoClientOutcome line on stdout.
import type { MongoClientJob, MongoClientOutcome } from './mongo-client.ts';
import { CONNECT_TIMEOUTS, driverFailure, loadMongoDriver, pingAndRead } from './mongo-driver.ts';

const job = JSON.parse(process.env.TOKEN_BROKER_E2E_JOB ?? '{}') as MongoClientJob;
const driver = await loadMongoDriver(job.driver);
const client = new driver.MongoClient(job.uri, CONNECT_TIMEOUTS);
let outcome: MongoClientOutcome;
try {
  outcome = { ok: true, ...(await pingAndRead(client, job)) };
} catch (error) {
  const failure = driverFailure(error);
  outcome = { ok: false, errorName: failure.name, message: failure.message, code: failure.code };
} finally {
  await client.close().catch(() => undefined);
}
process.stdout.write(`${JSON.stringify(outcome)}\n`);
