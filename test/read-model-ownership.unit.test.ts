import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Each read model owns its queries: SQL naming one of its tables is written in its folder under projections/ (tables.ts,
 * apply.ts, queries.ts) and nowhere else, another read model's folder included. The tables are taken from each read model's DDL, so a new table, or a new read
 * model folder, is covered without touching this test.
 *
 * test/ is not scanned: tests look at and tamper with the tables directly on purpose (the audit's tests change rows to
 * see it notice).
 */

const ROOT = path.resolve(__dirname, '..');
const PROJECTIONS = path.join(ROOT, 'projections');
/**
 * Operational state that is not a read model but owns its table the same way: the folder that holds every query on it,
 * and the migration that creates it (its tables taken from that DDL).
 */
const OPERATIONAL = [{ folder: 'src/jobs', migration: 'migrations/008_jobs.sql' }];
/** Not the engine's source: dependencies, build output, tests, and the working folders the engine and demo make. */
const SKIPPED = new Set(['node_modules', 'dist', 'test', 'coverage', 'test-artifacts']);

interface ReadModel {
  folder: string;
  tables: string[];
}

const tablesIn = (ddl: string) => [...ddl.matchAll(/CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)"?/gi)].map((match) => match[1]);

/** Every folder under projections/ with an index.ts, and the tables its projection's DDL creates. */
function readModels(): ReadModel[] {
  return readdirSync(PROJECTIONS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && isFile(path.join(PROJECTIONS, entry.name, 'index.ts')))
    .map((entry) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const exported: Record<string, unknown> = require(path.join(PROJECTIONS, entry.name, 'index.ts'));
      const ddl = Object.values(exported)
        .filter(
          (value): value is { tables: string; apply: unknown } =>
            typeof value === 'object' &&
            value !== null &&
            typeof (value as { tables?: unknown }).tables === 'string' &&
            typeof (value as { apply?: unknown }).apply === 'function',
        )
        .map((projection) => projection.tables)
        .join('\n');
      return { folder: entry.name, tables: tablesIn(ddl) };
    });
}

/** The operational stores, their folders relative to the root like projections/' read models. */
function operationalStores(): ReadModel[] {
  return OPERATIONAL.map(({ folder, migration }) => ({
    folder: path.relative(PROJECTIONS, path.join(ROOT, folder)),
    tables: tablesIn(readFileSync(path.join(ROOT, migration), 'utf8')),
  }));
}

/** A statement reading or writing `table`, unqualified or qualified by a schema (`${s}.table`, `schema.table`). */
function tableReference(tables: readonly string[]): RegExp {
  const qualifier = String.raw`(?:\$\{[^}]*\}\.|"?\w+"?\.)?`;
  return new RegExp(String.raw`\b(?:FROM|JOIN|INTO|UPDATE|TABLE|COPY)\s+(?:ONLY\s+)?${qualifier}"?(${tables.join('|')})"?\b`, 'g');
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return entry.name.startsWith('.') || SKIPPED.has(entry.name) ? [] : sourceFiles(full);
    return entry.isFile() && entry.name.endsWith('.ts') ? [full] : [];
  });
}

function offences(source: string, pattern: RegExp): { line: number; table: string; text: string }[] {
  return [...source.matchAll(pattern)].map((match) => ({
    line: source.slice(0, match.index).split('\n').length,
    table: match[1],
    text: match[0].replace(/\s+/g, ' '),
  }));
}

describe('read models own their queries', () => {
  const models = [...readModels(), ...operationalStores()];
  const tables = models.flatMap((model) => model.tables);

  it('finds every read model and its tables in its DDL', () => {
    expect(models.map((model) => model.folder)).toEqual(expect.arrayContaining(['settlement', 'developers']));
    for (const model of models) expect(model.tables.length).toBeGreaterThan(0);
    expect(tables).toEqual(
      expect.arrayContaining([
        'synqers',
        'stakes',
        'policies',
        'epochs',
        'metric_totals',
        'rewards',
        'distribution_leaves',
        'distribution_nodes',
        'developers',
        'jobs',
      ]),
    );
  });

  it('recognises SQL on a read model table, qualified or not', () => {
    const pattern = tableReference(tables);
    const found = (sql: string) => offences(sql, pattern).map((offence) => offence.table);
    expect(found('SELECT * FROM ${s}.epochs WHERE epoch = $1')).toEqual(['epochs']);
    expect(found('SELECT wallet FROM ${(await schemaOf(pool))}.distribution_leaves WHERE epoch = 1')).toEqual(['distribution_leaves']);
    expect(found('FROM ${s}.epochs e\n  LEFT JOIN ${s}.metric_totals m ON m.epoch = e.epoch')).toEqual(['epochs', 'metric_totals']);
    expect(found('UPDATE projection_settlement_g3.rewards SET reward = 0')).toEqual(['rewards']);
    expect(found('INSERT INTO developers (developer_id, wallet) VALUES ($1, $2)')).toEqual(['developers']);
    expect(found('SELECT position FROM projection_state')).toEqual([]);
    expect(found('SELECT count(*) FROM events WHERE global_position > $1')).toEqual([]);
    expect(found('SELECT synqers::text, eligible FROM x')).toEqual([]);
  });

  it('has no SQL on a read model table outside its folder', () => {
    const everywhere = tableReference(tables);
    // In a read model's folder, its own tables are expected; another read model's are not.
    const inFolder = new Map(
      models.map((model) => [path.join(PROJECTIONS, model.folder) + path.sep, tableReference(tables.filter((table) => !model.tables.includes(table)))]),
    );
    const found = sourceFiles(ROOT).flatMap((file) => {
      const owner = [...inFolder.keys()].find((folder) => file.startsWith(folder));
      const pattern = owner === undefined ? everywhere : inFolder.get(owner)!;
      return offences(readFileSync(file, 'utf8'), pattern).map((offence) => `${path.relative(ROOT, file)}:${offence.line}: ${offence.text} (${offence.table})`);
    });
    expect(found).toEqual([]);
  });
});
