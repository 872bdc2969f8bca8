import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * The engine's layers, from the relative imports of its sources (packages are eslint's):
 * - domain/ imports nothing outside domain/;
 * - src/http (the HTTP error filter) is imported only by the app's wiring;
 * - the server never imports the dashboard's browser app (src/dashboard/web), which vite builds on its own;
 * - no import cycle between the parts of the engine (each folder of src/, each file at src/'s top, domain/,
 *   projections/), nor between the files of the dashboard's app.
 * Type-only imports count: they are dependencies too.
 */
const ROOT = path.resolve(__dirname, '..');
const WEB = 'src/dashboard/web';
/** The files that assemble the app: they may import anything, src/http included. */
const WIRING = ['src/app.module.ts', 'src/engine.ts', 'src/main.ts'];

interface Import {
  from: string;
  to: string;
}

function sources(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .filter((file) => !file.split('/').includes('node_modules'))
    .sort();
}

/** Every relative import of the files, resolved to a repository path (without extension: folders' and files' alike). */
function importsOf(files: string[]): Import[] {
  return files.flatMap((from) =>
    ts
      .preProcessFile(readFileSync(path.join(ROOT, from), 'utf8'), true, true)
      .importedFiles.map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => ({ from, to: path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)) })),
  );
}

const within = (file: string, folder: string) => file === folder || file.startsWith(`${folder}/`);

/** The part of the engine a file belongs to: src/<folder>, a file at src/'s top (src/engine), domain or projections. */
function partOf(file: string): string {
  const parts = file.replace(/\.(ts|mts|tsx)$/, '').split('/');
  if (parts[0] !== 'src') return parts[0];
  if (within(file, WEB)) return WEB;
  return parts.slice(0, 2).join('/');
}

/** The cycles of a graph: its strongly connected components of more than one node (Tarjan), each sorted. */
function cyclesOf(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

/** A cycle, with the imports that close it, for the failure message. */
function explain(cycle: string[], imports: Import[], part: (file: string) => string): string {
  const inside = imports.filter((i) => part(i.from) !== part(i.to) && cycle.includes(part(i.from)) && cycle.includes(part(i.to)));
  return `${cycle.join(' <-> ')}\n${inside.map((i) => `    ${i.from} imports ${i.to}`).join('\n')}`;
}

function graphOf(imports: Import[], part: (file: string) => string): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    const [a, b] = [part(from), part(to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  return edges;
}

const server = [...sources('src').filter((file) => !within(file, WEB)), ...sources('domain'), ...sources('projections')];
const serverImports = importsOf(server);
const webImports = importsOf(sources(`${WEB}/src`));

describe('layers', () => {
  it('reads the sources', () => {
    // A guard that finds nothing to check checks nothing.
    expect(server.length).toBeGreaterThan(50);
    expect(serverImports.length).toBeGreaterThan(200);
    expect(webImports.length).toBeGreaterThan(20);
  });

  it('domain/ imports nothing outside domain/', () => {
    expect(serverImports.filter((i) => within(i.from, 'domain') && !within(i.to, 'domain'))).toEqual([]);
  });

  it('only the wiring imports src/http', () => {
    expect(serverImports.filter((i) => within(i.to, 'src/http') && !within(i.from, 'src/http') && !WIRING.includes(i.from))).toEqual([]);
  });

  it('the server does not import the dashboard app', () => {
    expect(serverImports.filter((i) => within(i.to, WEB))).toEqual([]);
  });

  it('no import cycle between the parts of the engine', () => {
    expect(cyclesOf(graphOf(serverImports, partOf)).map((cycle) => explain(cycle, serverImports, partOf))).toEqual([]);
  });

  it('no import cycle between the files of the dashboard app', () => {
    const file = (name: string) => name.replace(/\.(ts|mts|tsx)$/, '');
    expect(cyclesOf(graphOf(webImports, file)).map((cycle) => explain(cycle, webImports, file))).toEqual([]);
  });
});
