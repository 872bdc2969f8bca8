import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { ConfigError } from '../src/config/config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres';
import { packagedNativeDir } from '../src/database/postgres-binaries';

/**
 * Run as root, the embedded PostgreSQL runs as the `postgres` OS user. A project in a folder that user cannot reach
 * (a clone in root's 0700 home) must still start it (from a copy of the binaries), or stop at once with one line
 * saying why; never with an unhandled 'error' event from a spawn.
 */
const isRoot = process.getuid?.() === 0;
const describeAsRoot = isRoot ? describe : describe.skip;
if (!isRoot) process.stdout.write(`embedded-postgres-root.test.ts: the root-only tests are skipped (they need uid 0, this run is uid ${process.getuid?.()})\n`);

let scratch: string;

beforeEach(() => {
  // A folder the postgres user can reach (as the test setup's own data folder is)...
  scratch = mkdtempSync(path.join(tmpdir(), 'synq-root-'));
  chmodSync(scratch, 0o755);
});

afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** ...with a 0700 folder in it, as root's home is. */
function privateFolder(): string {
  const dir = path.join(scratch, 'private');
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

describeAsRoot(`embedded PostgreSQL run as root${isRoot ? '' : ' (skipped: needs root)'}`, () => {
  it('stops at once, with one line naming SYNQ_DATA_DIR, when the data folder is in a folder the postgres user cannot reach', async () => {
    const closed = privateFolder();
    const dataDir = path.join(closed, 'clone', '.synq');
    const started = Date.now();
    const error = await startEmbeddedPostgres({ dataDir }).then(
      (db) => db.stop().then(() => undefined),
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const [problem] = (error as ConfigError).problems;
    expect(problem).not.toContain('\n');
    expect(problem).toMatch(/^SYNQ_DATA_DIR: .*postgres user.*cannot reach/);
    expect(problem).toContain(`${dataDir} (${closed} is closed to it)`);
    expect(problem).toContain('run as a non-root user');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(false);
  });

  it('runs the server from a copy of the binaries when the postgres user cannot reach them in place', async () => {
    const hidden = path.join(privateFolder(), 'native');
    symlinkSync(packagedNativeDir(), hidden);
    const binaryCacheDir = path.join(scratch, 'cache');
    const lines: string[] = [];
    let db: EmbeddedDatabase | undefined;
    try {
      db = await startEmbeddedPostgres({
        dataDir: path.join(scratch, 'data'),
        databaseName: 'root_test',
        nativeDir: hidden,
        binaryCacheDir,
        log: (line) => lines.push(line),
      });
      const client = new Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
      await client.end();
      expect(rows).toEqual([{ one: 1 }]);

      const [copy, ...others] = readdirSync(binaryCacheDir);
      expect(others).toEqual([]);
      const postmaster = Number(readFileSync(path.join(db.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const program = readFileSync(`/proc/${postmaster}/cmdline`, 'utf8').split('\0')[0];
      expect(program).toBe(path.join(binaryCacheDir, copy, 'bin', 'postgres'));
      expect(lines.some((line) => line.includes('running PostgreSQL from a copy'))).toBe(true);
    } finally {
      await db?.stop();
    }
  }, 30_000);
});

describe('embedded PostgreSQL with binaries it cannot run', () => {
  it('rejects the start with the reason (no unhandled error event) when a binary is missing', async () => {
    const nativeDir = path.join(scratch, 'native');
    mkdirSync(path.join(nativeDir, 'bin'), { recursive: true });
    await expect(startEmbeddedPostgres({ dataDir: path.join(scratch, 'data'), nativeDir, binaryCacheDir: path.join(scratch, 'cache') })).rejects.toThrow(
      /^embedded PostgreSQL's .*\/bin\/initdb is missing; install the dependencies again \(npm ci\)$/,
    );
  });

  it('rejects the start with the reason (no unhandled error event) when the binaries cannot be executed', async () => {
    const nativeDir = path.join(scratch, 'native');
    for (const sub of ['bin', 'lib', 'share']) mkdirSync(path.join(nativeDir, sub), { recursive: true });
    for (const name of ['initdb', 'postgres']) writeFileSync(path.join(nativeDir, 'bin', name), '#!/bin/sh\n', { mode: 0o644 });
    const error = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'data'), nativeDir, binaryCacheDir: path.join(scratch, 'cache') }).then(
      (db) => db.stop().then(() => undefined),
      (reason: unknown) => reason as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).not.toContain('\n');
    // As root: neither in place nor from the copy (no execute bit); otherwise initdb's spawn fails with EACCES.
    expect(error?.message).toMatch(
      isRoot ? /can run neither .*\(EACCES\) nor its copy .*\(EACCES\)/ : /could not initialise .*cannot run .*initdb: spawn .*EACCES/,
    );
  });
});
