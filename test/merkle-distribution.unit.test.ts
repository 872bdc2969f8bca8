/**
 * Merkle distributions for Jito's merkle-distributor. Everything is checked against code written here, independent of
 * domain/merkle-distribution.ts: the program's leaf formula and its `verify` (programs/merkle-distributor
 * `new_claim.rs`, `verify/src/lib.rs`), a port of the crate that builds Jito's trees (`merkle-tree/src/merkle_tree.rs`,
 * `utils.rs` `get_proof`), and hashes written out by hand (computed with Python's hashlib).
 */
import { createHash } from 'node:crypto';
import { MerkleTree } from 'merkletreejs';
import { buildDistribution, leafHash, merkleTreeOf, proofFromLevels, proofNodePositions, type Payout } from '../domain/merkle-distribution';
import { base58Decode, base58Encode } from '../domain/values';

// ---- Independent of the module under test -------------------------------------------------------------------------

/** solana_program::hash::hashv: sha256 over the parts, one after another. */
function hashv(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

/** u64::to_le_bytes, by hand. */
function toLeBytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return bytes;
}

const LEAF_PREFIX = Uint8Array.of(0);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function walletBytes(wallet: string): Uint8Array {
  const bytes = base58Decode(wallet);
  if (bytes?.length !== 32) throw new Error(`test wallet ${wallet} is not 32 bytes`);
  return bytes;
}

/** new_claim.rs: hashv(&[LEAF_PREFIX, &hashv(&[claimant, amount_unlocked.to_le_bytes(), amount_locked.to_le_bytes()])]). */
function programLeaf(wallet: string, amountUnlocked: bigint, amountLocked = 0n): Buffer {
  const node = hashv(walletBytes(wallet), toLeBytes(amountUnlocked), toLeBytes(amountLocked));
  return hashv(LEAF_PREFIX, node);
}

/** jito_merkle_verify::verify, line for line. */
function verify(proof: Uint8Array[], root: Uint8Array, leaf: Uint8Array): boolean {
  let computedHash: Buffer = Buffer.from(leaf);
  for (const proofElement of proof) {
    if (Buffer.compare(computedHash, proofElement) <= 0) {
      computedHash = hashv(Uint8Array.of(1), computedHash, proofElement);
    } else {
      computedHash = hashv(Uint8Array.of(1), proofElement, computedHash);
    }
  }
  return computedHash.equals(root);
}

/** A port of merkle-tree/src/merkle_tree.rs (`MerkleTree::new(items, sorted_hashes = true)`, `find_path`) and utils.rs `get_proof`. */
class JitoMerkleTree {
  readonly nodes: Buffer[] = [];
  readonly leafCount: number;

  private static nextLevelLen(levelLen: number): number {
    return levelLen === 1 ? 0 : Math.floor((levelLen + 1) / 2);
  }

  constructor(items: Uint8Array[]) {
    this.leafCount = items.length;
    for (const item of items) this.nodes.push(hashv(LEAF_PREFIX, item));
    let levelLen = JitoMerkleTree.nextLevelLen(items.length);
    let levelStart = items.length;
    let prevLevelLen = items.length;
    let prevLevelStart = 0;
    while (levelLen > 0) {
      for (let i = 0; i < levelLen; i++) {
        const prevLevelIdx = 2 * i;
        const lsib = this.nodes[prevLevelStart + prevLevelIdx];
        const rsib = prevLevelIdx + 1 < prevLevelLen ? this.nodes[prevLevelStart + prevLevelIdx + 1] : this.nodes[prevLevelStart + prevLevelIdx];
        this.nodes.push(Buffer.compare(lsib, rsib) <= 0 ? hashv(Uint8Array.of(1), lsib, rsib) : hashv(Uint8Array.of(1), rsib, lsib));
      }
      prevLevelStart = levelStart;
      prevLevelLen = levelLen;
      levelStart += levelLen;
      levelLen = JitoMerkleTree.nextLevelLen(levelLen);
    }
  }

