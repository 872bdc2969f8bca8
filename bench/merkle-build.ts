/**
 * bench/merkle-build: seconds to build a Merkle distribution of N leaves (default 1,000,000), four ways:
 * - merkletreejs with its defaults and a sha256 hashFn, over the leaf hashes (the tree only);
 * - merkletreejs with our configuration (`merkleTreeOf`: sortPairs, duplicateOdd, 0x01 concatenator), over the same
 *   leaf hashes (the tree only);
 * - the real `buildDistribution`, from N base58 payouts: decoding, sums, ordering by key bytes, leaf hashes, the tree;
 * - the floor: a plain level-by-level loop over Buffers with node:crypto, over the same leaf hashes (checked to give
 *   the same root as `buildDistribution`).
 * Wallets are deterministic: sha256("synq-bench-wallet:" + i). `npx tsc -p tsconfig.json && node dist/bench/merkle-build.js [N]`
 */
import { hash } from 'node:crypto';
import { cpus } from 'node:os';
import { MerkleTree } from 'merkletreejs';
import { buildDistribution, merkleTreeOf, type Payout } from '../domain/merkle-distribution';
import { base58Encode } from '../domain/values';

export interface MerkleBuildTimes {
  leafCount: number;
  /** merkletreejs defaults + sha256 hashFn, tree over the leaf hashes. */
  merkletreejsDefaults: number;
  /** `buildDistribution` end to end (merkletreejs with our configuration for the tree). */
  merkletreejsOurs: number;
  /** merkletreejs with our configuration, tree over the leaf hashes only. */
  merkletreejsOursTreeOnly: number;
  /** Our own level-by-level loop, tree over the leaf hashes. */
  floorLoop: number;
}

/** The plain sha256 hashFn a merkletreejs user would write. */
const sha256 = (data: Uint8Array): Buffer => hash('sha256', data, 'buffer');
/** The fastest sha256-to-Buffer found: the digest as 'binary' text copied into a pooled Buffer (as domain/ does). */
const sha256Pooled = (data: Uint8Array): Buffer => Buffer.from(hash('sha256', data, 'binary'), 'latin1');
const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/**
 * base58 of 32 bytes without bigint (domain/values.ts's base58Encode takes ~5 µs a key): 16-bit limbs divided by 58.
 * Returns a flat string, like text read from JSON or PostgreSQL (a string grown by `+` is a rope that V8 flattens
 * the first time it is hashed or read, which would be timed as part of the build).
 */
function fastBase58(bytes: Uint8Array): string {
  const limbs: number[] = [];
  for (let i = 0; i < 32; i += 2) limbs.push(bytes[i] * 256 + bytes[i + 1]);
  const digits: number[] = [];
  for (let start = 0; start < limbs.length;) {
    let remainder = 0;
    for (let j = start; j < limbs.length; j++) {
      const value = remainder * 65536 + limbs[j];
      limbs[j] = Math.floor(value / 58);
      remainder = value % 58;
    }
    digits.push(ALPHABET.charCodeAt(remainder));
    while (start < limbs.length && limbs[start] === 0) start++;
  }
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) digits.push(ALPHABET.charCodeAt(0));
  return Buffer.from(digits.reverse()).toString('latin1');
}

export function benchPayouts(leafCount: number): Payout[] {
  const payouts: Payout[] = new Array(leafCount);
  for (let i = 0; i < leafCount; i++) {
    const key = sha256(Buffer.from(`synq-bench-wallet:${i}`));
    const wallet = fastBase58(key);
    if (i < 1000 && wallet !== base58Encode(key)) throw new Error(`fastBase58 disagrees with base58Encode at ${i}`);
    payouts[i] = { wallet, amount: 1_000_000n + BigInt((i * 7919) % 1_000_000_007) };
  }
  return payouts;
}

/** The floor: levels over Buffers, sha256(0x01 || min || max), the last of an odd level paired with itself. */
export function floorRoot(leafHashes: Buffer[]): Buffer {
  const scratch = Buffer.alloc(65);
  scratch[0] = 0x01;
  let level = leafHashes;
  while (level.length > 1) {
    const next: Buffer[] = new Array((level.length + 1) >> 1);
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i];
      const b = i + 1 < level.length ? level[i + 1] : a;
      const aFirst = a.compare(b) <= 0;
      scratch.set(aFirst ? a : b, 1);
      scratch.set(aFirst ? b : a, 33);
      next[i >> 1] = sha256Pooled(scratch);
    }
    level = next;
  }
  return level[0];
}

/** Seconds `build` takes, and its root; the tree it builds is garbage once this returns, so runs do not weigh on each other. */
function timed(build: () => Buffer): { seconds: number; root: Buffer } {
  (globalThis as { gc?: () => void }).gc?.(); // with node --expose-gc
  const started = process.hrtime.bigint();
  const root = build();
  return { seconds: seconds(started), root };
}

export async function measureMerkleBuilds(leafCount: number): Promise<MerkleBuildTimes> {
  if (!Number.isSafeInteger(leafCount) || leafCount < 1) throw new Error(`leaf count ${leafCount} must be a whole number from 1`);
  const payouts = benchPayouts(leafCount);

  let leafHashes: Buffer[] = [];
  const ours = timed(() => {
    const distribution = buildDistribution(payouts);
    if (distribution.leafCount !== leafCount) throw new Error(`expected ${leafCount} leaves, got ${distribution.leafCount}`);
    leafHashes = distribution.levels[0];
    return distribution.root;
  });
  payouts.length = 0;

  const defaults = timed(() => new MerkleTree(leafHashes, sha256).getRoot());
  if (defaults.root.length !== 32) throw new Error('merkletreejs defaults gave no root');
  const oursTreeOnly = timed(() => merkleTreeOf(leafHashes).getRoot());
  if (!oursTreeOnly.root.equals(ours.root)) throw new Error('merkleTreeOf disagrees with buildDistribution');
  const floor = timed(() => floorRoot(leafHashes));
  if (!floor.root.equals(ours.root)) throw new Error('the floor loop disagrees with buildDistribution');

  return {
    leafCount,
    merkletreejsDefaults: defaults.seconds,
    merkletreejsOurs: ours.seconds,
    merkletreejsOursTreeOnly: oursTreeOnly.seconds,
    floorLoop: floor.seconds,
  };
}

export function markdownTable(times: MerkleBuildTimes): string {
  const s = (x: number) => x.toFixed(2);
  return [
    `${times.leafCount.toLocaleString('en-US')} leaves; Node ${process.version}; ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores.`,
    '',
    '| build | what is timed | seconds |',
    '| --- | --- | ---: |',
    `| merkletreejs defaults + sha256 hashFn | tree over the leaf hashes | ${s(times.merkletreejsDefaults)} |`,
    `| merkletreejs, our configuration (\`merkleTreeOf\`) | tree over the leaf hashes | ${s(times.merkletreejsOursTreeOnly)} |`,
    `| merkletreejs, our configuration (\`buildDistribution\`) | base58 payouts to levels: decode, sum, sort, leaf hashes, tree | ${s(times.merkletreejsOurs)} |`,
    `| floor loop (Buffers + node:crypto) | tree over the leaf hashes | ${s(times.floorLoop)} |`,
  ].join('\n');
}

if (require.main === module) {
  const leafCount = process.argv[2] === undefined ? 1_000_000 : Number(process.argv[2].replace(/_/g, ''));
  measureMerkleBuilds(leafCount)
    .then((times) => process.stdout.write(`${markdownTable(times)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`bench/merkle-build failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    });
}
