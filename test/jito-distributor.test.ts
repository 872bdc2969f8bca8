import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { decodeClaimStatus, decodeMerkleDistributor, newClaimData } from '../domain/jito-distributor';
import { buildDistribution, proofFromLevels, type Distribution } from '../domain/merkle-distribution';
import { EmbeddedChain } from '../src/chain/embedded-chain';
import {
  claimStatusAddress,
  clawbackInstruction,
  distributorAddress,
  distributorVault,
  JITO_DISTRIBUTOR_DIR,
  JITO_DISTRIBUTOR_GZ,
  loadJitoDistributorProgram,
  newClaimInstruction,
  newDistributorInstruction,
  ProgramIntegrityError,
} from '../src/chain/jito-distributor';
import {
  associatedTokenAddress,
  createAssociatedAccountIdempotent,
  createMintInstructions,
  execute,
  mintToChecked,
  readTokenAccount,
  sendAndConfirm,
  transferChecked,
} from '../src/chain/token';
import { createTestDatabase, type TestDatabase } from './support/database';

/** Jito's merkle distributor, the unmodified mainnet binary, run by the embedded chain (litesvm). */
describe('Jito merkle distributor on the embedded chain', () => {
  let database: TestDatabase;
  let chain: EmbeddedChain;
  const authority = Keypair.generate();
  const mintKey = Keypair.generate();
  const mint = mintKey.publicKey;
  let treasury: PublicKey;

  beforeAll(async () => {
    database = await createTestDatabase();
    chain = await EmbeddedChain.open(database.pool, { connectionString: database.url });
    await chain.requestAirdrop(authority.publicKey, BigInt(10 * LAMPORTS_PER_SOL));
    await execute(chain, await createMintInstructions(chain, authority.publicKey, mint, authority.publicKey), [authority, mintKey], 'create mint');
    treasury = associatedTokenAddress(authority.publicKey, mint);
    await execute(
      chain,
      [createAssociatedAccountIdempotent(authority.publicKey, authority.publicKey, mint), mintToChecked(mint, treasury, authority.publicKey, 1_000_000_000n)],
      [authority],
      'treasury',
    );
  });
  afterAll(async () => {
    await chain?.close();
    await database?.drop();
  });

  const tokens = async (account: PublicKey): Promise<bigint> => readTokenAccount(account, await chain.getAccount(account))?.amount ?? 0n;

  async function wallets(count: number): Promise<Keypair[]> {
    const keys = Array.from({ length: count }, () => Keypair.generate());
    // Fees, the ClaimStatus rent (1,336,320 lamports) and the claimant's token account rent: the claimant pays them.
    for (const key of keys) await chain.requestAirdrop(key.publicKey, BigInt(LAMPORTS_PER_SOL / 100));
    return keys;
  }

  /** A distributor of `distribution` at `version`, funded with exactly its total from the treasury. */
  async function distributorOf(distribution: Distribution, version: bigint) {
    const now = await chain.unixTimestamp();
    const args = {
      version,
      root: distribution.root,
      maxTotalClaim: distribution.maxTotalClaim,
      maxNumNodes: distribution.maxNumNodes,
      startVestingTs: now + 60n,
      endVestingTs: now + 120n,
      clawbackStartTs: now + 120n + 86_400n,
    };
    await execute(chain, [newDistributorInstruction({ mint, admin: authority.publicKey, clawbackReceiver: treasury }, args)], [authority], 'new distributor');
    const distributor = distributorAddress(mint, version);
    const vault = distributorVault(distributor, mint);
    await execute(chain, [transferChecked(treasury, mint, vault, authority.publicKey, distribution.total)], [authority], 'fund the vault');
    return { distributor, vault, args };
  }

  /** A claim signed (and paid) by the wallet itself, into its associated account, created in the same transaction. */
  async function claim(wallet: Keypair, distributor: PublicKey, amount: bigint, proof: readonly Uint8Array[]) {
    const { confirmation } = await sendAndConfirm(
      chain,
      [
        createAssociatedAccountIdempotent(wallet.publicKey, wallet.publicKey, mint),
        newClaimInstruction({ distributor, mint, claimant: wallet.publicKey }, amount, 0n, proof),
      ],
      [wallet],
    );
    return confirmation;
  }

  const proofOf = (distribution: Distribution, wallet: Keypair) => {
    const leaf = distribution.leaves.find((candidate) => candidate.wallet === wallet.publicKey.toBase58());
    if (!leaf) throw new Error('no leaf');
    return { amount: leaf.amount, proof: proofFromLevels(distribution.levels, leaf.index) };
  };

  it('sets the chain clock to real time, and only an operator moves it, forward', async () => {
    const now = await chain.unixTimestamp();
    expect(Number(now)).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
    await expect(chain.advanceClock(-1n)).rejects.toThrow(RangeError);
  });

  it('pays every wallet of an odd-sized tree (5 leaves) its amount, the lone last leaf included', async () => {
    const keys = await wallets(5);
    const distribution = buildDistribution(keys.map((key, i) => ({ wallet: key.publicKey.toBase58(), amount: BigInt(1_000 * (i + 1)) })));
    expect(distribution.leafCount).toBe(5);
    const { distributor, vault, args } = await distributorOf(distribution, 1n);

    const account = decodeMerkleDistributor((await chain.getAccount(distributor))!.data);
    expect(account).toMatchObject({
      version: 1n,
      mint: mint.toBase58(),
      tokenVault: vault.toBase58(),
      maxTotalClaim: distribution.total,
      maxNumNodes: 5n,
      totalAmountClaimed: 0n,
      startTs: args.startVestingTs,
      endTs: args.endVestingTs,
      clawbackStartTs: args.clawbackStartTs,
      clawbackReceiver: treasury.toBase58(),
      admin: authority.publicKey.toBase58(),
      clawedBack: false,
    });
    expect(account!.root.equals(distribution.root)).toBe(true);
    expect(await tokens(vault)).toBe(distribution.total);

    for (const key of keys) {
      const { amount, proof } = proofOf(distribution, key);
      expect(await claim(key, distributor, amount, proof)).toMatchObject({ status: 'succeeded' });
      expect(await tokens(associatedTokenAddress(key.publicKey, mint))).toBe(amount);
      const status = decodeClaimStatus((await chain.getAccount(claimStatusAddress(key.publicKey, distributor)))!.data);
      expect(status).toEqual({ claimant: key.publicKey.toBase58(), lockedAmount: 0n, lockedAmountWithdrawn: 0n, unlockedAmount: amount });
    }
    expect(await tokens(vault)).toBe(0n);
    expect(decodeMerkleDistributor((await chain.getAccount(distributor))!.data)).toMatchObject({ totalAmountClaimed: distribution.total, numNodesClaimed: 5n });
  });

  it('pays the wallet of a one-leaf tree with an empty proof', async () => {
    const [key] = await wallets(1);
    const distribution = buildDistribution([{ wallet: key.publicKey.toBase58(), amount: 777n }]);
    const { distributor, vault } = await distributorOf(distribution, 2n);
    expect(proofOf(distribution, key).proof).toEqual([]);
    expect(await claim(key, distributor, 777n, [])).toMatchObject({ status: 'succeeded' });
    expect(await tokens(associatedTokenAddress(key.publicKey, mint))).toBe(777n);
    expect(await tokens(vault)).toBe(0n);
  });

  it('refuses a second claim, a tampered amount, a tampered proof and a wallet with no leaf; claws back exactly the unclaimed rest after clawback_start', async () => {
    const keys = await wallets(4);
    const [alice, bob, carol] = keys;
    const [outsider] = await wallets(1);
    const distribution = buildDistribution(keys.map((key, i) => ({ wallet: key.publicKey.toBase58(), amount: BigInt(10_000 + i) })));
    const { distributor, vault, args } = await distributorOf(distribution, 3n);
    const aliceAccount = associatedTokenAddress(alice.publicKey, mint);

    const a = proofOf(distribution, alice);
    expect(await claim(alice, distributor, a.amount, a.proof)).toMatchObject({ status: 'succeeded' });
    // One ClaimStatus per wallet and distributor: the second claim cannot create it again.
    // (the system program's Custom 0, AccountAlreadyInUse, from the claim, instruction 1).
    expect(await claim(alice, distributor, a.amount, a.proof)).toMatchObject({ status: 'failed', error: expect.stringMatching(/index: 1, .*code: 0 \}/) });
    expect(await tokens(aliceAccount)).toBe(a.amount);

    const b = proofOf(distribution, bob);
    expect(await claim(bob, distributor, b.amount + 1n, b.proof)).toMatchObject({ status: 'failed', error: expect.stringMatching(/code: 6002 \}/) });
    const tampered = b.proof.map((node) => Buffer.from(node));
    tampered[0][0] ^= 1;
    expect(await claim(bob, distributor, b.amount, tampered)).toMatchObject({ status: 'failed', error: expect.stringMatching(/code: 6002 \}/) });
    // Someone else's leaf and proof do not pay a wallet that has none (6002 InvalidProof, as the tampered claims).
    const c = proofOf(distribution, carol);
    expect(await claim(outsider, distributor, c.amount, c.proof)).toMatchObject({ status: 'failed', error: expect.stringMatching(/code: 6002 \}/) });
    expect(await tokens(associatedTokenAddress(outsider.publicKey, mint))).toBe(0n);
    expect(await chain.getAccount(claimStatusAddress(outsider.publicKey, distributor))).toBeNull();

    expect(await claim(bob, distributor, b.amount, b.proof)).toMatchObject({ status: 'succeeded' });
    const claimed = a.amount + b.amount;
    expect(await tokens(vault)).toBe(distribution.total - claimed);

    // Anyone may claw back, but not before clawback_start_ts (6008 ClawbackBeforeStart).
    const clawback = clawbackInstruction({ distributor, mint, clawbackReceiver: treasury, signer: outsider.publicKey });
    const early = await sendAndConfirm(chain, [clawback], [outsider]);
    expect(early.confirmation).toMatchObject({ status: 'failed', error: expect.stringMatching(/code: 6008 \}/) });

    const before = await tokens(treasury);
    const now = await chain.advanceClock(args.clawbackStartTs - (await chain.unixTimestamp()) + 1n);
    expect(now).toBeGreaterThan(args.clawbackStartTs);
    await execute(chain, [clawbackInstruction({ distributor, mint, clawbackReceiver: treasury, signer: outsider.publicKey })], [outsider], 'clawback');
    expect(await tokens(treasury)).toBe(before + distribution.total - claimed);
    expect(await tokens(vault)).toBe(0n);
    expect(decodeMerkleDistributor((await chain.getAccount(distributor))!.data)).toMatchObject({
      clawedBack: true,
      totalAmountClaimed: claimed,
      numNodesClaimed: 2n,
    });
    // Clawed back: carol's claim, valid before, is refused (6013 ClaimExpired).
    expect(await claim(carol, distributor, c.amount, c.proof)).toMatchObject({ status: 'failed', error: expect.stringMatching(/code: 6013 \}/) });
  });

  it('keeps the moved clock and the program across a restart', async () => {
    const before = await chain.unixTimestamp();
    expect(Number(before)).toBeGreaterThan(Date.now() / 1000 + 86_000);
    await chain.close();
    chain = await EmbeddedChain.open(database.pool, { connectionString: database.url });
    expect(await chain.unixTimestamp()).toBeGreaterThanOrEqual(before);
    const [key] = await wallets(1);
    const distribution = buildDistribution([{ wallet: key.publicKey.toBase58(), amount: 5n }]);
    const { distributor } = await distributorOf(distribution, 4n);
    expect(await claim(key, distributor, 5n, [])).toMatchObject({ status: 'succeeded' });
  });
});