  root(): Buffer {
    return this.nodes[this.nodes.length - 1];
  }

  levels(): Buffer[][] {
    const levels: Buffer[][] = [];
    for (let start = 0, len = this.leafCount; len > 0; start += len, len = JitoMerkleTree.nextLevelLen(len)) {
      levels.push(this.nodes.slice(start, start + len));
    }
    return levels;
  }

  proof(index: number): Buffer[] {
    const proof: Buffer[] = [];
    let levelLen = this.leafCount;
    let levelStart = 0;
    let nodeIndex = index;
    let lsib: Buffer | undefined;
    let rsib: Buffer | undefined;
    while (levelLen > 0) {
      const level = this.nodes.slice(levelStart, levelStart + levelLen);
      if (lsib !== undefined || rsib !== undefined) proof.push((lsib ?? rsib) as Buffer);
      if (nodeIndex % 2 === 0) {
        lsib = undefined;
        rsib = nodeIndex + 1 < level.length ? level[nodeIndex + 1] : level[nodeIndex];
      } else {
        lsib = level[nodeIndex - 1];
        rsib = undefined;
      }
      nodeIndex = Math.floor(nodeIndex / 2);
      levelStart += levelLen;
      levelLen = JitoMerkleTree.nextLevelLen(levelLen);
    }
    return proof;
  }
}

/** mulberry32: a seeded PRNG, so every run draws the same wallets. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomWallet(next: () => number): string {
  return base58Encode(Uint8Array.from({ length: 32 }, () => Math.floor(next() * 256)));
}

/** `count` distinct wallets with amounts from 1 to 10^12. */
function randomPayouts(count: number, seed: number): Payout[] {
  const next = prng(seed);
  const seen = new Set<string>();
  const payouts: Payout[] = [];
  while (payouts.length < count) {
    const wallet = randomWallet(next);
    if (seen.has(wallet)) continue;
    seen.add(wallet);
    payouts.push({ wallet, amount: 1n + BigInt(Math.floor(next() * 1e12)) });
  }
  return payouts;
}

/** Levels (from 0) where the path of leaf `index` goes through the last node of an odd level: paired with itself. */
function selfPairedLevels(leafCount: number, index: number): number[] {
  const levels: number[] = [];
  for (let level = 0, len = leafCount, at = index; len > 1; level++, len = Math.ceil(len / 2), at = Math.floor(at / 2)) {
    if (at % 2 === 0 && at === len - 1) levels.push(level);
  }
  return levels;
}

