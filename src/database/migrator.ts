import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Pool, PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** SHA-256 of the file's bytes, hex. */
  checksum: string;
}

export interface MigrationResult {
  applied: Migration[];
  /** Every migration now recorded in the database, oldest first. */
  current: { version: number; name: string }[];
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

const FILE_PATTERN = /^(\d+)_([a-z0-9_]+)\.sql$/;
// Any constant shared by every engine instance; two instances starting at once queue on it.
const MIGRATION_LOCK_KEY = 7_358_112_001;

/** Reads `NNN_name.sql` files in version order; refuses duplicates and stray names so nothing is silently skipped. */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of (await fs.readdir(dir)).sort()) {
    if (!file.endsWith('.sql')) continue;
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`migration file ${file} must be named NNN_lowercase_name.sql`);
    const bytes = await fs.readFile(path.join(dir, file));
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      sql: bytes.toString('utf8'),
      checksum: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new MigrationError(`two migration files have version ${migrations[i].version}`);
    }
  }
  return migrations;
}

/**
 * Applies pending migrations in order, each in its own transaction and recorded with its checksum. Refuses to go on if
 * an applied file was edited or is missing. A session advisory lock makes concurrent starts apply each file once.
 */
export async function migrate(pool: Pool, dir: string, log: (line: string) => void = () => undefined): Promise<MigrationResult> {
  const migrations = await readMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const recorded = await appliedMigrations(client);
      verifyApplied(migrations, recorded);
      const applied: Migration[] = [];
      for (const migration of migrations) {
        if (recorded.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            migration.version,
            migration.name,
            migration.checksum,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new MigrationError(`migration ${fileName(migration)} failed and was rolled back: ${(error as Error).message}`);
        }
        log(`applied migration ${fileName(migration)}`);
        applied.push(migration);
      }
      const current = [...(await appliedMigrations(client)).values()].map(({ version, name }) => ({ version, name }));
      return { applied, current };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function appliedMigrations(client: PoolClient): Promise<Map<number, { version: number; name: string; checksum: string }>> {
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  return new Map(rows.map((row) => [row.version, row]));
}

function verifyApplied(files: Migration[], recorded: Map<number, { version: number; name: string; checksum: string }>): void {
  const byVersion = new Map(files.map((file) => [file.version, file]));
  for (const row of recorded.values()) {
    const file = byVersion.get(row.version);
    const label = `${String(row.version).padStart(3, '0')}_${row.name}.sql`;
    if (!file) throw new MigrationError(`migration ${label} is applied in the database but its file is missing; refusing to start`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${label} was edited after it was applied (checksum ${row.checksum.slice(0, 12)}… recorded, ${file.checksum.slice(0, 12)}… on disk); ` +
          'restore the file and add a new migration for the change',
      );
    }
  }
}

function fileName(migration: Migration): string {
  return `${String(migration.version).padStart(3, '0')}_${migration.name}.sql`;
}
