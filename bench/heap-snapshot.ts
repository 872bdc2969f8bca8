import { readFileSync } from 'node:fs';

/**
 * Reading V8 heap snapshots (v8.writeHeapSnapshot) for bench/soak: objects grouped by constructor with their count,
 * shallow size and retained size (from the dominator tree, as Chrome DevTools' Summary view computes it), and, between
 * two snapshots of one process, which objects that existed in the first hold the objects new in the second, with a
 * path from the GC roots to each of them. That names what keeps memory, not only what kind of memory grew.
 */

export interface GroupFigures {
  count: number;
  /** Shallow size, bytes. */
  selfSize: number;
  /** Bytes only reachable through the group's objects (objects held by another of the same group are not counted twice). */
  retainedSize: number;
}

export interface Holder {
  /** The old objects' constructor (or kind) and the shape of the path from the GC roots to them (element indexes as []). */
  group: string;
  path: string;
  /** How many old objects are reached that way. */
  holders: number;
  /** New objects held (dominated) by it, and their shallow bytes. */
  count: number;
  bytes: number;
}

export interface SnapshotSummary {
  nodeCount: number;
  totalSize: number;
  groups: Map<string, GroupFigures>;
}

interface Graph {
  nodeCount: number;
  group: string[];
  groupOf: Int32Array;
  selfSize: Float64Array;
  ids: Float64Array;
  names: string[];
  firstEdge: Int32Array;
  edgeType: Uint8Array;
  edgeName: Array<string | number>;
  edgeTo: Int32Array;
  weakType: number;
  edgeTypes: string[];
}

const KIND_GROUPS: Record<string, string> = {
  string: '(string)',
  'concatenated string': '(string)',
  'sliced string': '(string)',
  array: '(array)',
  code: '(compiled code)',
  number: '(number)',
  hidden: '(system)',
  'object shape': '(system)',
  regexp: '(regexp)',
  symbol: '(symbol)',
  bigint: '(bigint)',
  closure: '(closure)',
};

function readGraph(file: string): Graph {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const { meta } = raw.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
  const [edgeTypeAt, edgeNameAt, toAt] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const nodeCount = raw.nodes.length / nf;
  const edgeCount = raw.edges.length / ef;
  const groupIndex = new Map<string, number>();
  const group: string[] = [];
  const groupOf = new Int32Array(nodeCount);
  const selfSize = new Float64Array(nodeCount);
  const ids = new Float64Array(nodeCount);
  const names: string[] = new Array(nodeCount);
  const firstEdge = new Int32Array(nodeCount + 1);
  let edge = 0;
  for (let n = 0; n < nodeCount; n++) {
    const base = n * nf;
    const kind = nodeTypes[raw.nodes[base + typeAt]];
    const name = raw.strings[raw.nodes[base + nameAt]];
    names[n] = name;
    const label = KIND_GROUPS[kind] ?? (kind === 'native' || kind === 'synthetic' ? name || `(${kind})` : name || '(anonymous object)');
    let g = groupIndex.get(label);
    if (g === undefined) {
      g = group.length;
      group.push(label);
      groupIndex.set(label, g);
    }
    groupOf[n] = g;
    selfSize[n] = raw.nodes[base + sizeAt];
    ids[n] = raw.nodes[base + idAt];
    firstEdge[n] = edge;
    edge += raw.nodes[base + edgeCountAt];
  }
  firstEdge[nodeCount] = edge;
  const edgeType = new Uint8Array(edgeCount);
  const edgeName: Array<string | number> = new Array(edgeCount);
  const edgeTo = new Int32Array(edgeCount);
  const elementType = edgeTypes.indexOf('element');
  const hiddenType = edgeTypes.indexOf('hidden');
  for (let e = 0; e < edgeCount; e++) {
    const base = e * ef;
    const type = raw.edges[base + edgeTypeAt];
    edgeType[e] = type;
    const nameOrIndex = raw.edges[base + edgeNameAt];
    edgeName[e] = type === elementType || type === hiddenType ? nameOrIndex : raw.strings[nameOrIndex];
    edgeTo[e] = raw.edges[base + toAt] / nf;
  }
  return { nodeCount, group, groupOf, selfSize, ids, names, firstEdge, edgeType, edgeName, edgeTo, weakType: edgeTypes.indexOf('weak'), edgeTypes };
}

