/**
 * Merkle distributions claimable by Jito's merkle-distributor program (jito-foundation/distributor).
 *
 * The format, exactly as the program's `new_claim` and `jito_merkle_verify::verify` check it:
 * - one leaf per payout wallet: the amounts of every payout to that wallet are summed, wallets whose sum is 0 are
 *   left out, and the leaves are ordered by the wallet's 32 public key bytes ascending (bytes, not base58 text);
 * - leaf data = sha256(wallet 32 bytes || amount_unlocked u64 LE || amount_locked u64 LE), here amount_locked = 0;
 *   leaf = sha256(0x00 || leaf data);
 * - node = sha256(0x01 || min(a, b) || max(a, b)), comparing the 32 bytes; a level with an odd count pairs its last
 *   node with itself (node = sha256(0x01 || x || x)), and a proof through that node carries the node itself;
 * - one leaf: the root is that leaf and its proof is empty.
 * The program's distributor account takes `max_total_claim` (the total of the leaves) and `max_num_nodes` (the leaf
 * count), both u64.
 *
 * The levels are built here, each into one Buffer of 32 bytes a node (`distributionTree`): at a million leaves, a
 * Buffer per node and merkletreejs's copies cost more than the hashing. They are what merkletreejs builds with
 * `sortPairs`, `duplicateOdd` and a concatenator that prefixes 0x01 (`merkleTreeOf`, kept for checks and for rebuilding
 * a root from stored leaf hashes), and what Jito's crate builds (test/merkle-distribution.unit.test.ts). Proofs are
 * computed here from the stored levels: merkletreejs's `getProof` leaves out the element of a node that is paired with
 * itself, which Jito's `verify` needs.
 *
 * Pure: no I/O, no clock, no randomness; sha256 from node:crypto.
 */
import { hash } from 'node:crypto';
import { MerkleTree } from 'merkletreejs';
import { base58Decode } from './values';

export const U64_MAX = (1n << 64n) - 1n;
const LEAF_PREFIX = 0x00;
const INTERMEDIATE_PREFIX = 0x01;

export interface Payout {
  /** The payout wallet, a Solana public key in base58. */
  wallet: string;
  /** Base units of $SYNQ. */
  amount: bigint;
}

export interface DistributionLeaf {
  /** Position in the tree (0-based), the order of the wallets' key bytes. */
  index: number;
  wallet: string;
  /** The summed amount, claimed as `amount_unlocked` (with `amount_locked` = 0). */
  amount: bigint;
  leafHash: Buffer;
}

export interface Distribution {
  root: Buffer;
  rootHex: string;
  /** The sum of every leaf's amount: the distributor account's `max_total_claim`. */
  total: bigint;
  /** The number of leaves: the distributor account's `max_num_nodes`. */
  leafCount: number;
  /** `max_total_claim` and `max_num_nodes` as the distributor account takes them (u64). */
  maxTotalClaim: bigint;
  maxNumNodes: bigint;
  /** In tree order. */
  leaves: DistributionLeaf[];
  /** `levels[0]` are the leaf hashes, each next level the parents, the last level is `[root]`. */
  levels: Buffer[][];
}

/** A distribution as it is stored: its leaves as columns and each level as one Buffer (`distributionTree`). */
export interface DistributionTree {
  root: Buffer;
  rootHex: string;
  total: bigint;
  leafCount: number;
  /** Leaf i's wallet (base58) and summed amount, in tree order. */
  wallets: string[];
  amounts: bigint[];
  /** `levels[0]` the leaf hashes, each next level the parents, the last one the root: 32 bytes a node, node i at 32 * i. */
  levels: Buffer[];
}

export interface NodePosition {
  /** 0 = the leaves. */
  level: number;
  index: number;
}

/**
 * sha256 as a 32-byte Buffer. The digest comes out as 'binary' (latin1) text, one char a byte, and is copied into a
 * Buffer from Node's small-buffer pool: twice as fast at a million hashes as the 'buffer' output, which gives every
 * digest its own backing store for the garbage collector.
 */
