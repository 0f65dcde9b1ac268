import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { connectSql } from './pool.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations', import.meta.url));

/**
 * Applies pending migrations from migrations/; a second run is a no-op. drizzle's migrator
 * runs on a client of its own, closed when it is done: drizzle replaces the timestamp
 * parsers of the client it wraps, which the process's pool keeps.
 */
export async function migrateDatabase(url: string): Promise<void> {
  const sql = connectSql(url, { max: 1, applicationName: 'relevo-migrate' });
  try {
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