interface Dominators {
  /** Postorder number of each node (-1: unreachable from the root). */
  order: Int32Array;
  /** Node at each postorder number. */
  nodeAt: Int32Array;
  /** Immediate dominator of each node, as a node index (-1: unreachable; the root dominates itself). */
  idom: Int32Array;
  retained: Float64Array;
  /** Breadth-first parent edge of each node from the root (-1 for the root and unreachable nodes): the shortest retaining path. */
  parentEdge: Int32Array;
  parentNode: Int32Array;
}

/** Dominator tree over the strong edges from node 0 (Cooper, Harvey and Kennedy's iterative algorithm). */
function dominators(g: Graph): Dominators {
  const n = g.nodeCount;
  const order = new Int32Array(n).fill(-1);
  const nodeAt = new Int32Array(n);
  // Iterative depth-first search for the postorder.
  const visited = new Uint8Array(n);
  const stackNode = new Int32Array(n);
  const stackEdge = new Int32Array(n);
  let top = 0;
  let count = 0;
  stackNode[0] = 0;
  stackEdge[0] = g.firstEdge[0];
  visited[0] = 1;
  while (top >= 0) {
    const node = stackNode[top];
    const e = stackEdge[top];
    if (e < g.firstEdge[node + 1]) {
      stackEdge[top] = e + 1;
      const to = g.edgeTo[e];
      if (g.edgeType[e] !== g.weakType && !visited[to]) {
        visited[to] = 1;
        top++;
        stackNode[top] = to;
        stackEdge[top] = g.firstEdge[to];
      }
    } else {
      order[node] = count;
      nodeAt[count++] = node;
      top--;
    }
  }
  // Predecessors in postorder numbers, as compressed rows.
  const predCount = new Int32Array(count + 1);
  for (let node = 0; node < n; node++) {
    if (order[node] < 0) continue;
    for (let e = g.firstEdge[node]; e < g.firstEdge[node + 1]; e++) if (g.edgeType[e] !== g.weakType) predCount[order[g.edgeTo[e]] + 1]++;
  }
  for (let i = 0; i < count; i++) predCount[i + 1] += predCount[i];
  const preds = new Int32Array(predCount[count]);
  const fill = predCount.slice(0, count);
  for (let node = 0; node < n; node++) {
    if (order[node] < 0) continue;
    for (let e = g.firstEdge[node]; e < g.firstEdge[node + 1]; e++) if (g.edgeType[e] !== g.weakType) preds[fill[order[g.edgeTo[e]]]++] = order[node];
  }
  const root = count - 1;
  const dom = new Int32Array(count).fill(-1);
  dom[root] = root;
  for (let changed = true; changed;) {
    changed = false;
    for (let b = root - 1; b >= 0; b--) {
      let candidate = -1;
      for (let p = predCount[b]; p < predCount[b + 1]; p++) {
        let other = preds[p];
        if (dom[other] < 0) continue;
        if (candidate < 0) {
          candidate = other;
          continue;
        }
        let finger = candidate;
        while (finger !== other) {
          while (finger < other) finger = dom[finger];
          while (other < finger) other = dom[other];
        }
        candidate = finger;
      }
      if (candidate >= 0 && dom[b] !== candidate) {
        dom[b] = candidate;
        changed = true;
      }
    }
  }
  const idom = new Int32Array(n).fill(-1);
  const retained = new Float64Array(n);
  for (let i = 0; i < count; i++) {
    idom[nodeAt[i]] = nodeAt[dom[i]];
    retained[nodeAt[i]] = g.selfSize[nodeAt[i]];
  }
  for (let i = 0; i < root; i++) if (dom[i] >= 0) retained[nodeAt[dom[i]]] += retained[nodeAt[i]];
  // Breadth-first from the root: the shortest path to each node, for naming what holds it.
  const parentEdge = new Int32Array(n).fill(-1);
  const parentNode = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  const seen = new Uint8Array(n);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    const node = queue[head++];
    for (let e = g.firstEdge[node]; e < g.firstEdge[node + 1]; e++) {
      const to = g.edgeTo[e];
      if (g.edgeType[e] === g.weakType || seen[to]) continue;
      seen[to] = 1;
      parentEdge[to] = e;
      parentNode[to] = node;
      queue[tail++] = to;
    }
  }
  return { order, nodeAt: nodeAt.slice(0, count), idom, retained, parentEdge, parentNode };
}

