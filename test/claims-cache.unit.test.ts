import { buildDistribution, proofFromLevels, type Distribution } from '../domain/merkle-distribution';
import { base58Encode } from '../domain/values';
import { EpochClaims } from '../src/epochs/claims-cache';

/**
 * An epoch's claims held compactly (src/epochs/claims-cache.ts): sorted 32-byte keys searched by bisection, amounts in
 * a BigUint64Array, the levels as Buffers. Every answer must be what the tree's levels give, byte for byte.
 */
const LEAVES = 1_537; // odd levels on the way up: 1537, 769, 385, 193, 97, 49, 25, 13, 7, 4, 2, 1
const wallet = (i: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, j) => (i * 131 + j * 29 + ((i >> 3) ^ j)) & 0xff));

function distribution(): Distribution {
  return buildDistribution(Array.from({ length: LEAVES }, (_, i) => ({ wallet: wallet(i), amount: BigInt(1 + ((i * 7_919) % 1_000_003)) * 1_000_000n })));
}

const rowsOf = (built: Distribution) => built.leaves.map((leaf) => ({ wallet: leaf.wallet, leaf_index: leaf.index, amount: leaf.amount.toString() }));
const levelsOf = (built: Distribution) => built.levels.map((level) => Buffer.concat(level));

describe('an epoch held compactly', () => {
  const built = distribution();

  it('answers every leaf with its index, amount and the proof the levels give; null for a wallet with no leaf', () => {
    // The rows come in any order (the query has none).
    const rows = rowsOf(built).reverse();
    const claims = EpochClaims.from(built.rootHex, rows, levelsOf(built));
    expect(claims.leafCount).toBe(built.leafCount);
    for (const leaf of built.leaves) {
      expect(claims.claim(leaf.wallet)).toEqual({
        index: leaf.index,
        amount: leaf.amount.toString(),
        root: built.rootHex,
        proof: proofFromLevels(built.levels, leaf.index).map((node) => node.toString('hex')),
      });
    }
    expect(claims.claim(wallet(LEAVES + 5))).toBeNull();
    expect(claims.claim(base58Encode(new Uint8Array(32)))).toBeNull();
    expect(claims.claim(base58Encode(new Uint8Array(32).fill(255)))).toBeNull();
    expect(claims.claim('not base58 0OIl')).toBeNull();
    expect(claims.claim(base58Encode(new Uint8Array(31).fill(9)))).toBeNull();
  });

  it('holds 40 bytes a leaf and its levels, no more than estimated before reading it', () => {
    const claims = EpochClaims.from(built.rootHex, rowsOf(built), levelsOf(built));
    const levelBytes = built.levels.reduce((sum, level) => sum + level.length * 32, 0);
    expect(claims.bytes).toBe(LEAVES * 40 + levelBytes);
    expect(EpochClaims.estimate(LEAVES)).toBeGreaterThanOrEqual(claims.bytes);
    expect(claims.bytes / LEAVES).toBeLessThan(110);
  });

  it('finds leaves whose indexes are not in key order too (a permutation is kept)', () => {
    // The same keys and amounts with their indexes reversed: not a real tree, but the lookup must still give each wallet its own index and amount.
    const rows = rowsOf(built).map((row) => ({ ...row, leaf_index: LEAVES - 1 - row.leaf_index }));
    const claims = EpochClaims.from(built.rootHex, rows, levelsOf(built));
    expect(claims.bytes).toBe(EpochClaims.from(built.rootHex, rowsOf(built), levelsOf(built)).bytes + LEAVES * 4);
    for (const row of rows) expect(claims.claim(row.wallet)).toMatchObject({ index: row.leaf_index, amount: row.amount });
  });

  it('refuses what it could not give back exactly: an amount not in its shortest form or past u64, an index twice, a key not of 32 bytes', () => {
    const rows = rowsOf(built);
    const levels = levelsOf(built);
    const with0 = (change: Partial<(typeof rows)[number]>) => rows.map((row, i) => (i === 0 ? { ...row, ...change } : row));
    expect(() => EpochClaims.from(built.rootHex, with0({ amount: `0${rows[0].amount}` }), levels)).toThrow('shortest form');
    expect(() => EpochClaims.from(built.rootHex, with0({ amount: (2n ** 64n).toString() }), levels)).toThrow('u64');
    expect(() => EpochClaims.from(built.rootHex, with0({ leaf_index: 1 }), levels)).toThrow('once');
    expect(() => EpochClaims.from(built.rootHex, with0({ wallet: base58Encode(new Uint8Array(33).fill(3)) }), levels)).toThrow('32-byte');
  });
});
