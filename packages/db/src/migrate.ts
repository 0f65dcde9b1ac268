import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { connectDatabase } from './client.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations', import.meta.url));

/** Applies pending migrations from migrations/; a second run is a no-op. */
export async function migrateDatabase(url: string): Promise<void> {
  const database = connectDatabase(url, { max: 1, applicationName: 'relevo-migrate' });
  try {
    await migrate(database.db, { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await database.close();
  }
}
