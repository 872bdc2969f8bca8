import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import type { Discrepancy, ObservedClaim } from '../domain/chain-verification';
import { decodeMerkleDistributor } from '../domain/jito-distributor';
import { buildDistribution, proofFromLevels } from '../domain/merkle-distribution';
import type { EmbeddedChain } from '../src/chain/embedded-chain';
import { claimStatusAddress, distributorAddress, distributorVault, newClaimInstruction } from '../src/chain/jito-distributor';
import { associatedTokenAddress, createAssociatedAccountIdempotent, readTokenAccount, sendAndConfirm } from '../src/chain/token';
import { ChainVerifier } from '../src/verification/chain-verifier';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Replay-verification of web3 distributors with Jito's program run for real: wallets claim with their own keys and the
 * run is clean; then faults the books cannot explain are injected at the chain level and each is found with its type,
 * epoch, account and both values.
 *
 * How the faults are injected, and why so: the engine creates and funds a distributor in one transaction it records
 * before sending, and the program fixes the root, the totals and the vault's authority for good, so no honest
 * transaction makes a distributor disagree with the books once funded (a distributor someone else created first is
 * refused before anything is sent: test/settlement.test.ts). What verification must still catch is a chain that
 * disagrees anyway (a forked or tampered cluster, a bug in the program, a restored backup of another chain), so the
 * faults are written straight into the embedded chain's accounts with `EmbeddedChain.tamperAccountForTests` (tests
 * only, not in ChainGateway):
 * - epoch 2: the distributor's root is replaced by the root of a tree the test builds with a stranger's leaf; the
 *   stranger then claims from it for real, with its own key and proof: a claim the books cannot explain;
 * - epoch 3: the vault's token amount is lowered: a distributor funded short.
 */
