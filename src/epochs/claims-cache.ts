import { levelLengths, proofNodePositions } from '../../domain/merkle-distribution';
import { base58Decode } from '../../domain/values';
import { settlementQueries } from '../../projections/settlement';
import type { ProjectionReader } from '../projections/projection-reader';

export interface Claim {
  index: number;
  amount: string;
  root: string;
  proof: string[];
}

/** SYNQ_CLAIMS_CACHE_MB's default: the most the claims of recently asked epochs hold in memory, in all. */
export const DEFAULT_CLAIMS_CACHE_BYTES = 256 * 2 ** 20;

const KEY = 32;
const U64_MAX = 2n ** 64n - 1n;

/**
 * One epoch's claims, compact: the leaves' 32-byte wallet keys back to back in one Buffer, in key byte order (the
 * distribution's leaf order, domain/merkle-distribution.ts, so a key's position is its leaf index: found by binary
 * search), their amounts in a BigUint64Array, and each tree level's hashes back to back. About 104 bytes a leaf (32
 * key, 8 amount, 64 for the levels), against some 200 for a Map of wallet strings to objects.
 */
export class EpochClaims {
  /** What it holds in memory, as counted against the cache's bound. */
  readonly bytes: number;

  private constructor(
    readonly root: string,
    readonly leafCount: number,
    private readonly keys: Buffer,
    private readonly amounts: BigUint64Array,
    /** Sorted position → leaf index, when the leaves are not in key byte order (never for a distribution built here). */
    private readonly indexes: Uint32Array | undefined,
    /** Each level's hashes back to back, 32 bytes each; level 0 are the leaves. */
    private readonly levels: readonly Buffer[],
  ) {
    this.bytes = keys.length + amounts.byteLength + (indexes?.byteLength ?? 0) + levels.reduce((sum, level) => sum + level.length, 0);
  }

  /** From the stored leaves (any order; wallets base58, amounts decimal u64) and levels; throws on anything it cannot hold exactly. */
  static from(root: string, leaves: readonly { wallet: string; leaf_index: number; amount: string }[], levels: readonly Buffer[]): EpochClaims {
    const count = leaves.length;
    const byIndex = Buffer.alloc(count * KEY);
    const amounts = new BigUint64Array(count);
    const seen = new Uint8Array(count);
    for (const leaf of leaves) {
      const index = leaf.leaf_index;
      if (!Number.isInteger(index) || index < 0 || index >= count || seen[index])
        throw new Error(`leaf index ${index} of ${leaf.wallet} is not one of 0..${count - 1} once`);
      seen[index] = 1;
      const key = base58Decode(leaf.wallet);
      if (key?.length !== KEY) throw new Error(`leaf wallet ${leaf.wallet} is not a 32-byte key`);
      byIndex.set(key, index * KEY);
      const amount = BigInt(leaf.amount);
      // The answer gives the amount back as text: it must be the stored text, byte for byte.
      if (amount < 0n || amount > U64_MAX || amount.toString() !== leaf.amount)
        throw new Error(`leaf amount ${leaf.amount} of ${leaf.wallet} is not a u64 in its shortest form`);
      amounts[index] = amount;
    }
    let sorted = true;
    for (let i = 1; i < count && sorted; i++) sorted = byIndex.compare(byIndex, (i - 1) * KEY, i * KEY, i * KEY, (i + 1) * KEY) > 0;
    if (sorted) return new EpochClaims(root, count, byIndex, amounts, undefined, levels);
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => byIndex.compare(byIndex, b * KEY, b * KEY + KEY, a * KEY, a * KEY + KEY));
    const keys = Buffer.alloc(count * KEY);
    for (let i = 0; i < count; i++) byIndex.copy(keys, i * KEY, order[i] * KEY, order[i] * KEY + KEY);
    return new EpochClaims(root, count, keys, amounts, order, levels);
  }

  /** The wallet's claim, or null when it has no leaf. */
  claim(wallet: string): Claim | null {
    const key = base58Decode(wallet);
    if (key?.length !== KEY) return null;
    const keys = this.keys;
    let low = 0;
    let high = this.leafCount - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      // The key at `middle` against the wallet's: below it, equal, or above.
      const order = keys.compare(key, 0, KEY, middle * KEY, middle * KEY + KEY);
      if (order === 0) {
        const index = this.indexes ? this.indexes[middle] : middle;
        const proof = proofNodePositions(this.leafCount, index).map(({ level, index: at }) => this.levels[level].toString('hex', at * KEY, at * KEY + KEY));
        return { index, amount: this.amounts[index].toString(), root: this.root, proof };
      }
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return null;
  }

  /** What an epoch of `leafCount` leaves would hold at most (every level stored), before reading it. */
  static estimate(leafCount: number): number {
    return leafCount * (KEY + 8) + levelLengths(Math.max(1, leafCount)).reduce((sum, length) => sum + length * KEY, 0);
  }
}

