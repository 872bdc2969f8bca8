import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { migrate } from '../../src/database/migrator';
import { MIGRATIONS_DIR } from '../../src/project-root';

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export function serverUrl(): string {
  const url = process.env.SYNQ_TEST_DATABASE_URL;
  if (!url) throw new Error('SYNQ_TEST_DATABASE_URL is not set: run the tests through jest (test/support/global-setup.ts)');
  return url;
}

/** A fresh database on the run's server, migrated unless `migrated: false`; dropped by `drop()`. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `synq_t_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 12 });
  let dropping = false;
  // pool.end() resolves before its sockets are closed, so DROP ... WITH (FORCE) may still terminate one: expected then.
  pool.on('error', (error) => {
    if (!dropping) throw error;
  });
  if (options.migrated !== false) await migrate(pool, MIGRATIONS_DIR);
  return {
    url: url.toString(),
    pool,
    async drop() {
      dropping = true;
      await pool.end();
      const client = new Client({ connectionString: serverUrl() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
