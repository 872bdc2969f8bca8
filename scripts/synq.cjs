#!/usr/bin/env node
// `synq` (package bin, also `npx synq`): builds the engine when dist/ is missing (a fresh clone) or older than its
// sources (a pull, an edit), then runs the command. Deciding costs a stat of each source file, no build.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const ENTRY = path.join(ROOT, 'dist', 'scripts', 'synq.js');

/**
 * What `npm run build` reads: tsconfig.build.json's folders (src/ holds the dashboard's front end too, which vite
 * builds) and the tsconfig files themselves. migrations/ is read at run time, not built.
 */
function sourcePaths(root) {
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(root, name));
  let folders = ['src', 'domain', 'projections', 'scripts', 'bench'];
  try {
    const include = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')).include;
    if (Array.isArray(include) && include.every((entry) => typeof entry === 'string')) folders = include;
  } catch {
    // unreadable: the folders above
  }
  return [...configs, ...folders.map((folder) => path.join(root, folder))];
}

/**
 * Why dist/ must be built again, or undefined when it is up to date: the built entry is missing, or a source file
 * (or folder: a file deleted or renamed changes its folder) was modified after it was written.
 */
function staleReason(root = ROOT, entry = path.join(root, 'dist', 'scripts', 'synq.js')) {
  let built;
  try {
    built = fs.statSync(entry).mtimeMs;
  } catch {
    return 'first run';
  }
  const newer = (file) => {
    let stat;
    try {
      stat = fs.statSync(file);
    } catch {
      return undefined;
    }
    if (stat.mtimeMs > built) return file;
    if (!stat.isDirectory()) return undefined;
    for (const name of fs.readdirSync(file)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const found = newer(path.join(file, name));
      if (found) return found;
    }
    return undefined;
  };
  for (const source of sourcePaths(root)) {
    const found = newer(source);
    if (found) return `sources changed since the last build (${path.relative(root, found)})`;
  }
  return undefined;
}

function main() {
  const reason = staleReason(ROOT, ENTRY);
  if (reason) {
    process.stderr.write(`synq: ${reason}; building...\n`);
    const built = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 2, 'inherit'] });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }
  require(ENTRY);
}

module.exports = { staleReason, sourcePaths };

if (require.main === module) main();
