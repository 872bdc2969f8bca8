import { proofNodePositions } from '../../domain/merkle-distribution';
import { settlementQueries } from '../../projections/settlement';
import type { ProjectionReader } from '../projections/projection-reader';

export interface Claim {
  index: number;
  amount: string;
  root: string;
  proof: string[];
}

interface LoadedDistribution {
  root: string;
  leafCount: number;
  leaves: Map<string, { index: number; amount: string }>;
  /** Each level's hashes back to back, 32 bytes each; level 0 are the leaves. */
  levels: Buffer[];
}

/**
 * Claims of recently asked epochs, answered from memory: a recorded distribution never changes (its root is an event),
 * so its leaves and tree levels are read once and every proof after that is a few slices. Until an epoch is loaded
 * (in the background, a few seconds for a million leaves) its claims are read from the database. Two epochs are kept,
 * about 200 MB for a million leaves each.
 */
export class ClaimsCache {
  private readonly loaded = new Map<number, LoadedDistribution>();
  private readonly loading = new Map<number, Promise<void>>();

  constructor(
    private readonly reader: ProjectionReader,
    private readonly epochsKept = 2,
  ) {}

  /** The claim from memory; undefined when the epoch is not loaded yet (loading starts); null for a wallet it does not pay. */
  claim(epoch: number, wallet: string): Claim | null | undefined {
    const distribution = this.loaded.get(epoch);
    if (!distribution) {
      void this.warm(epoch).catch(() => undefined); // a failed load is retried by the next request; the database answers meanwhile
      return undefined;
    }
    this.loaded.delete(epoch);
    this.loaded.set(epoch, distribution);
    const leaf = distribution.leaves.get(wallet);
    if (!leaf) return null;
    const proof = proofNodePositions(distribution.leafCount, leaf.index).map(({ level, index }) =>
      distribution.levels[level].subarray(index * 32, index * 32 + 32).toString('hex'),
    );
    return { index: leaf.index, amount: leaf.amount, root: distribution.root, proof };
  }

  /** Loads the epoch's claims into memory (once at a time); resolves when they are there or cannot be (not recorded yet). */
  warm(epoch: number): Promise<void> {
    if (this.loaded.has(epoch)) return Promise.resolve();
    let load = this.loading.get(epoch);
    if (!load) {
      load = this.load(epoch).finally(() => this.loading.delete(epoch));
      this.loading.set(epoch, load);
    }
    return load;
  }

  /** Loads an epoch whose distribution is recorded (a root the projection only computed may still be checked and fail). */
  private async load(epoch: number): Promise<void> {
    const row = await settlementQueries.distributionState(this.reader, epoch);
    if (!row?.distribution_recorded || row.leaf_count === 0) return;
    const leaves = new Map<string, { index: number; amount: string }>();
    for (const leaf of await settlementQueries.leaves(this.reader, epoch)) {
      leaves.set(leaf.wallet, { index: leaf.leaf_index, amount: leaf.amount });
    }
    const chunks = await settlementQueries.treeChunks(this.reader, epoch);
    const parts: Buffer[][] = [];
    for (const { level, chunk, hashes } of chunks) {
      parts[level] ??= [];
      if (chunk !== parts[level].length) throw new Error(`epoch ${epoch}: tree level ${level} has a gap at chunk ${chunk}`);
      parts[level].push(hashes);
    }
    const levels = parts.map((level) => Buffer.concat(level));
    if (leaves.size !== row.leaf_count || levels[0]?.length !== row.leaf_count * 32) throw new Error(`epoch ${epoch}: the stored distribution is incomplete`);
    this.loaded.set(epoch, { root: row.root, leafCount: row.leaf_count, leaves, levels });
    while (this.loaded.size > this.epochsKept) this.loaded.delete(this.loaded.keys().next().value!);
  }
}
