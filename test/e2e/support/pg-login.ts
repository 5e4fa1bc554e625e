import pg from 'pg';

/**
 * One login with node-postgres, as an app makes it: a new connection (so the server checks the password,
 * here an RDS IAM token, again), then `select current_user`. Rejects with PostgreSQL's own error.
 */
export async function loginAs(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    const result = await client.query<{ current_user: string }>('select current_user');
    return result.rows[0]?.current_user ?? '';
  } finally {
    await client.end().catch(() => undefined);
  }
}