const sha256 = (data: Uint8Array): Buffer => Buffer.from(hash('sha256', data, 'binary'), 'latin1');

// One-block scratch buffers: each is written and hashed at once, never held.
const leafDataScratch = Buffer.alloc(48);
const leafScratch = Buffer.alloc(33);
const nodeScratch = Buffer.alloc(65);

/** The leaf of the wallet whose 32 bytes are at `keys[offset ..]`; the amounts are u64 (checked by the callers). */
function hashLeafAt(keys: Uint8Array, offset: number, amountUnlocked: bigint, amountLocked: bigint): Buffer {
  const leaf = Buffer.allocUnsafe(32);
  hashLeafInto(leaf, 0, keys, offset, amountUnlocked, amountLocked);
  return leaf;
}

/** The same leaf, written to `out[at .. at + 32]`. */
function hashLeafInto(out: Buffer, at: number, keys: Uint8Array, offset: number, amountUnlocked: bigint, amountLocked: bigint): void {
  for (let k = 0; k < 32; k++) leafDataScratch[k] = keys[offset + k];
  leafDataScratch.writeBigUInt64LE(amountUnlocked, 32); // throws a RangeError outside 0..2^64-1
  leafDataScratch.writeBigUInt64LE(amountLocked, 40);
  leafScratch[0] = LEAF_PREFIX;
  leafScratch.write(hash('sha256', leafDataScratch, 'binary'), 1, 'latin1');
  out.write(hash('sha256', leafScratch, 'binary'), at, 'latin1');
}

/** sha256(0x00 || sha256(wallet || amountUnlocked u64 LE || amountLocked u64 LE)), the program's leaf. */
export function leafHash(wallet32: Uint8Array, amountUnlocked: bigint, amountLocked = 0n): Buffer {
  if (wallet32.length !== 32) throw new Error(`a wallet is 32 public key bytes, got ${wallet32.length}`);
  for (const amount of [amountUnlocked, amountLocked]) {
    if (typeof amount !== 'bigint' || amount < 0n || amount > U64_MAX) throw new Error(`amount ${String(amount)} is not a u64`);
  }
  return hashLeafAt(wallet32, 0, amountUnlocked, amountLocked);
}

/** The merkletreejs concatenator of our format: 0x01 || the pair (already sorted by merkletreejs's `sortPairs`). */
function intermediateConcat(pair: Buffer[]): Buffer {
  nodeScratch[0] = INTERMEDIATE_PREFIX;
  nodeScratch.set(pair[0], 1);
  nodeScratch.set(pair[1], 33);
  return nodeScratch;
}

/**
 * The merkletreejs tree of our format over leaf hashes (in tree order): sha256 nodes of 0x01 || the sorted pair, the
 * last node of an odd level paired with itself. Its layers are the distribution's levels; do not use its `getProof`
 * (it leaves out the self-paired element, see `proofFromLevels`).
 */
export function merkleTreeOf(leafHashes: Buffer[]): MerkleTree {
  return new MerkleTree(leafHashes, sha256, { hashLeaves: false, sortPairs: true, duplicateOdd: true, concatenator: intermediateConcat });
}

/**
 * The distribution of `payouts`, as `Distribution` (a Buffer per leaf hash and node; `distributionTree` holds the same
 * in one Buffer per level). `keys`, when given, are the payouts' wallets decoded (`walletKeys`), so they are not
 * decoded again.
 */
export function buildDistribution(payouts: readonly Payout[], keys?: Uint8Array): Distribution {
  const tree = distributionTree(payouts, keys);
  const levels = tree.levels.map((level) => {
    const nodes: Buffer[] = new Array(level.length / 32);
    for (let i = 0; i < nodes.length; i++) nodes[i] = level.subarray(32 * i, 32 * i + 32);
    return nodes;
  });
  const leaves = tree.wallets.map((wallet, index): DistributionLeaf => ({ index, wallet, amount: tree.amounts[index], leafHash: levels[0][index] }));
  const { root, rootHex, total, leafCount } = tree;
  return { root, rootHex, total, leafCount, maxTotalClaim: total, maxNumNodes: BigInt(leafCount), leaves, levels };
}

