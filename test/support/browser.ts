import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

/**
 * The browser of the dashboard tests (test/dashboard.e2e.test.ts, test/dashboard-demo.e2e.test.ts): found or unpacked
 * once per run by the global setup (prepareBrowser), which hands it to the test workers in SYNQ_TEST_BROWSER, and
 * started by each suite with launchBrowser.
 *
 * Where it comes from, first match wins:
 *  1. CHROMIUM_PATH, when set: that build and no other.
 *  2. A Chromium of the system: /usr/bin/chromium, else chromium, chromium-browser or google-chrome on PATH.
 *  3. The Chromium (headless shell) inside the @sparticuz/chromium package (a devDependency): its tarball carries the
 *     browser brotli-compressed, with no install script and no download, so `npm ci` alone is enough, offline but for
 *     the npm registry. It unpacks to about 200 MB, into a folder of the temporary directory named after the package's
 *     version, kept for later runs. On a slim system without NSS/NSPR or without fonts, the browser gets the package's
 *     own (its Amazon Linux 2023 libraries, Open Sans) through LD_LIBRARY_PATH and fontconfig.
 */

const ENV = 'SYNQ_TEST_BROWSER';
const PACKAGE = '@sparticuz/chromium';
const SYSTEM_CHROMIUM = '/usr/bin/chromium';
const ON_PATH = ['chromium', 'chromium-browser', 'google-chrome'];
const OVERRIDE = 'Set CHROMIUM_PATH to the executable of a Chromium build to use that one instead.';
const OVERRIDDEN = `CHROMIUM_PATH named it: point it at another Chromium build, or unset it to use a system Chromium or ${PACKAGE}'s.`;

interface ResolvedBrowser {
  /** The executable, absent when none could be found or unpacked (then `error` says why). */
  executablePath?: string;
  /** Where it came from: "CHROMIUM_PATH", "system" or "@sparticuz/chromium <version>". */
  source: string;
  /** Added to the browser process's environment (the package's libraries and fonts, when the system lacks its own). */
  env: Record<string, string>;
  error?: string;
}

const execFileAsync = promisify(execFile);

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function systemChromium(): string | undefined {
  if (isExecutable(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of ON_PATH) {
    for (const dir of dirs) {
      if (isExecutable(path.join(dir, name))) return path.join(dir, name);
    }
  }
  return undefined;
}

/** The package's version (its package.json is not among its exports, so it is read from disk). */
function sparticuzVersion(): string {
  let dir = path.dirname(require.resolve(PACKAGE));
  while (!existsSync(path.join(dir, 'package.json')) || JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== PACKAGE) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`the package.json of ${PACKAGE} was not found`);
    dir = parent;
  }
  return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

/** What a complete unpacked folder holds; the marker is written last, before the folder gets its final name. */
const UNPACKED = ['chromium', 'libGLESv2.so', path.join('al2023', 'lib', 'libnss3.so'), path.join('fonts', 'fonts'), 'fonts.conf', '.complete'];

/**
 * Unpacks the package's browser with the package's own code (Chromium.executablePath), run in a child process whose
 * temporary directory is a fresh staging folder: the package inflates everything into os.tmpdir(). The child also
 * claims to run on Amazon Linux 2023 (AWS_EXECUTION_ENV), the one case in which the package unpacks its NSS/NSPR
 * libraries; its other effects of that claim stay in the child. The staging folder is then renamed into place, so
 * concurrent runs never see half a browser.
 */