describe('replay-verification of web3 distributors and the claims on them', () => {
  let api: TestApi;
  let chain: EmbeddedChain;
  let synqers: TestSynqer[];
  let mint: PublicKey;
  const totals = new Map<number, bigint>();
  const roots = new Map<number, string>();

  const distributorOf = (epoch: number) => distributorAddress(mint, BigInt(epoch));
  const vaultOf = (epoch: number) => distributorVault(distributorOf(epoch), mint);
  const tokens = async (account: PublicKey) => readTokenAccount(account, await chain.getAccount(account))?.amount ?? 0n;

  /** The wallet claims its leaf of `epoch` with its own key, with the amount and proof the engine serves. */
  async function claim(epoch: number, wallet: Keypair) {
    const served = await api.call('GET', `/epochs/${epoch}/distribution/${wallet.publicKey.toBase58()}`, api.keys.auditor);
    expect(served.status).toBe(200);
    await chain.requestAirdrop(wallet.publicKey, BigInt(LAMPORTS_PER_SOL / 100));
    const proof = (served.body.proof as string[]).map((hex) => Buffer.from(hex, 'hex'));
    const { confirmation } = await sendAndConfirm(
      chain,
      [
        createAssociatedAccountIdempotent(wallet.publicKey, wallet.publicKey, mint),
        newClaimInstruction({ distributor: distributorOf(epoch), mint, claimant: wallet.publicKey }, BigInt(served.body.amount), 0n, proof),
      ],
      [wallet],
    );
    expect(confirmation).toMatchObject({ status: 'succeeded' });
    return BigInt(served.body.amount);
  }

  async function verify(onClaimsObserved?: (claims: ObservedClaim[]) => void) {
    return api.engine.app.get(ChainVerifier).run({ actor: 'test', correlationId: 'verification-claims' }, { onClaimsObserved });
  }
  const of = (discrepancies: Discrepancy[], epoch: number) => discrepancies.filter((d) => d.epoch === epoch);

  beforeAll(async () => {
    api = await startTestApi();
    chain = api.engine.chain as EmbeddedChain;
    synqers = await registerSynqers(api, 6);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    const init = await api.call('POST', '/chain/init', api.keys.operator, { supply: '1000000000000000' });
    expect(init.status).toBe(201);
    mint = new PublicKey(init.body.mint);
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'claims' })).body).toMatchObject({ nextEpoch: 1 });
    // Every epoch is settled before any fault is injected: a run that finds one pauses settlement.
    for (const epoch of [1, 2, 3]) {
      const closed = await runAndCloseEpoch(api, epoch, `${epoch}000000000`, synqers);
      totals.set(epoch, BigInt(closed.settlement.paid));
      roots.set(epoch, closed.settlement.distribution.root);
      const settled = await awaitJob(api, api.call('POST', `/epochs/${epoch}/settlement`, api.keys.operator));
      expect(settled.body).toMatchObject({ status: 'settled', funded: true, distributor: distributorOf(epoch).toBase58() });
    }
  });
  afterAll(async () => {
    // The injected faults break the vaults' invariant (I2: epoch 2's vault paid the stranger, epoch 3's was lowered) and
    // the claims' (I6: a claim of another amount than its leaf, claims no leaf explains). Nothing else.
    await expectMoneyInvariants(api, { expected: ['I2', 'I6'] });
    await api.close();
  });

  it('is clean after wallets claim their leaves with their own keys, counting the claims and returning who claimed', async () => {
    const claimed = new Map<string, bigint>();
    for (const synqer of synqers.slice(0, 3)) claimed.set(synqer.wallet.publicKey.toBase58(), await claim(1, synqer.wallet));
    // One wallet claims on epoch 2 too (before its fault): a claim the books explain stays explained.
    claimed.set(`2:${synqers[0].wallet.publicKey.toBase58()}`, await claim(2, synqers[0].wallet));
    const sum = [...claimed].filter(([key]) => !key.startsWith('2:')).reduce((s, [, amount]) => s + amount, 0n);
    expect(await tokens(vaultOf(1))).toBe(totals.get(1)! - sum);

    let observed: ObservedClaim[] = [];
    const run = await verify((claims) => void (observed = claims));
    expect(run.discrepancies).toEqual([]);
    expect(run.checked).toMatchObject({ distributors: 3, claims: 4, vaultTransactions: 4, anchors: 3 });
    expect(observed).toHaveLength(4);
    for (const synqer of synqers.slice(0, 3)) {
      const wallet = synqer.wallet.publicKey.toBase58();
      const claimOf = observed.find((c) => c.epoch === 1 && c.wallet === wallet)!;
      expect(claimOf).toMatchObject({
        distributor: distributorOf(1).toBase58(),
        claimStatus: claimStatusAddress(synqer.wallet.publicKey, distributorOf(1)).toBase58(),
        amount: claimed.get(wallet),
        signature: expect.any(String),
      });
      const landed = await chain.getTransaction(claimOf.signature!);
      expect(landed?.signers).toEqual([wallet]);
    }
    // Over HTTP as well, recorded as a run.
    const recorded = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator));
    expect(recorded.body).toMatchObject({ discrepancyCount: 0, checked: { distributors: 3, claims: 4 } });
    // The books learned who claimed, once (two runs, one event per claim), with the landed transaction's slot.
    const observedEvents: { wallet: string; amount: string; signature: string; slot: string }[] = [];
    for (const epoch of [1, 2])
      for await (const event of api.engine.eventStore.readStream(`claims-${epoch}`))
        if (event.type === 'RewardClaimObserved') observedEvents.push(event.data as (typeof observedEvents)[number]);
    expect(observedEvents).toHaveLength(4);
    for (const event of observedEvents) {
      const match = observed.find((c) => c.wallet === event.wallet && c.signature === event.signature)!;
      expect(event.amount).toBe(match.amount.toString());
      expect(BigInt(event.slot)).toBeGreaterThan(0n);
    }
  });

  it('finds a distributor whose root is not the books, and the claim on it the books cannot explain', async () => {
    const epoch = 2;
    const distributor = distributorOf(epoch);
    const total = totals.get(epoch)!;
    // A tree of the stranger's leaf and one leaf that repeats a books' wallet with another amount.
    const stranger = Keypair.generate();
    const fake = buildDistribution([
      { wallet: stranger.publicKey.toBase58(), amount: 1_000n },
      { wallet: synqers[5].wallet.publicKey.toBase58(), amount: 7n },
    ]);
    // Leaves are ordered by the wallets' key bytes, and the stranger's key is random: find each one's index.
    const indexOf = (wallet: PublicKey) => fake.leaves.find((leaf) => leaf.wallet === wallet.toBase58())!.index;
    const ROOT_OFFSET = 8 + 1 + 8;
    await chain.tamperAccountForTests(distributor, (data) => fake.root.copy(data, ROOT_OFFSET));
    expect(decodeMerkleDistributor((await chain.getAccount(distributor))!.data)!.root.toString('hex')).toBe(fake.root.toString('hex'));

    // The stranger claims for real, with its own key and the fake tree's proof.
    await chain.requestAirdrop(stranger.publicKey, BigInt(LAMPORTS_PER_SOL / 100));
    const strangerClaim = await sendAndConfirm(
      chain,
      [
        createAssociatedAccountIdempotent(stranger.publicKey, stranger.publicKey, mint),
        newClaimInstruction({ distributor, mint, claimant: stranger.publicKey }, 1_000n, 0n, proofFromLevels(fake.levels, indexOf(stranger.publicKey))),
      ],
      [stranger],
    );
    expect(strangerClaim.confirmation).toMatchObject({ status: 'succeeded' });
    // A books' wallet claims the fake tree's amount for it, not its leaf's.
    await chain.requestAirdrop(synqers[5].wallet.publicKey, BigInt(LAMPORTS_PER_SOL / 100));
    const wrongAmount = await sendAndConfirm(
      chain,
      [
        createAssociatedAccountIdempotent(synqers[5].wallet.publicKey, synqers[5].wallet.publicKey, mint),
        newClaimInstruction(
          { distributor, mint, claimant: synqers[5].wallet.publicKey },
          7n,
          0n,
          proofFromLevels(fake.levels, indexOf(synqers[5].wallet.publicKey)),
        ),
      ],
      [synqers[5].wallet],
    );
    expect(wrongAmount.confirmation).toMatchObject({ status: 'succeeded' });
    const leafOf5 = BigInt((await api.call('GET', `/epochs/${epoch}/distribution/${synqers[5].wallet.publicKey.toBase58()}`, api.keys.auditor)).body.amount);
    const claimedByBooksWallet = BigInt(
      (await api.call('GET', `/epochs/${epoch}/distribution/${synqers[0].wallet.publicKey.toBase58()}`, api.keys.auditor)).body.amount,
    );

    const run = await verify();
    const found = of(run.discrepancies, epoch);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'distributor_root_mismatch',
          account: distributor.toBase58(),
          expected: roots.get(epoch),
          actual: fake.root.toString('hex'),
        }),
        expect.objectContaining({
          type: 'claim_amount_mismatch',
          account: claimStatusAddress(synqers[5].wallet.publicKey, distributor).toBase58(),
          expected: leafOf5.toString(),
          actual: '7',
        }),
        // The distributor counts the stranger's 1,000 that no leaf's ClaimStatus explains, and one claim more.
        expect.objectContaining({
          type: 'claim_unexplained',
          account: distributor.toBase58(),
          expected: (claimedByBooksWallet + 7n).toString(),
          actual: (claimedByBooksWallet + 7n + 1_000n).toString(),
        }),
        expect.objectContaining({ type: 'claim_unexplained', account: distributor.toBase58(), expected: '2', actual: '3' }),
        // The stranger's claim, out of the vault to an account of a wallet with no leaf.
        expect.objectContaining({
          type: 'claim_unexplained',
          account: associatedTokenAddress(stranger.publicKey, mint).toBase58(),
          signature: strangerClaim.signature,
          expected: '0',
          actual: '1000',
        }),
        expect.objectContaining({
          type: 'distributor_vault_mismatch',
          account: vaultOf(epoch).toBase58(),
          expected: (total - claimedByBooksWallet - 7n).toString(),
          actual: (total - claimedByBooksWallet - 7n - 1_000n).toString(),
        }),
      ]),
    );
    expect(found).toHaveLength(6);
    // Nothing else: epoch 1 and the treasury are as the books have them; the claims are not treasury transfers.
    expect(run.discrepancies.filter((d) => d.epoch !== epoch)).toEqual([]);
    expect(run.checked).toMatchObject({ distributors: 3, claims: 5 });
    // The run paused settlement.
    expect((await api.call('GET', '/settlement', api.keys.auditor)).body.paused).toMatchObject({ verificationRunId: run.runId });
  });

  it('finds a distributor funded short', async () => {
    const epoch = 3;
    const vault = vaultOf(epoch);
    const total = totals.get(epoch)!;
    expect(await tokens(vault)).toBe(total);
    const AMOUNT_OFFSET = 32 + 32;
    await chain.tamperAccountForTests(vault, (data) => data.writeBigUInt64LE(total - 12_345n, AMOUNT_OFFSET));
    expect(await tokens(vault)).toBe(total - 12_345n);

    const run = await verify();
    expect(of(run.discrepancies, epoch)).toEqual([
      {
        type: 'distributor_vault_mismatch',
        epoch,
        account: vault.toBase58(),
        signature: null,
        expected: total.toString(),
        actual: (total - 12_345n).toString(),
        detail: expect.stringContaining(`funded ${total}`),
      },
    ]);
    // Epoch 2's faults are still there, nothing else.
    expect(run.discrepancies.filter((d) => d.epoch !== 2 && d.epoch !== epoch)).toEqual([]);
  });
});
