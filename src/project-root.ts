import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The folder holding package.json, whether running from `src/` (tests) or from `dist/src/` (built). */
export function projectRoot(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const MIGRATIONS_DIR = path.join(projectRoot(), 'migrations');