async function unpackSparticuz(): Promise<{ dir: string; version: string; unpackedMs?: number }> {
  const version = sparticuzVersion();
  const dir = path.join(tmpdir(), `synq-chromium-${version}`);
  if (UNPACKED.every((entry) => existsSync(path.join(dir, entry)))) return { dir, version };
  rmSync(dir, { recursive: true, force: true });

  const started = performance.now();
  const staging = mkdtempSync(`${dir}.partial-`);
  try {
    const script = `require(${JSON.stringify(require.resolve(PACKAGE))}).executablePath().then((file) => process.stdout.write(file))`;
    const { stdout } = await execFileAsync(process.execPath, ['-e', script], {
      env: { ...process.env, TMPDIR: staging, AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x' },
      maxBuffer: 1024 * 1024,
    });
    if (stdout !== path.join(staging, 'chromium')) throw new Error(`${PACKAGE} unpacked its browser to ${stdout}, not into ${staging}`);
    // The package's fonts.conf names /tmp/fonts, where the package unpacks on AWS Lambda; this one names the folder here.
    const fonts = path.join(dir, 'fonts', 'fonts');
    writeFileSync(
      path.join(staging, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${fonts}</dir>\n  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    writeFileSync(path.join(staging, '.complete'), `${PACKAGE} ${version}\n`);
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another run got there first: use its folder.
      if (!UNPACKED.every((entry) => existsSync(path.join(dir, entry)))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { dir, version, unpackedMs: performance.now() - started };
}

/** Whether the dynamic linker finds every library the executable needs (no ldd: assume it does not). */
async function systemHasLibraries(executable: string): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync('ldd', [executable]);
    return !/not found/.test(stdout);
  } catch {
    return false;
  }
}

/** Whether fonts are installed where the browser's fontconfig looks (the unpacked Chromium has it built in). */
function systemHasFonts(): boolean {
  const roots = [
    '/usr/share/fonts',
    '/usr/local/share/fonts',
    path.join(process.env.HOME ?? '/nonexistent', '.fonts'),
    path.join(process.env.HOME ?? '/nonexistent', '.local', 'share', 'fonts'),
  ];
  const hasFont = (dir: string, depth: number): boolean => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    return entries.some((entry) =>
      entry.isDirectory() ? depth < 4 && hasFont(path.join(dir, entry.name), depth + 1) : /\.(ttf|otf|ttc|pfb|pcf(\.gz)?)$/i.test(entry.name),
    );
  };
  return roots.some((root) => hasFont(root, 0));
}

async function resolveBrowser(): Promise<ResolvedBrowser & { note?: string }> {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit) {
    if (isExecutable(explicit)) return { executablePath: explicit, source: 'CHROMIUM_PATH', env: {} };
    return { source: 'CHROMIUM_PATH', env: {}, error: `CHROMIUM_PATH=${explicit} is not an executable file` };
  }
  const system = systemChromium();
  if (system) return { executablePath: system, source: 'system', env: {} };

  let unpacked;
  try {
    unpacked = await unpackSparticuz();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      source: PACKAGE,
      env: {},
      error: `no system Chromium (${SYSTEM_CHROMIUM}, or ${ON_PATH.join('/')} on PATH) and ${PACKAGE} could not be unpacked into ${tmpdir()}: ${reason}`,
    };
  }
  const executablePath = path.join(unpacked.dir, 'chromium');
  const env: Record<string, string> = {};
  const notes: string[] = [
    unpacked.unpackedMs === undefined ? `already unpacked in ${unpacked.dir}` : `unpacked in ${(unpacked.unpackedMs / 1000).toFixed(1)} s`,
  ];
  if (!(await systemHasLibraries(executablePath))) {
    const lib = path.join(unpacked.dir, 'al2023', 'lib');
    env.LD_LIBRARY_PATH = process.env.LD_LIBRARY_PATH ? `${lib}${path.delimiter}${process.env.LD_LIBRARY_PATH}` : lib;
    notes.push("with the package's NSS/NSPR libraries");
  }
  if (!systemHasFonts()) {
    env.FONTCONFIG_PATH = unpacked.dir;
    env.FONTCONFIG_FILE = path.join(unpacked.dir, 'fonts.conf');
    notes.push("with the package's fonts");
  }
  return { executablePath, source: `${PACKAGE} ${unpacked.version}`, env, note: notes.join(', ') };
}

/**
 * For the global setup: finds or unpacks the browser once per run and hands it to the test workers (they inherit the
 * environment). Never throws: when there is no browser, the dashboard suites fail with the reason, the others run.
 */
export async function prepareBrowser(): Promise<void> {
  const { note, ...resolved } = await resolveBrowser();
  process.env[ENV] = JSON.stringify(resolved);
  const described = resolved.executablePath ? `${resolved.executablePath} (${resolved.source}${note ? `, ${note}` : ''})` : `none: ${resolved.error}`;
  process.stdout.write(`browser of the dashboard tests: ${described}\n`);
}

/** Flags of the tests: no GPU, nothing on first run, and no network of the browser's own (there may be none). */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Containers often have a small /dev/shm; Chromium then uses the temporary directory.
  '--disable-dev-shm-usage',
  // From @sparticuz/chromium's recommended flags; not its --single-process/--no-zygote (Lambda's), nor the ones that
  // loosen web security (the tests must see what a user's browser would), nor its SwiftShader WebGL (no WebGL here).
  '--disable-domain-reliability',
  '--no-pings',
  '--no-default-browser-check',
  '--font-render-hinting=none',
];

/** A headless Chromium for a dashboard suite (close it in afterAll). */
export async function launchBrowser(): Promise<Browser> {
  if (!process.env[ENV]) await prepareBrowser();
  const resolved = JSON.parse(process.env[ENV]!) as ResolvedBrowser;
  const override = resolved.source === 'CHROMIUM_PATH' ? OVERRIDDEN : OVERRIDE;
  if (!resolved.executablePath) throw new Error(`no browser for the dashboard tests: ${resolved.error}. ${override}`);
  try {
    return await chromium.launch({
      executablePath: resolved.executablePath,
      headless: true,
      // Playwright gives each launch a fresh temporary user-data-dir of its own and removes it on close.
      args: ARGS,
      env: { ...process.env, ...resolved.env } as Record<string, string>,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const env = Object.entries(resolved.env).map(([name, value]) => `${name}=${value}`);
    throw new Error(
      `Chromium did not start: ${resolved.executablePath} (from ${resolved.source}${env.length ? `; ${env.join(' ')}` : ''}). ${override}\n${reason}`,
      { cause: error },
    );
  }
}
