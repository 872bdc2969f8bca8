import { Pool, type ClientConfig } from 'pg';
import type { AppConfig } from '../config/config';
import { MIGRATIONS_DIR } from '../project-root';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres';
import { migrate, type MigrationResult } from './migrator';

/** The engine's PostgreSQL: the server named by DATABASE_URL, or the embedded one it started and will stop. */
export class Database {
  private closed = false;

  constructor(
    readonly pool: Pool,
    /** For connections of their own (e.g. one holding a projection's advisory lock). */
    readonly connection: ClientConfig,
    readonly source: 'embedded' | 'external',
    readonly migrations: MigrationResult,
    private readonly embedded: EmbeddedDatabase | undefined,
  ) {}

  async serverVersion(): Promise<string> {
    const { rows } = await this.pool.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version;
  }

  /** Ends the pool, then stops the embedded server if this process started it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
    await this.embedded?.stop();
  }
}

/** Starts (or connects to) PostgreSQL and applies pending migrations. */
export async function openDatabase(config: AppConfig, log: (line: string) => void): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
    url = embedded.url;
  }
  const pool = new Pool({ connectionString: url, max: 10 });
  // An idle client losing its server must not crash the process; the next query reports the problem. While the pool
  // is ending (pool.end() resolves before its sockets close), the embedded server stopping is expected, not news.
  pool.on('error', (error) => {
    if (!(pool as Pool & { ending?: boolean }).ending) log(`PostgreSQL pool: idle client error: ${error.message}`);
  });
  try {
    const migrations = await migrate(pool, MIGRATIONS_DIR, log);
    return new Database(pool, { connectionString: url }, embedded ? 'embedded' : 'external', migrations, embedded);
  } catch (error) {
    await pool.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}