/**
 * The distribution of `payouts`: one leaf per wallet with the sum of its payouts (zero sums left out), in the order
 * of the wallets' key bytes, and the tree's levels. `keys`, when given, are the payouts' wallets decoded, 32 bytes
 * each in payout order (`walletKeys`); payouts already in key order (as `carryForward` gives them) are not sorted.
 */
export function distributionTree(payouts: readonly Payout[], keys?: Uint8Array): DistributionTree {
  const count = payouts.length;
  if (keys !== undefined && keys.length !== 32 * count) throw new Error(`expected ${count} wallet keys of 32 bytes, got ${keys.length} bytes`);
  // Every payout's wallet is checked (zero amounts included); its 32 key bytes are at `keys[32 * i ..]`.
  const walletBytes = keys ?? walletKeys(payouts, (payout) => payout.wallet);
  for (let i = 0; i < count; i++) {
    const { wallet, amount } = payouts[i];
    if (typeof amount !== 'bigint') throw new Error(`payout to ${wallet}: amount must be a bigint of base units`);
    if (amount < 0n) throw new Error(`payout to ${wallet}: amount ${amount} is negative`);
  }

  // In key byte order, the payouts to one wallet are side by side: one leaf for each run, with their sum.
  const order = orderByKeyBytes(walletBytes, count);
  const leafHashes = Buffer.allocUnsafe(32 * count);
  const wallets: string[] = [];
  const amounts: bigint[] = [];
  let total = 0n;
  for (let run = 0; run < count;) {
    const first = order === undefined ? run : order[run];
    const { wallet } = payouts[first];
    let amount = payouts[first].amount;
    for (run++; run < count && sameKey(walletBytes, first, order === undefined ? run : order[run]); run++)
      amount += payouts[order === undefined ? run : order[run]].amount;
    if (amount > U64_MAX) throw new Error(`wallet ${wallet}: amount ${amount} exceeds u64 max (${U64_MAX})`);
    if (amount === 0n) continue;
    hashLeafInto(leafHashes, 32 * wallets.length, walletBytes, 32 * first, amount, 0n);
    wallets.push(wallet);
    amounts.push(amount);
    total += amount;
  }
  const n = wallets.length;
  if (n === 0) throw new Error('empty distribution: no wallet with an amount above 0');
  if (total > U64_MAX) throw new Error(`total ${total} exceeds u64 max (${U64_MAX}), the distributor's max_total_claim`);

  const levels = treeLevels(leafHashes.subarray(0, 32 * n));
  const root = levels[levels.length - 1];
  return { root, rootHex: root.toString('hex'), total, leafCount: n, wallets, amounts, levels };
}

/**
 * The levels above `leafHashes` (32 bytes each, in tree order), each into one Buffer: node = sha256(0x01 || min || max)
 * of each pair, the last node of an odd level paired with itself. The first level is `leafHashes` itself.
 */
export function treeLevels(leafHashes: Buffer): Buffer[] {
  const levels = [leafHashes];
  nodeScratch[0] = INTERMEDIATE_PREFIX;
  for (let level = leafHashes; level.length > 32;) {
    const width = level.length / 32;
    const next = Buffer.allocUnsafe(32 * Math.ceil(width / 2));
    for (let i = 0; i < width; i += 2) {
      const a = 32 * i;
      const b = i + 1 < width ? a + 32 : a;
      const aFirst = compareAt(level, a, b) <= 0;
      level.copy(nodeScratch, 1, aFirst ? a : b, (aFirst ? a : b) + 32);
      level.copy(nodeScratch, 33, aFirst ? b : a, (aFirst ? b : a) + 32);
      next.write(hash('sha256', nodeScratch, 'binary'), 16 * i, 'latin1');
    }
    levels.push(next);
    level = next;
  }
  return levels;
}

/** The 32 bytes at `a` against those at `b`, in one Buffer: mostly settled by the first byte, without a native call. */
function compareAt(bytes: Uint8Array, a: number, b: number): number {
  for (let k = 0; k < 32; k++) {
    const d = bytes[a + k] - bytes[b + k];
    if (d !== 0) return d;
  }
  return 0;
}

