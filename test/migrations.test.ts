import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { migrate, readMigrations } from '../src/database/migrator';
import { MIGRATIONS_DIR } from '../src/project-root';
import { createTestDatabase, type TestDatabase } from './support/database';

describe('migrations', () => {
  let db: TestDatabase;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase({ migrated: false });
    dir = await fs.mkdtemp(path.join(tmpdir(), 'synq-migrations-'));
    await fs.writeFile(path.join(dir, '001_first.sql'), 'CREATE TABLE first_table (id int);');
    await fs.writeFile(path.join(dir, '002_second.sql'), 'CREATE TABLE second_table (id int);');
  });
  afterEach(async () => {
    await db.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const recorded = async () =>
    (await db.pool.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version')).rows as {
      version: number;
      name: string;
      checksum: string;
    }[];

  it('applies files in order once, recording each with its checksum', async () => {
    const first = await migrate(db.pool, dir);
    expect(first.applied.map((m) => m.name)).toEqual(['first', 'second']);
    const second = await migrate(db.pool, dir);
    expect(second.applied).toEqual([]);
    expect(second.current).toEqual([
      { version: 1, name: 'first' },
      { version: 2, name: 'second' },
    ]);
    const files = await readMigrations(dir);
    expect((await recorded()).map((r) => r.checksum)).toEqual(files.map((f) => f.checksum));
  });

  it('refuses to go on when an applied file was edited', async () => {
    await migrate(db.pool, dir);
    await fs.writeFile(path.join(dir, '001_first.sql'), 'CREATE TABLE first_table (id bigint);');
    await fs.writeFile(path.join(dir, '003_third.sql'), 'CREATE TABLE third_table (id int);');
    await expect(migrate(db.pool, dir)).rejects.toThrow(/migration 001_first\.sql was edited after it was applied/);
    expect(await recorded()).toHaveLength(2);
  });

  it('refuses a database that has a migration this code does not know', async () => {
    await migrate(db.pool, dir);
    await fs.rm(path.join(dir, '002_second.sql'));
    await expect(migrate(db.pool, dir)).rejects.toThrow('002_second.sql is applied in the database but its file is missing');
  });

  it('rolls a failing migration back whole and keeps the ones before it', async () => {
    await fs.writeFile(path.join(dir, '003_broken.sql'), 'CREATE TABLE half_made (id int); SELECT no_such_function();');
    await expect(migrate(db.pool, dir)).rejects.toThrow(/migration 003_broken\.sql failed and was rolled back/);
    expect((await recorded()).map((r) => r.version)).toEqual([1, 2]);
    const { rows } = await db.pool.query(`SELECT to_regclass('half_made') AS t`);
    expect(rows[0].t).toBeNull();
  });

  it('applies each migration once when several engines start at the same moment', async () => {
    await fs.writeFile(path.join(dir, '003_slow.sql'), 'SELECT pg_sleep(0.2); CREATE TABLE slow_table (id int);');
    const pools = Array.from({ length: 4 }, () => new Pool({ connectionString: db.url, max: 2 }));
    // Their sockets may still be closing when afterEach drops the database (see test/support/database.ts).
    for (const pool of pools) pool.on('error', () => undefined);
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool, dir)));
      expect(results.reduce((n, r) => n + r.applied.length, 0)).toBe(3);
      expect((await recorded()).map((r) => r.version)).toEqual([1, 2, 3]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('refuses badly named and duplicate files', async () => {
    await fs.writeFile(path.join(dir, 'fourth.sql'), 'SELECT 1;');
    await expect(readMigrations(dir)).rejects.toThrow('migration file fourth.sql must be named NNN_lowercase_name.sql');
    await fs.rm(path.join(dir, 'fourth.sql'));
    await fs.writeFile(path.join(dir, '0002_again.sql'), 'SELECT 1;');
    await expect(readMigrations(dir)).rejects.toThrow('two migration files have version 2');
  });

  it("ships the engine's own migrations in a form the migrator accepts", async () => {
    const files = await readMigrations(MIGRATIONS_DIR);
    expect(files[0]).toMatchObject({ version: 1, name: 'event_store' });
    const result = await migrate(db.pool, MIGRATIONS_DIR);
    expect(result.applied).toHaveLength(files.length);
  });
});
