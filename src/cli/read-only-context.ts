import { Pool } from 'pg';
import { loadConfig, type AppConfig } from '../config/config';
import { Database, openDatabase } from '../database/database';
import type { EventStore } from '../event-store/event-store';
import { openEventStore } from '../event-store/open-event-store';
import { ProjectionReader } from '../projections/projection-reader';

/*
 * Apart from src/cli/context.ts, which opens the chain too (and so loads litesvm): a command that only reads needs none
 * of it.
 */

/** What a command that only reads is made of (the audit). */
export interface ReadOnlyCliContext {
  config: AppConfig;
  database: Database;
  store: EventStore;
  reader: ProjectionReader;
  close(): Promise<void>;
}

/**
 * For commands that only read. With DATABASE_URL: a plain pool whose transactions are read-only (no migrations, no
 * projection runner), so a role with SELECT on the events table and its sequence, projection_state and the read models'
 * schemas is enough, and whatever the role may do, the command cannot write. Without it: the embedded PostgreSQL as the
 * engine opens it (which applies pending migrations).
 */
export async function openReadOnlyCliContext(): Promise<ReadOnlyCliContext> {
  const config = loadConfig();
  let database: Database;
  if (config.databaseUrl) {
    const pool = new Pool({ connectionString: config.databaseUrl, max: 4, options: '-c default_transaction_read_only=on' });
    pool.on('error', () => undefined); // an idle client losing its server: the next query reports it
    database = new Database(pool, { connectionString: config.databaseUrl }, 'external', { applied: [], current: [] }, undefined);
  } else {
    database = await openDatabase(config, () => undefined);
  }
  let store: EventStore;
  try {
    store = openEventStore(config, database);
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  return {
    config,
    database,
    store,
    reader: new ProjectionReader(database.pool),
    async close() {
      await store.close().catch(() => undefined);
      await database.close().catch(() => undefined);
    },
  };
}