/** Count, shallow and retained size per group; a group's retained size leaves out its objects held by another of its own. */
function groupFigures(g: Graph, d: Dominators): Map<string, GroupFigures> {
  const figures = g.group.map(() => ({ count: 0, selfSize: 0, retainedSize: 0 }));
  // Children of each node in the dominator tree, then a walk that knows which groups are on the path from the root.
  const childCount = new Int32Array(g.nodeCount + 1);
  for (let node = 1; node < g.nodeCount; node++) if (d.idom[node] >= 0 && d.idom[node] !== node) childCount[d.idom[node] + 1]++;
  for (let i = 0; i < g.nodeCount; i++) childCount[i + 1] += childCount[i];
  const children = new Int32Array(childCount[g.nodeCount]);
  const fill = childCount.slice(0, g.nodeCount);
  for (let node = 1; node < g.nodeCount; node++) if (d.idom[node] >= 0 && d.idom[node] !== node) children[fill[d.idom[node]]++] = node;
  const onPath = new Int32Array(g.group.length);
  const stackNode = new Int32Array(g.nodeCount);
  const stackNext = new Int32Array(g.nodeCount);
  let top = 0;
  stackNode[0] = 0;
  stackNext[0] = childCount[0];
  enter(0);
  function enter(node: number) {
    const group = g.groupOf[node];
    const f = figures[group];
    f.count++;
    f.selfSize += g.selfSize[node];
    if (onPath[group] === 0) f.retainedSize += d.retained[node];
    onPath[group]++;
  }
  while (top >= 0) {
    const node = stackNode[top];
    const next = stackNext[top];
    if (next < childCount[node + 1]) {
      stackNext[top] = next + 1;
      const child = children[next];
      enter(child);
      top++;
      stackNode[top] = child;
      stackNext[top] = childCount[child];
    } else {
      onPath[g.groupOf[node]]--;
      top--;
    }
  }
  const result = new Map<string, GroupFigures>();
  g.group.forEach((name, i) => {
    if (figures[i].count > 0) result.set(name, figures[i]);
  });
  return result;
}

/** The shortest path from the roots to `node`, as (edge, constructor) steps; element indexes are left out when `shape`. */
function pathSteps(g: Graph, d: Dominators, node: number, shape: boolean): string[] {
  const steps: string[] = [];
  for (let at = node; d.parentEdge[at] >= 0 && steps.length < 60; at = d.parentNode[at]) {
    const e = d.parentEdge[at];
    const name = g.edgeName[e];
    const type = g.edgeTypes[g.edgeType[e]];
    const edge =
      type === 'element' || type === 'hidden'
        ? shape
          ? '[]'
          : `[${name}]`
        : type === 'context'
          ? `::${name}`
          : type === 'internal'
            ? `{${name}}`
            : `.${name}`;
    steps.push(`${edge} ${g.group[g.groupOf[at]]}`);
  }
  return steps.reverse();
}

function shown(steps: readonly string[], last = 14): string {
  return steps.length > last ? `… ${steps.slice(-last).join(' ')}` : steps.join(' ');
}

export interface SnapshotDiff {
  before: SnapshotSummary;
  after: SnapshotSummary;
  /** The objects of the first snapshot that dominate the most bytes of objects new in the second. */
  holders: Holder[];
  newObjects: { count: number; bytes: number };
}

