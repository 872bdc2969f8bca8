#!/usr/bin/env node
// `synq` (package bin, also `npx synq`): builds the engine on first use (a fresh clone has no dist/), then runs the
// command. After changing the sources, `npm run build` brings dist/ up to date.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'dist', 'scripts', 'synq.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('synq: building (first run)...\n');
  const built = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
require(entry);