function errorOf(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

const SIZES = [1, 2, 3, 5, 7, 1024, 1025];

// ---- Tests --------------------------------------------------------------------------------------------------------

describe('Merkle distributions for Jito merkle-distributor', () => {
  it.each(SIZES)("%i leaves: every proof passes the program verify, and root, levels and proofs are those of Jito's merkle-tree crate", (size) => {
    const payouts = randomPayouts(size, 1000 + size);
    const distribution = buildDistribution(payouts);
    expect(distribution.leafCount).toBe(size);
    expect(distribution.maxNumNodes).toBe(BigInt(size));

    const jito = new JitoMerkleTree(distribution.leaves.map((leaf) => hashv(walletBytes(leaf.wallet), toLeBytes(leaf.amount), toLeBytes(0n))));
    expect(hex(distribution.root)).toBe(hex(jito.root()));
    expect(distribution.rootHex).toBe(hex(jito.root()));
    expect(distribution.levels.map((level) => level.map(hex))).toEqual(jito.levels().map((level) => level.map(hex)));

    for (const leaf of distribution.leaves) {
      const claimLeaf = programLeaf(leaf.wallet, leaf.amount);
      expect(hex(leaf.leafHash)).toBe(hex(claimLeaf));
      const proof = proofFromLevels(distribution.levels, leaf.index);
      expect(proof.length).toBe(Math.ceil(Math.log2(size)));
      expect(verify(proof, distribution.root, claimLeaf)).toBe(true);
      expect(proof.map(hex)).toEqual(jito.proof(leaf.index).map(hex));
    }
  });

  it('a random large distribution (seeded): every proof verifies, shared wallets summed, zero amounts left out', () => {
    const next = prng(20_261_125);
    const wallets = Array.from({ length: 20_000 + Math.floor(next() * 1_000) }, () => randomWallet(next));
    const payouts: Payout[] = [];
    const expected = new Map<string, bigint>();
    for (let i = 0; i < wallets.length * 1.2; i++) {
      const wallet = wallets[Math.floor(next() * wallets.length)];
      const amount = next() < 0.05 ? 0n : BigInt(Math.floor(next() * 1e15));
      payouts.push({ wallet, amount });
      expected.set(wallet, (expected.get(wallet) ?? 0n) + amount);
    }
    for (const [wallet, amount] of expected) if (amount === 0n) expected.delete(wallet);

    const distribution = buildDistribution(payouts);
    expect(distribution.leafCount).toBe(expected.size);
    expect(distribution.total).toBe([...expected.values()].reduce((a, b) => a + b, 0n));
    expect(distribution.maxTotalClaim).toBe(distribution.total);
    for (const leaf of distribution.leaves) {
      expect(leaf.amount).toBe(expected.get(leaf.wallet));
      expect(verify(proofFromLevels(distribution.levels, leaf.index), distribution.root, programLeaf(leaf.wallet, leaf.amount))).toBe(true);
    }
    for (let i = 1; i < distribution.leafCount; i++) {
      expect(Buffer.compare(walletBytes(distribution.leaves[i - 1].wallet), walletBytes(distribution.leaves[i].wallet))).toBe(-1);
    }
  });

  it.each([1, 2, 3, 7, 1025])('%i leaves: a tampered amount, wallet, proof element or root fails verify', (size) => {
    const distribution = buildDistribution(randomPayouts(size, 7000 + size));
    const other = randomWallet(prng(size));
    const { root } = distribution;
    const picks = [...new Set([0, Math.floor(size / 2), size - 1])];
    for (const index of picks) {
      const leaf = distribution.leaves[index];
      const proof = proofFromLevels(distribution.levels, index);
      expect(verify(proof, root, programLeaf(leaf.wallet, leaf.amount))).toBe(true);
      expect(verify(proof, root, programLeaf(leaf.wallet, leaf.amount + 1n))).toBe(false);
      expect(verify(proof, root, programLeaf(leaf.wallet, leaf.amount - 1n))).toBe(false);
      expect(verify(proof, root, programLeaf(leaf.wallet, 0n, leaf.amount))).toBe(false); // the same amount, locked
      expect(verify(proof, root, programLeaf(other, leaf.amount))).toBe(false);
      if (size > 1) {
        const neighbour = distribution.leaves[index === 0 ? 1 : index - 1];
        expect(verify(proof, root, programLeaf(neighbour.wallet, leaf.amount))).toBe(false);
      }
      for (let e = 0; e < proof.length; e++) {
        const tampered = proof.map((element) => Buffer.from(element));
        tampered[e][31] ^= 1;
        expect(verify(tampered, root, programLeaf(leaf.wallet, leaf.amount))).toBe(false);
        expect(
          verify(
            proof.filter((_, k) => k !== e),
            root,
            programLeaf(leaf.wallet, leaf.amount),
          ),
        ).toBe(false);
      }
      const badRoot = Buffer.from(root);
      badRoot[0] ^= 0x80;
      expect(verify(proof, badRoot, programLeaf(leaf.wallet, leaf.amount))).toBe(false);
    }
  });

  it('sums the payouts of a wallet several synqers share, leaves out zero amounts, records max total claim and max num nodes', () => {
    const [a, b, c, d] = randomPayouts(4, 42).map((p) => p.wallet);
    const distribution = buildDistribution([
      { wallet: a, amount: 1_000_000n },
      { wallet: b, amount: 7n },
      { wallet: a, amount: 2_500_000n },
      { wallet: c, amount: 0n },
      { wallet: a, amount: 0n },
      { wallet: d, amount: 0n },
      { wallet: d, amount: 0n },
      { wallet: b, amount: 3n },
    ]);
    expect(Object.fromEntries(distribution.leaves.map((leaf) => [leaf.wallet, leaf.amount]))).toEqual({ [a]: 3_500_000n, [b]: 10n });
    expect(distribution.leafCount).toBe(2);
    expect(distribution.maxNumNodes).toBe(2n);
    expect(distribution.total).toBe(3_500_010n);
    expect(distribution.maxTotalClaim).toBe(3_500_010n);
    const leafA = distribution.leaves.find((leaf) => leaf.wallet === a)!;
    const proofA = proofFromLevels(distribution.levels, leafA.index);
    expect(verify(proofA, distribution.root, programLeaf(a, 3_500_000n))).toBe(true);
    expect(verify(proofA, distribution.root, programLeaf(a, 1_000_000n))).toBe(false);
    expect(verify(proofA, distribution.root, programLeaf(a, 2_500_000n))).toBe(false);
  });

  it("orders the leaves by the wallets' 32 key bytes, not by their base58 text, whatever the input order", () => {
    const key = (prefix: number[]) => {
      const bytes = new Uint8Array(32);
      bytes.set(prefix);
      bytes[31] = 7;
      return bytes;
    };
    const byBytes = [key([0, 0, 5]), key([0, 1]), key([1]), key([0x0f]), key([0x10]), key([0xff])].map((bytes) => base58Encode(bytes));
    // Precondition: base58 text order is not byte order here ("4uQ…" for 0x01… comes after "21Z…" for 0x0f…).
    expect([...byBytes].sort()).not.toEqual(byBytes);

    const next = prng(5);
    for (let round = 0; round < 5; round++) {
      const shuffled = [...byBytes].sort(() => next() - 0.5);
      const distribution = buildDistribution(shuffled.map((wallet, i) => ({ wallet, amount: BigInt(i + 1) })));
      expect(distribution.leaves.map((leaf) => leaf.wallet)).toEqual(byBytes);
      expect(distribution.leaves.map((leaf) => leaf.index)).toEqual([0, 1, 2, 3, 4, 5]);
    }
    const forward = buildDistribution(byBytes.map((wallet) => ({ wallet, amount: 5n })));
    const backward = buildDistribution([...byBytes].reverse().map((wallet) => ({ wallet, amount: 5n })));
    expect(backward.rootHex).toBe(forward.rootHex);
  });

  it('keeps apart, and orders, wallets that differ only in their last bytes', () => {
    const near = (tail: number[]) => {
      const bytes = new Uint8Array(32).fill(0xaa);
      bytes.set(tail, 32 - tail.length);
      return base58Encode(bytes);
    };
    const ordered = [near([0x00, 0xff]), near([0x01, 0x00]), near([0x01, 0x01]), near([0xab, 0x00]), near([0xab, 0x02])];
    const payouts = [3, 0, 4, 2, 1, 3].map((i) => ({ wallet: ordered[i], amount: BigInt(10 ** i) }));
    const distribution = buildDistribution(payouts);
    expect(distribution.leaves.map((leaf) => [leaf.wallet, leaf.amount])).toEqual([
      [ordered[0], 1n],
      [ordered[1], 10n],
      [ordered[2], 100n],
      [ordered[3], 2000n],
      [ordered[4], 10_000n],
    ]);
  });

  describe('hand-computed roots (hashes from Python hashlib)', () => {
    const w1 = base58Encode(new Uint8Array(32).fill(0x11));
    const w2 = base58Encode(new Uint8Array(32).fill(0x22));
    const w3 = base58Encode(new Uint8Array(32).fill(0x33));
    const sha = (hexInput: string) => createHash('sha256').update(Buffer.from(hexInput, 'hex')).digest('hex');

    // leaf data preimage: wallet (32 bytes) || amount_unlocked u64 LE || amount_locked u64 LE (0)
    const data1 = '1111111111111111111111111111111111111111111111111111111111111111' + '40420f0000000000' + '0000000000000000'; // 1,000,000
    const data2 = '2222222222222222222222222222222222222222222222222222222222222222' + 'a025260000000000' + '0000000000000000'; // 2,500,000
    const data3 = '3333333333333333333333333333333333333333333333333333333333333333' + 'c0c62d0000000000' + '0000000000000000'; // 3,000,000
    const leafData1 = 'bac76933c0cf83b3ae8a2bcb3a8e7f71e5ca447272b090a3f2f8f5ee8e016660';
    const leafData2 = 'b71a2a6dec07d26b3db7bc7623e95f99a33eba77c63e0a556846b72dff1bb67f';
    const leafData3 = '67b842a7e0072c9359428919ecb4f2dd6feba591a5027d0837d2fbd9d954b041';
    // leaf = sha256(0x00 || leaf data)
    const leaf1 = '5687b066c7d614f0fd3db2b67e1090c7afda066eecae32de4eb7fcf53f90441f';
    const leaf2 = '2e321ee6ed271e1b168413b1b7a5d1ac7f95cd13cef8d2e300f1eb6c26f8b4c6';
    const leaf3 = '27cb5688ec28b9239de5dc05d974c5cb370cbef6970ffa3963ee1b63f8f0bae7';
    // node = sha256(0x01 || min || max): leaf2 (2e…) < leaf1 (56…), so leaf2 goes first
    const node12 = '9b53ddeec0c69555948d9e47c3a1c02ab480eef4de50b36bb690a43e16e3cdc3';
    // the odd leaf 3 is paired with itself
    const node33 = '228113350ef63c1f06ae187a25f4e27c7d4f8ab744bd9bc556a743a8d4447c11';
    // node33 (22…) < node12 (9b…)
    const root3 = '51595d457bc25e3d33c92bf37861c896ab106abd44f8efaebe34fdcb611051a7';

    it('the written-out steps hold', () => {
      expect(sha(data1)).toBe(leafData1);
      expect(sha(data2)).toBe(leafData2);
      expect(sha(data3)).toBe(leafData3);
      expect(sha(`00${leafData1}`)).toBe(leaf1);
      expect(sha(`00${leafData2}`)).toBe(leaf2);
      expect(sha(`00${leafData3}`)).toBe(leaf3);
      expect(sha(`01${leaf2}${leaf1}`)).toBe(node12);
      expect(sha(`01${leaf3}${leaf3}`)).toBe(node33);
      expect(sha(`01${node33}${node12}`)).toBe(root3);
    });

    it('2 leaves', () => {
      const distribution = buildDistribution([
        { wallet: w2, amount: 2_500_000n },
        { wallet: w1, amount: 1_000_000n },
      ]);
      expect(distribution.leaves.map((leaf) => [leaf.wallet, hex(leaf.leafHash)])).toEqual([
        [w1, leaf1],
        [w2, leaf2],
      ]);
      expect(distribution.rootHex).toBe(node12);
      expect(distribution.levels.map((level) => level.map(hex))).toEqual([[leaf1, leaf2], [node12]]);
      expect(proofFromLevels(distribution.levels, 0).map(hex)).toEqual([leaf2]);
      expect(proofFromLevels(distribution.levels, 1).map(hex)).toEqual([leaf1]);
      expect(distribution.total).toBe(3_500_000n);
    });

    it('3 leaves: the odd one paired with itself, its proof carries itself', () => {
      const distribution = buildDistribution([
        { wallet: w3, amount: 3_000_000n },
        { wallet: w1, amount: 1_000_000n },
        { wallet: w2, amount: 2_500_000n },
      ]);
      expect(distribution.rootHex).toBe(root3);
      expect(distribution.levels.map((level) => level.map(hex))).toEqual([[leaf1, leaf2, leaf3], [node12, node33], [root3]]);
      expect(proofFromLevels(distribution.levels, 0).map(hex)).toEqual([leaf2, node33]);
      expect(proofFromLevels(distribution.levels, 1).map(hex)).toEqual([leaf1, node33]);
      expect(proofFromLevels(distribution.levels, 2).map(hex)).toEqual([leaf3, node12]);
      expect(distribution.total).toBe(6_500_000n);
      expect(distribution.maxNumNodes).toBe(3n);
    });

    it('1 leaf: the root is the leaf and the proof is empty', () => {
      const distribution = buildDistribution([{ wallet: w1, amount: 1_000_000n }]);
      expect(distribution.rootHex).toBe(leaf1);
      expect(proofFromLevels(distribution.levels, 0)).toEqual([]);
      expect(verify([], distribution.root, programLeaf(w1, 1_000_000n))).toBe(true);
    });
  });

  describe('merkletreejs', () => {
    it("getProof(leaf, index) equals proofFromLevels except where a node is paired with itself: there it leaves the element out, and its proof fails Jito's verify", () => {
      let selfPaired = 0;
      for (const size of [...Array.from({ length: 40 }, (_, i) => i + 1), 1024, 1025]) {
        const distribution = buildDistribution(randomPayouts(size, 3000 + size));
        const tree = merkleTreeOf(distribution.levels[0]);
        expect(tree.getHexRoot()).toBe(`0x${distribution.rootHex}`);
        for (const leaf of distribution.leaves) {
          const fromMerkletreejs = tree.getProof(leaf.leafHash, leaf.index).map((element) => hex(element.data));
          const ours = proofFromLevels(distribution.levels, leaf.index).map(hex);
          const self = selfPairedLevels(size, leaf.index);
          expect(ours.filter((_, level) => !self.includes(level))).toEqual(fromMerkletreejs);
          if (self.length === 0) {
            expect(ours).toEqual(fromMerkletreejs);
          } else {
            selfPaired++;
            const claimLeaf = programLeaf(leaf.wallet, leaf.amount);
            expect(
              verify(
                fromMerkletreejs.map((h) => Buffer.from(h, 'hex')),
                distribution.root,
                claimLeaf,
              ),
            ).toBe(false);
            expect(
              verify(
                ours.map((h) => Buffer.from(h, 'hex')),
                distribution.root,
                claimLeaf,
              ),
            ).toBe(true);
          }
        }
      }
      expect(selfPaired).toBeGreaterThan(100);
    });

    it('3 leaves: merkletreejs gives the last leaf a 1-element proof where Jito needs [itself, node]', () => {
      const distribution = buildDistribution(randomPayouts(3, 33));
      const [l0, l1, l2] = distribution.levels[0];
      const tree = merkleTreeOf(distribution.levels[0]);
      expect(tree.getProof(l2, 2).map((element) => hex(element.data))).toEqual([hex(distribution.levels[1][0])]);
      expect(proofFromLevels(distribution.levels, 2).map(hex)).toEqual([hex(l2), hex(distribution.levels[1][0])]);
      expect(tree.getProof(l0, 0).map((element) => hex(element.data))).toEqual([hex(l1), hex(distribution.levels[1][1])]);
    });

    it('with its defaults (and sha256) merkletreejs builds another tree: unsorted pairs, no 0x01, the odd node promoted', () => {
      const distribution = buildDistribution(randomPayouts(3, 34));
      const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
      const defaults = new MerkleTree(distribution.levels[0], sha256);
      expect(defaults.getRoot().equals(distribution.root)).toBe(false);
      expect(defaults.getLayers()[1][1].equals(distribution.levels[0][2])).toBe(true); // promoted, not hashed with itself
      const [l0, l1] = distribution.levels[0];
      expect(hex(defaults.getLayers()[1][0])).toBe(hex(sha256(Buffer.concat([l0, l1]))));
    });
  });

  describe('proofNodePositions', () => {
    it('names the stored node of each proof element, by hand for small trees', () => {
      expect(proofNodePositions(1, 0)).toEqual([]);
      expect(proofNodePositions(2, 1)).toEqual([{ level: 0, index: 0 }]);
      expect(proofNodePositions(3, 2)).toEqual([
        { level: 0, index: 2 },
        { level: 1, index: 0 },
      ]);
      expect(proofNodePositions(5, 4)).toEqual([
        { level: 0, index: 4 },
        { level: 1, index: 2 },
        { level: 2, index: 0 },
      ]);
      expect(proofNodePositions(5, 0)).toEqual([
        { level: 0, index: 1 },
        { level: 1, index: 1 },
        { level: 2, index: 1 },
      ]);
      expect(proofNodePositions(6, 5)).toEqual([
        { level: 0, index: 4 },
        { level: 1, index: 2 },
        { level: 2, index: 0 },
      ]);
    });

    it('is about log2(n) lookups, computed without the tree, and refuses an index outside the leaves', () => {
      expect(proofNodePositions(1_000_000, 999_999)).toHaveLength(20);
      expect(proofNodePositions(2 ** 32 - 1, 2 ** 32 - 2)).toHaveLength(32);
      expect(() => proofNodePositions(5, 5)).toThrow(/outside/);
      expect(() => proofNodePositions(5, -1)).toThrow(/outside/);
      expect(() => proofNodePositions(0, 0)).toThrow();
    });

    it('rows fetched at those positions make the proof (as the engine will read them from PostgreSQL)', () => {
      const distribution = buildDistribution(randomPayouts(37, 37));
      const rows = new Map<string, string>();
      distribution.levels.forEach((level, l) => level.forEach((node, i) => rows.set(`${l}/${i}`, hex(node))));
      for (const leaf of distribution.leaves) {
        const proof = proofNodePositions(distribution.leafCount, leaf.index).map(({ level, index }) => Buffer.from(rows.get(`${level}/${index}`)!, 'hex'));
        expect(verify(proof, distribution.root, programLeaf(leaf.wallet, leaf.amount))).toBe(true);
      }
    });
  });

  describe('leafHash', () => {
    it("is the program's leaf, locked amounts included", () => {
      const [{ wallet }] = randomPayouts(1, 9);
      expect(hex(leafHash(walletBytes(wallet), 123_456_789n))).toBe(hex(programLeaf(wallet, 123_456_789n)));
      expect(hex(leafHash(walletBytes(wallet), 5n, 2n ** 64n - 1n))).toBe(hex(programLeaf(wallet, 5n, 2n ** 64n - 1n)));
      expect(hex(leafHash(walletBytes(wallet), 5n, 7n))).not.toBe(hex(programLeaf(wallet, 7n, 5n)));
    });

    it('refuses a key that is not 32 bytes and amounts outside u64', () => {
      expect(() => leafHash(new Uint8Array(31), 1n)).toThrow(/32/);
      expect(() => leafHash(new Uint8Array(32), 2n ** 64n)).toThrow(/u64/);
      expect(() => leafHash(new Uint8Array(32), -1n)).toThrow(/u64/);
      expect(() => leafHash(new Uint8Array(32), 1n, 2n ** 64n)).toThrow(/u64/);
    });
  });

  describe('refusals', () => {
    const [{ wallet: good }, { wallet: other }] = randomPayouts(2, 11);

    it.each([
      ['a character outside base58', good.slice(0, -1) + '0'],
      ['a letter base58 leaves out', `O${good.slice(1)}`],
      ['not ASCII', `${good.slice(0, -1)}é`],
      ['31 bytes', base58Encode(new Uint8Array(31).fill(9))],
      ['33 bytes', base58Encode(new Uint8Array(33).fill(9))],
      ['empty', ''],
      ['past 2^256', 'z'.repeat(44)],
      ['33 leading zero bytes', '1'.repeat(33)],
    ])('a wallet with %s, named in the error', (_, wallet) => {
      expect(base58Decode(wallet)?.length).not.toBe(32);
      const error = errorOf(() =>
        buildDistribution([
          { wallet: good, amount: 1n },
          { wallet, amount: 0n },
        ]),
      );
      expect(error.message).toContain(JSON.stringify(wallet));
      expect(error.message).toMatch(/not a base58 public key of 32 bytes/);
    });

    it('an empty distribution, or one whose amounts are all 0', () => {
      expect(() => buildDistribution([])).toThrow(/empty distribution/);
      expect(() =>
        buildDistribution([
          { wallet: good, amount: 0n },
          { wallet: other, amount: 0n },
        ]),
      ).toThrow(/empty distribution/);
    });

    it('an amount above u64 max, alone or summed, naming the wallet; a total above u64 max; a negative amount', () => {
      const max = 2n ** 64n - 1n;
      expect(buildDistribution([{ wallet: good, amount: max }]).leaves[0].amount).toBe(max);
      expect(errorOf(() => buildDistribution([{ wallet: good, amount: max + 1n }])).message).toMatch(new RegExp(`${good}.*exceeds u64`));
      expect(
        errorOf(() =>
          buildDistribution([
            { wallet: other, amount: 1n },
            { wallet: good, amount: max },
            { wallet: good, amount: 1n },
          ]),
        ).message,
      ).toMatch(new RegExp(`wallet ${good}: amount 18446744073709551616 exceeds u64`));
      expect(() =>
        buildDistribution([
          { wallet: good, amount: max },
          { wallet: other, amount: 1n },
        ]),
      ).toThrow(/total 18446744073709551616 exceeds u64/);
      expect(errorOf(() => buildDistribution([{ wallet: good, amount: -1n }])).message).toMatch(new RegExp(`${good}.*negative`));
    });
  });

  it('reads base58 exactly as base58Decode does: 32 bytes accepted, anything else refused (seeded fuzz and edge cases)', () => {
    const next = prng(58);
    const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
    const candidates: string[] = ['1'.repeat(32), '1'.repeat(31), `${'1'.repeat(31)}2`, 'z'.repeat(43), 'z'.repeat(44), `1${'z'.repeat(43)}`];
    for (let zeros = 0; zeros <= 4; zeros++) {
      for (let i = 0; i < 50; i++) {
        const bytes = Uint8Array.from({ length: 32 }, (_, k) => (k < zeros ? 0 : Math.floor(next() * 256)));
        candidates.push(base58Encode(bytes));
        candidates.push(base58Encode(bytes.subarray(1)), base58Encode(Uint8Array.of(...bytes, 1)));
      }
    }
    for (let i = 0; i < 2000; i++) {
      const length = 38 + Math.floor(next() * 9);
      candidates.push(Array.from({ length }, () => alphabet[Math.floor(next() * 58)]).join(''));
    }
    let accepted = 0;
    for (const wallet of candidates) {
      const bytes = base58Decode(wallet);
      if (bytes?.length === 32) {
        accepted++;
        expect(hex(buildDistribution([{ wallet, amount: 1n }]).leaves[0].leafHash)).toBe(hex(programLeaf(wallet, 1n)));
      } else {
        expect(() => buildDistribution([{ wallet, amount: 1n }])).toThrow(/not a base58 public key/);
      }
    }
    expect(accepted).toBeGreaterThan(300);
    expect(candidates.length - accepted).toBeGreaterThan(300);
  });
});
