import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/database/embedded-postgres';
import { prepareBrowser } from './browser';

/**
 * One PostgreSQL server for the whole run: the one named by DATABASE_URL (CI's PostgreSQL 15), or else a real embedded
 * server in a fresh temporary folder. Each test file then makes its own database on it (test/support/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  let url = process.env.DATABASE_URL;
  let source = 'DATABASE_URL';
  if (!url) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-test-'));
    chmodSync(dataDir, 0o755);
    const embedded = await startEmbeddedPostgres({ dataDir, databaseName: 'synq_test' });
    (globalThis as { synqEmbedded?: { db: EmbeddedDatabase; dataDir: string } }).synqEmbedded = { db: embedded, dataDir };
    url = embedded.url;
    source = 'embedded-postgres';
  }
  process.env.SYNQ_TEST_DATABASE_URL = url;
  const client = new Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  process.stdout.write(`\ntests run on PostgreSQL ${rows[0].server_version} (${source})\n`);
  // The dashboard suites' Chromium, unpacked here once rather than by both suites at the same time.
  await prepareBrowser();
}