const sameKey = (keys: Uint8Array, a: number, b: number) => compareAt(keys, 32 * a, 32 * b) === 0;

/**
 * The 32 key bytes of each item's wallet (base58), one after another in item order. Throws naming the first wallet
 * that is not a base58 public key of 32 bytes.
 */
export function walletKeys<T>(items: readonly T[], walletOf: (item: T) => string): Buffer {
  const keys = Buffer.allocUnsafe(32 * items.length);
  for (let i = 0; i < items.length; i++) {
    const wallet = walletOf(items[i]);
    const key = typeof wallet === 'string' ? base58Decode(wallet) : undefined;
    if (key?.length !== 32) throw new Error(`wallet ${JSON.stringify(wallet)} is not a base58 public key of 32 bytes`);
    keys.set(key, 32 * i);
  }
  return keys;
}

/** The level lengths of a tree of `leafCount` leaves: n, ceil(n / 2), ..., 1. */
export function levelLengths(leafCount: number): number[] {
  if (!Number.isSafeInteger(leafCount) || leafCount < 1) throw new Error(`leaf count ${leafCount} must be a whole number from 1`);
  const lengths = [leafCount];
  for (let length = leafCount; length > 1;) {
    length = Math.ceil(length / 2); // not `>> 1`: counts may pass 2^31
    lengths.push(length);
  }
  return lengths;
}

/**
 * Which stored node each proof element of leaf `index` is, bottom up: the sibling on each level below the root, or
 * the node itself when it is the last of an odd level (paired with itself). ceil(log2(leafCount)) elements, as in
 * Jito's merkle-tree crate (`find_path`, `get_proof`).
 */
export function proofNodePositions(leafCount: number, index: number): NodePosition[] {
  const lengths = levelLengths(leafCount);
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafCount) {
    throw new Error(`leaf index ${index} is outside 0..${leafCount - 1}`);
  }
  const positions: NodePosition[] = [];
  for (let level = 0; level < lengths.length - 1; level++) {
    const sibling = index % 2 === 1 ? index - 1 : index + 1 < lengths[level] ? index + 1 : index;
    positions.push({ level, index: sibling });
    index = Math.floor(index / 2);
  }
  return positions;
}

/** The proof of leaf `index`, read from the stored levels: the nodes at `proofNodePositions`, no rebuild. */
export function proofFromLevels(levels: readonly (readonly Buffer[])[], index: number): Buffer[] {
  if (levels.length === 0) throw new Error('no levels');
  const positions = proofNodePositions(levels[0].length, index);
  if (levels.length !== positions.length + 1) throw new Error(`expected ${positions.length + 1} levels for ${levels[0].length} leaves, got ${levels.length}`);
  return positions.map(({ level, index: at }) => {
    const node = levels[level][at];
    if (node === undefined) throw new Error(`level ${level} has no node ${at}`);
    return node;
  });
}

/**
 * 0..n-1 ordered by the 32 key bytes at `keys[32 * i ..]`, ascending; undefined when they are in that order already.
 * The first 6 bytes of each key, read as a number, decide nearly every comparison, the rest of the bytes the others.
 * Equal keys keep their order.
 */
export function orderByKeyBytes(keys: Uint8Array, n: number): Uint32Array | undefined {
  const prefix = new Float64Array(n);
  let ordered = true;
  for (let i = 0; i < n; i++) {
    const at = 32 * i;
    prefix[i] = keys[at] * 2 ** 40 + keys[at + 1] * 2 ** 32 + ((keys[at + 2] << 24) >>> 0) + (keys[at + 3] << 16) + (keys[at + 4] << 8) + keys[at + 5];
    if (ordered && i > 0 && (prefix[i] < prefix[i - 1] || (prefix[i] === prefix[i - 1] && compareAt(keys, at - 32, at) > 0))) ordered = false;
  }
  if (ordered) return undefined;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => prefix[a] - prefix[b] || compareAt(keys, 32 * a, 32 * b) || a - b);
}