/**
 * Claims of recently asked epochs, answered from memory: a recorded distribution never changes (its root is an event),
 * so its leaves and tree levels are read once and every proof after that is a binary search and a few slices. Until an
 * epoch is loaded (in the background, a few seconds for a million leaves) its claims are read from the database.
 * Bounded by bytes (SYNQ_CLAIMS_CACHE_MB, default 256): the least recently asked epoch goes first, and an epoch larger
 * than the bound is never loaded (its claims are always read from the database).
 */
export class ClaimsCache {
  private readonly loaded = new Map<number, EpochClaims>();
  private readonly loading = new Map<number, Promise<void>>();
  /** Epochs too large for the bound: answered from the database, not loaded again and again. */
  private readonly tooLarge = new Set<number>();
  private held = 0;

  constructor(
    private readonly reader: ProjectionReader,
    readonly maxBytes = DEFAULT_CLAIMS_CACHE_BYTES,
  ) {}

  /** Bytes held now, over the epochs loaded (what the bound counts). */
  get bytes(): number {
    return this.held;
  }

  /** The epochs in memory, least recently asked first. */
  get epochs(): number[] {
    return [...this.loaded.keys()];
  }

  /** The claim from memory; undefined when the epoch is not in memory (loading starts, if it fits); null for a wallet it does not pay. */
  claim(epoch: number, wallet: string): Claim | null | undefined {
    const distribution = this.loaded.get(epoch);
    if (!distribution) {
      if (!this.tooLarge.has(epoch)) void this.warm(epoch).catch(() => undefined); // a failed load is retried by the next request; the database answers meanwhile
      return undefined;
    }
    this.loaded.delete(epoch);
    this.loaded.set(epoch, distribution);
    return distribution.claim(wallet);
  }

  /** Loads the epoch's claims into memory (once at a time); resolves when they are there or cannot be (not recorded yet, too large). */
  warm(epoch: number): Promise<void> {
    if (this.loaded.has(epoch) || this.tooLarge.has(epoch)) return Promise.resolve();
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
    if (EpochClaims.estimate(row.leaf_count) > this.maxBytes) {
      this.tooLarge.add(epoch);
      return;
    }
    const leaves = await settlementQueries.leaves(this.reader, epoch);
    const chunks = await settlementQueries.treeChunks(this.reader, epoch);
    const parts: Buffer[][] = [];
    for (const { level, chunk, hashes } of chunks) {
      parts[level] ??= [];
      if (chunk !== parts[level].length) throw new Error(`epoch ${epoch}: tree level ${level} has a gap at chunk ${chunk}`);
      parts[level].push(hashes);
    }
    const levels = parts.map((level) => Buffer.concat(level));
    if (leaves.length !== row.leaf_count || levels[0]?.length !== row.leaf_count * KEY)
      throw new Error(`epoch ${epoch}: the stored distribution is incomplete`);
    const distribution = EpochClaims.from(row.root, leaves, levels);
    if (distribution.bytes > this.maxBytes) {
      this.tooLarge.add(epoch);
      return;
    }
    if (this.loaded.has(epoch)) return;
    this.loaded.set(epoch, distribution);
    this.held += distribution.bytes;
    // The least recently asked epochs go until the rest fits (the one just loaded fits alone).
    for (const [old, claims] of this.loaded) {
      if (this.held <= this.maxBytes) break;
      this.loaded.delete(old);
      this.held -= claims.bytes;
    }
  }
}