describe('Jito merkle distributor encoding and loading', () => {
  it('refuses u64 amounts above 2^64 - 1 rather than truncating them', () => {
    const distributor = distributorAddress(PublicKey.default, 1n);
    const claimant = Keypair.generate().publicKey;
    expect(() => newClaimInstruction({ distributor, mint: PublicKey.default, claimant }, 1n << 64n, 0n, [])).toThrow(RangeError);
    expect(() => newClaimData(0n, -1n, [])).toThrow(RangeError);
    expect(() => distributorAddress(PublicKey.default, 1n << 64n)).toThrow(RangeError);
    expect(() =>
      newDistributorInstruction(
        { mint: PublicKey.default, admin: claimant, clawbackReceiver: claimant },
        { version: 1n, root: Buffer.alloc(32), maxTotalClaim: 1n << 64n, maxNumNodes: 1n, startVestingTs: 1n, endVestingTs: 2n, clawbackStartTs: 3n },
      ),
    ).toThrow(RangeError);
  });

  it('loads the vendored program after checking its sha256, and refuses a corrupted copy', () => {
    expect(loadJitoDistributorProgram()).toHaveLength(623_056);
    const dir = mkdtempSync(path.join(tmpdir(), 'jito-distributor-'));
    try {
      copyFileSync(path.join(JITO_DISTRIBUTOR_DIR, JITO_DISTRIBUTOR_GZ), path.join(dir, JITO_DISTRIBUTOR_GZ));
      const corrupted = readFileSync(path.join(dir, JITO_DISTRIBUTOR_GZ));
      corrupted[corrupted.length >> 1] ^= 0xff;
      writeFileSync(path.join(dir, JITO_DISTRIBUTOR_GZ), corrupted);
      expect(() => loadJitoDistributorProgram(dir)).toThrow(ProgramIntegrityError);
      expect(() => loadJitoDistributorProgram(dir)).toThrow(/sha256 [0-9a-f]{64}, expected e39c85cb.*refusing to load it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
