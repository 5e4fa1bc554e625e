// What both e2e Mongo child processes do with a real driver (major version 6 or 7, loaded by package
// name): connect, `ping`, read a collection, and report a failure by the fields the tests check.

/** The slice of the MongoDB driver API the children use; both major versions have it. */
export interface MongoDriver {
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

export type MongoDriverClient = InstanceType<MongoDriver['MongoClient']>;

/** Short timeouts: a refused login or an unreachable stand-in fails the attempt in seconds. */
export const CONNECT_TIMEOUTS = { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 } as const;

export async function loadMongoDriver(name: string): Promise<MongoDriver> {
  return (await import(name)) as MongoDriver;
}

/** Connects (authenticating), runs `ping` and reads every document of the collection, as an app would. */
export async function pingAndRead(
  client: MongoDriverClient,
  where: { readonly database: string; readonly collection: string },
): Promise<{ ping: boolean; documents: unknown[] }> {
  await client.connect();
  const db = client.db(where.database);
  const ping = await db.command({ ping: 1 });
  const documents = await db.collection(where.collection).find({}).toArray();
  return { ping: ping.ok === 1, documents };
}

/** The error's name and message, and its code when numeric (the server's, e.g. 18 for a failed login). */
export function driverFailure(error: unknown): { name: string; message: string; code: number | undefined } {
  const e = error as { name?: string; message?: string; code?: unknown };
  return {
    name: e.name ?? 'Error',
    message: e.message ?? String(error),
    code: typeof e.code === 'number' ? e.code : undefined,
  };
}
