import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The role matrix of docs/api.md ("Route by route"), the single source of who may call what. */

export const ROLES = ['operator', 'ingest', 'developer', 'auditor'] as const;
export type Caller = 'no key' | (typeof ROLES)[number];
export const CALLERS: Caller[] = ['no key', ...ROLES];
/** `own`: a developer key for its own developer only. */
export type Cell = 'allowed' | 'own' | 'refused';

export function readRoleMatrix(markdown = readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8')): Map<string, Record<Caller, Cell>> {
  const lines = markdown.split('\n');
  const header = lines.findIndex((line) => /^\| route \| no key \| operator \| ingest \| developer \| auditor \|$/.test(line.trim()));
  if (header < 0) throw new Error('docs/api.md has no role matrix (| route | no key | operator | ingest | developer | auditor |)');
  const matrix = new Map<string, Record<Caller, Cell>>();
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    const route = /^`((?:GET|POST|PUT|PATCH|DELETE) \/\S*)`$/.exec(cells[0])?.[1];
    if (!route || cells.length !== 1 + CALLERS.length) throw new Error(`docs/api.md: a role matrix row is malformed: ${line}`);
    if (matrix.has(route)) throw new Error(`docs/api.md: ${route} has two rows`);
    const row = {} as Record<Caller, Cell>;
    CALLERS.forEach((caller, i) => {
      const cell = cells[i + 1];
      if (cell !== '✓' && cell !== '' && !(cell === 'own' && caller === 'developer')) throw new Error(`docs/api.md: ${route}: "${cell}" for ${caller}`);
      row[caller] = cell === '✓' ? 'allowed' : cell === 'own' ? 'own' : 'refused';
    });
    matrix.set(route, row);
  }
  return matrix;
}
