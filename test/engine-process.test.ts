import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { createApiKey } from '../src/auth/api-keys';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { makeEvents } from './event-store.contract';

const MAIN = path.join(__dirname, '..', 'dist', 'src', 'main.js');

interface EngineProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the built engine (`npm start` runs the same file) with no DATABASE_URL, so on embedded PostgreSQL. */
async function startProcess(dataDir: string, ownProcessGroup = false): Promise<EngineProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, SYNQ_DATA_DIR: dataDir, PORT: '0' };
  delete env.DATABASE_URL;
  delete env.EVENTSTORE_CONNECTION_STRING;
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: ownProcessGroup });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine did not start within 60 s:\n${output}`)), 60_000);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code} before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}

/** An auditor's key, made in the embedded database on the first start (the data folder is kept from test to test). */
let auditorKey: string | undefined;

async function health(url: string): Promise<{ status: string; database: { source: string }; eventStore: { lastPosition: string } }> {
  const response = await fetch(`${url}/health`, { headers: auditorKey ? { authorization: `Bearer ${auditorKey}` } : {} });
  expect(response.status).toBe(200);
  return (await response.json()) as Awaited<ReturnType<typeof health>>;
}

/** Connects to the embedded server the way an operator would: port from postmaster.pid, password from the data folder. */
function embeddedPool(dataDir: string): Pool {
  const port = readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[3];
  const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
  return new Pool({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'synq' });
}

describe('engine process on embedded PostgreSQL', () => {
  let dataDir: string;
  let running: EngineProcess | undefined;

  beforeAll(() => {
    dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'synq-engine-')), 'data');
    chmodSync(path.dirname(dataDir), 0o755);
  });
  afterAll(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGTERM');
      await running.exited;
    }
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('starts on a fresh data folder, answers /health, and stops the database on SIGTERM', async () => {
    running = await startProcess(dataDir);
    expect(running.output()).toContain('initialising embedded PostgreSQL');
    // Without a key: up, nothing more.
    expect(await health(running.url)).toEqual({ status: 'up' });

    const pool = embeddedPool(dataDir);
    // Creating a key records ApiKeyCreated: the log's first event.
    auditorKey = (await createApiKey({ pool, store: new PostgresEventStore(pool) }, 'auditor')).key;
    expect(await health(running.url)).toMatchObject({ status: 'ok', database: { source: 'embedded' }, eventStore: { lastPosition: '1' } });
    await new PostgresEventStore(pool).append('synqer-persisted', makeEvents(3));
    await pool.end();
    expect((await health(running.url)).eventStore.lastPosition).toBe('4');

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(running.output()).toContain('embedded PostgreSQL stopped');
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('reuses the data folder on the next start', async () => {
    running = await startProcess(dataDir);
    expect(running.output()).not.toContain('initialising embedded PostgreSQL');
    expect((await health(running.url)).eventStore.lastPosition).toBe('4');
  });

  it('recovers after being killed with SIGKILL, which leaves postmaster.pid and an orphaned server', async () => {
    running!.child.kill('SIGKILL');
    await running!.exited;
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(true);

    running = await startProcess(dataDir);
    expect(running.output()).toMatch(/stopping orphaned embedded PostgreSQL|removing stale/);
    expect((await health(running.url)).eventStore.lastPosition).toBe('4');

    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
  });

  it('stops cleanly on Ctrl-C, which a terminal sends to the whole process group', async () => {
    running = await startProcess(dataDir, true);
    process.kill(-running.child.pid!, 'SIGINT');
    expect(await running.exited).toBe(0);
    expect(running.output()).toContain('embedded PostgreSQL stopped');
    expect(running.output()).not.toContain('terminating connection');
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('refuses bad configuration with one line per problem and exit code 2', async () => {
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, PORT: 'eighty', DATABASE_URL: 'mysql://x/y' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      'configuration error: DATABASE_URL: must use the postgres:// or postgresql:// scheme, got "mysql://"',
      'configuration error: PORT: must be a whole number from 0 to 65535, got "eighty"',
    ]);
  });
});