/** Two snapshots of one process (object ids persist between them): groups before and after, and what holds the new objects. */
export function diffSnapshots(beforeFile: string, afterFile: string, topHolders = 10): SnapshotDiff {
  const before = readGraph(beforeFile);
  const beforeIds = new Set<number>();
  for (let n = 0; n < before.nodeCount; n++) beforeIds.add(before.ids[n]);
  const beforeSummary: SnapshotSummary = (() => {
    const d = dominators(before);
    let totalSize = 0;
    for (let n = 0; n < before.nodeCount; n++) if (d.order[n] >= 0) totalSize += before.selfSize[n];
    return { nodeCount: before.nodeCount, totalSize, groups: groupFigures(before, d) };
  })();
  const g = readGraph(afterFile);
  const d = dominators(g);
  let totalSize = 0;
  for (let n = 0; n < g.nodeCount; n++) if (d.order[n] >= 0) totalSize += g.selfSize[n];
  const afterSummary = { nodeCount: g.nodeCount, totalSize, groups: groupFigures(g, d) };
  // Each new object's holder: its nearest dominator that existed before (parents first, so a dominator's holder is known).
  const holder = new Int32Array(g.nodeCount).fill(-1);
  const byHolder = new Map<number, { count: number; bytes: number }>();
  let newCount = 0;
  let newBytes = 0;
  for (let i = d.nodeAt.length - 1; i >= 0; i--) {
    const node = d.nodeAt[i];
    if (d.order[node] < 0 || node === 0) continue;
    const parent = d.idom[node];
    if (beforeIds.has(g.ids[node])) continue;
    holder[node] = beforeIds.has(g.ids[parent]) || parent === 0 ? parent : holder[parent];
    if (holder[node] < 0) continue;
    newCount++;
    newBytes += g.selfSize[node];
    const entry = byHolder.get(holder[node]) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += g.selfSize[node];
    byHolder.set(holder[node], entry);
  }
  // Holders reached the same way (1,000 streams' states of one cache, say) are one line: grouped by the path's shape.
  const byShape = new Map<string, Holder & { holders: number }>();
  for (const [node, { count, bytes }] of byHolder) {
    const shape = node === 0 ? '(the roots)' : shown(pathSteps(g, d, node, true));
    const entry = byShape.get(shape) ?? { group: g.group[g.groupOf[node]], path: shape, count: 0, bytes: 0, holders: 0 };
    entry.count += count;
    entry.bytes += bytes;
    entry.holders++;
    byShape.set(shape, entry);
  }
  const holders = [...byShape.values()].sort((a, b) => b.bytes - a.bytes).slice(0, topHolders);
  return { before: beforeSummary, after: afterSummary, holders, newObjects: { count: newCount, bytes: newBytes } };
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
const signedMb = (bytes: number) => `${bytes >= 0 ? '+' : ''}${mb(bytes)}`;
const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toLocaleString('en-US')}`;

/** The diff as Markdown: the groups that grew most by retained size, and the holders of the new objects. */
export function diffMarkdown(diff: SnapshotDiff, rows = 15): string {
  const names = new Set([...diff.before.groups.keys(), ...diff.after.groups.keys()]);
  const empty = { count: 0, selfSize: 0, retainedSize: 0 };
  const changes = [...names].map((name) => {
    const a = diff.before.groups.get(name) ?? empty;
    const b = diff.after.groups.get(name) ?? empty;
    return { name, a, b, retained: b.retainedSize - a.retainedSize, self: b.selfSize - a.selfSize, count: b.count - a.count };
  });
  const table = (sorted: typeof changes) =>
    sorted
      .slice(0, rows)
      .map(
        (c) =>
          `| ${c.name.replace(/\|/g, '\\|').slice(0, 60)} | ${c.a.count.toLocaleString('en-US')} | ${c.b.count.toLocaleString('en-US')} | ${signed(c.count)} | ${signedMb(c.self)} | ${mb(c.a.retainedSize)} | ${mb(c.b.retainedSize)} | ${signedMb(c.retained)} |`,
      );
  const header = [
    '| constructor | count before | count after | Δ count | Δ shallow MB | retained MB before | retained MB after | Δ retained MB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  return [
    `Snapshots: ${diff.before.nodeCount.toLocaleString('en-US')} objects (${mb(diff.before.totalSize)} MB) before, ` +
      `${diff.after.nodeCount.toLocaleString('en-US')} objects (${mb(diff.after.totalSize)} MB) after; ` +
      `${diff.newObjects.count.toLocaleString('en-US')} objects (${mb(diff.newObjects.bytes)} MB) are new in the second and still reachable.`,
    '',
    'By constructor, the largest growth of retained size first:',
    '',
    ...header,
    ...table([...changes].sort((x, y) => y.retained - x.retained)),
    '',
    'By constructor, the largest growth in count first:',
    '',
    ...header,
    ...table([...changes].sort((x, y) => y.count - x.count)),
    '',
    "What holds the new objects: each one's nearest dominator that existed in the first snapshot, those reached from the GC roots the same way (element indexes aside) on one line:",
    '',
    '| holder | holders | new objects | their MB | path from the roots (its last steps) |',
    '| --- | ---: | ---: | ---: | --- |',
    ...diff.holders.map(
      (h) =>
        `| ${h.group.replace(/\|/g, '\\|').slice(0, 50)} | ${h.holders.toLocaleString('en-US')} | ${h.count.toLocaleString('en-US')} | ${mb(h.bytes)} | ${h.path.replace(/\|/g, '\\|')} |`,
    ),
  ].join('\n');
}
