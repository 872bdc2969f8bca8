import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import type { Discrepancy } from '../domain/chain-verification';
import { toEnvelopes } from '../src/commands/streams';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import {
  associatedTokenAddress,
  burnChecked,
  createAssociatedAccountIdempotent,
  execute,
  memoInstruction,
  mintToChecked,
  readTokenAccount,
  transferChecked,
} from '../src/chain/token';
import { startTestApi, type TestApi } from './support/api';
import { EPOCH_START, instant, registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Issue 14, items 2, 3 and 4, and verification of liabilities: one token, one balance (a purchase delivered on chain
 * never stays spendable in the books); the stake vault pays back only what it received; the treasury's pools and
 * ordered transfers are reserved before anything else is ordered, and a settlement starts only when it is funded.
 * Each fault is injected for real (transfers signed by the treasury key, or events the engine of old recorded).
 */

const SYNQ = 1_000_000n;

type Run = { runId: string; discrepancyCount: number; discrepancies: Discrepancy[]; byType: Record<string, number> };

function helpers(api: () => TestApi, setup: () => { mint: string; treasuryAccount: string; stakeVault: string }) {
  const mint = () => new PublicKey(setup().mint);
  return {
    balance: async (address: PublicKey) => readTokenAccount(address, await api().engine.chain.getAccount(address))?.amount ?? 0n,
    ata: (owner: PublicKey) => associatedTokenAddress(owner, mint()),
    openEpoch: async (epoch: number, rewardPool = '1000') => {
      const start = EPOCH_START + (epoch - 1) * 3600;
      const opened = await api().call('POST', '/epochs', api().keys.operator, { epoch, start: instant(start), end: instant(start + 3600), rewardPool });
      expect(opened.status).toBe(201);
    },
    verify: async (): Promise<Run> => {
      const run = await awaitJob(api(), api().call('POST', '/verification/runs', api().keys.operator));
      expect(run.status).toBe(200);
      return run.body as Run;
    },
    resume: async () => {
      await api().call('POST', '/settlement/resume', api().keys.operator, { reason: 'fault injected by the test, acknowledged' });
    },
  };
}

describe('one token, one balance; the stake vault pays only what it received', () => {
  let api: TestApi;
  let setup: { mint: string; treasuryAccount: string; stakeVault: string };
  let booksStaker: TestSynqer;
  let chainStaker: TestSynqer;
  const developerWallet = Keypair.generate();
  const h = helpers(
    () => api,
    () => setup,
  );

  /** The synqer buys `amount` as a developer would, and stakes it into the vault on chain; returns the deposit's signature. */
  async function stakeOnChain(synqer: TestSynqer, developerId: string, amount: bigint): Promise<string> {
    const bought = await api.call('POST', `/developers/${developerId}/purchases`, api.keys.operator, {
      purchaseId: `stake-${amount}-${Date.now()}`,
      amount: amount.toString(),
      paymentReference: 'x',
    });
    expect(bought.body.chainTransfer.status).toBe('confirmed');
    const mint = new PublicKey(setup.mint);
    const signature = await execute(
      api.engine.chain,
      [
        transferChecked(h.ata(synqer.wallet.publicKey), mint, new PublicKey(setup.stakeVault), synqer.wallet.publicKey, amount),
        memoInstruction(`synq:stake:${synqer.synqerId}`, synqer.wallet.publicKey),
      ],
      [synqer.wallet],
      'stake',
    );
    expect((await api.call('POST', `/synqers/${synqer.synqerId}/stake/deposits/onchain`, api.keys.operator, { signature })).status).toBe(201);
    return signature;
  }

  beforeAll(async () => {
    api = await startTestApi();
    [booksStaker, chainStaker] = await registerSynqers(api, 2);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, {})).body;
    await api.engine.chain.requestAirdrop(developerWallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    await api.engine.chain.requestAirdrop(chainStaker.wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'dev1', wallet: developerWallet.publicKey.toBase58() })).status).toBe(201);
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'staker', wallet: chainStaker.wallet.publicKey.toBase58() })).status).toBe(
      201,
    );
    // The demo's genesis stake: recorded in the books only, while web2 is in force.
    expect(
      (await api.call('POST', `/synqers/${booksStaker.synqerId}/stake/deposits`, api.keys.operator, { depositId: 'genesis', amount: (10n * SYNQ).toString() }))
        .status,
    ).toBe(201);
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2' });
    await h.openEpoch(1);
  });
  afterAll(async () => {
    await api.close();
  });

  it('item 2: a purchase delivered on chain never stays spendable in the books, so 10 SYNQ buy 10,000 credits, not 20,000', async () => {
    const bought = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, {
      purchaseId: 'p1',
      amount: (10n * SYNQ).toString(),
      paymentReference: 'wire 1',
    });
    expect(bought.status).toBe(201);
    expect(bought.body).toMatchObject({ tokenBalance: '0', chainTransfer: { orderId: 'purchase_delivery.dev1.p1', status: 'confirmed' } });
    expect(await h.balance(h.ata(developerWallet.publicKey))).toBe(10n * SYNQ);

    const mint = new PublicKey(setup.mint);
    const burn = await execute(
      api.engine.chain,
      [burnChecked(h.ata(developerWallet.publicKey), mint, developerWallet.publicKey, 10n * SYNQ)],
      [developerWallet],
      'burn',
    );
    expect((await api.call('POST', '/developers/dev1/burns/onchain', api.keys.operator, { signature: burn })).body).toMatchObject({ credits: '10000' });
    // The same tokens burnt again in the books: there is nothing there to burn.
    const again = await api.call('POST', '/developers/dev1/burns', api.keys.operator, { burnId: 'b1', amount: (10n * SYNQ).toString() });
    expect(again.status).toBe(409);
    expect(again.body.problems).toEqual([expect.objectContaining({ field: 'amount' })]);
    expect((await api.call('GET', '/developers/dev1', api.keys.operator)).body).toMatchObject({ tokenBalance: '0', credits: '10000' });
    // A retry of the purchase answers the same, and delivers nothing more.
    const retried = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, {
      purchaseId: 'p1',
      amount: (10n * SYNQ).toString(),
      paymentReference: 'wire 1',
    });
    expect(retried.body.chainTransfer).toEqual(bought.body.chainTransfer);
    expect((await h.verify()).discrepancies).toEqual([]);
  });

  it("item 3: a books-only stake is settled in the books and never leaves the vault, whose tokens back another synqer's on-chain stake", async () => {
    await stakeOnChain(chainStaker, 'staker', 10n * SYNQ);
    const vault = new PublicKey(setup.stakeVault);
    expect(await h.balance(vault)).toBe(10n * SYNQ);
    for (const synqer of [booksStaker, chainStaker]) {
      const asked = await api.call('POST', `/synqers/${synqer.synqerId}/stake/unstake-requests`, api.keys.operator, {
        requestId: 'u1',
        amount: (10n * SYNQ).toString(),
      });
      expect(asked.status).toBe(201);
    }
    await h.openEpoch(2);
    await h.openEpoch(3);

    const books = await api.call('POST', `/synqers/${booksStaker.synqerId}/stake/withdrawals`, api.keys.operator, { requestId: 'u1' });
    expect(books.status).toBe(201);
    expect(books.body).toMatchObject({ held: '0', chainTransfer: null });
    expect(await h.balance(vault)).toBe(10n * SYNQ);
    expect(await h.balance(h.ata(booksStaker.wallet.publicKey))).toBe(0n);

    const backed = await api.call('POST', `/synqers/${chainStaker.synqerId}/stake/withdrawals`, api.keys.operator, { requestId: 'u1' });
    expect(backed.status).toBe(201);
    expect(backed.body.chainTransfer).toMatchObject({ orderId: `stake_withdrawal.${chainStaker.synqerId}.u1`, status: 'confirmed' });
    expect(await h.balance(vault)).toBe(0n);
    expect(await h.balance(h.ata(chainStaker.wallet.publicKey))).toBe(10n * SYNQ);
    // A retry returns the original answer.
    const retried = await api.call('POST', `/synqers/${chainStaker.synqerId}/stake/withdrawals`, api.keys.operator, { requestId: 'u1' });
    expect(retried).toMatchObject({ status: 201, body: { chainTransfer: backed.body.chainTransfer } });
    expect((await h.verify()).discrepancies).toEqual([]);
  });

  it('finds a purchase delivered on chain that still counts in the books (delivered_purchase_in_books)', async () => {
    // What the engine of old recorded in hybrid: the purchase in the books, and its delivery ordered and sent.
    const stream = 'developer-dev1';
    await api.engine.eventStore.append(
      stream,
      toEnvelopes(stream, [{ type: 'TokensPurchased', data: { purchaseId: 'old', amount: (2n * SYNQ).toString(), paymentReference: 'old engine' } }], {
        actor: 'old-engine',
        correlationId: 'c',
        commandId: 'old-purchase',
      }),
    );
    const order = {
      orderId: 'purchase_delivery.dev1.old',
      kind: 'purchase_delivery',
      source: 'treasury',
      recipientWallet: developerWallet.publicKey.toBase58(),
      toTreasury: false,
      amount: (2n * SYNQ).toString(),
      reference: 'dev1/old',
    };
    const transfer = 'chaintransfer-purchase_delivery.dev1.old';
    await api.engine.eventStore.append(
      transfer,
      toEnvelopes(transfer, [{ type: 'ChainTransferOrdered', data: order }], { actor: 'old-engine', correlationId: 'c', commandId: 'old-order' }),
    );
    expect((await api.call('POST', '/chain/transfers/execute', api.keys.operator)).status).toBe(200);
    const run = await h.verify();
    expect(run.discrepancies).toEqual([
      expect.objectContaining({ type: 'delivered_purchase_in_books', account: developerWallet.publicKey.toBase58(), actual: (2n * SYNQ).toString() }),
    ]);
    await h.resume();
  });

  it('finds backed stake withdrawn with no transfer ordered to pay it (stake_withdrawal_not_ordered), and the vault owing it', async () => {
    await stakeOnChain(chainStaker, 'staker', 3n * SYNQ);
    expect(
      (
        await api.call('POST', `/synqers/${chainStaker.synqerId}/stake/unstake-requests`, api.keys.operator, {
          requestId: 'u2',
          amount: (3n * SYNQ).toString(),
        })
      ).status,
    ).toBe(201);
    // What a crash between StakeWithdrawn and ChainTransferOrdered left behind on the engine of old.
    const stream = `stake-${chainStaker.synqerId}`;
    await api.engine.eventStore.append(
      stream,
      toEnvelopes(stream, [{ type: 'StakeWithdrawn', data: { synqerId: chainStaker.synqerId, requestId: 'u2', amount: (3n * SYNQ).toString() } }], {
        actor: 'old-engine',
        correlationId: 'c',
        commandId: 'old-withdrawal',
      }),
    );
    const run = await h.verify();
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'stake_withdrawal_not_ordered', expected: (3n * SYNQ).toString(), actual: '0' }),
        expect.objectContaining({ type: 'stake_vault_backing_mismatch', account: setup.stakeVault, expected: '0', actual: (3n * SYNQ).toString() }),
      ]),
    );
    await h.resume();
  });
});

describe('the treasury is reserved for its pools and orders before anything else leaves it', () => {
  let api: TestApi;
  let setup: { mint: string; treasuryAccount: string; stakeVault: string };
  let synqers: TestSynqer[];
  let treasuryKey: Keypair;
  const developerWallet = Keypair.generate();
  const h = helpers(
    () => api,
    () => setup,
  );

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 4);
    // 100 SYNQ in the treasury on chain, minted at chain init.
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: (1000n * SYNQ).toString(), reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, { supply: (100n * SYNQ).toString() })).body;
    treasuryKey = await loadTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir });
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'dev1', wallet: developerWallet.publicKey.toBase58() })).status).toBe(201);
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'dev2', wallet: developerWallet.publicKey.toBase58() })).status).toBe(201);
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2' });
  });
  afterAll(async () => {
    await api.close();
  });

  it("item 4: a purchase delivery may not take tokens allocated to a closed epoch's pool (409 naming the shortfall), and the settlement pays in full", async () => {
    await runAndCloseEpoch(api, 1, (90n * SYNQ).toString(), synqers);
    // 10 SYNQ are free: of two developers' purchases of 10 asked at once, one is delivered and the other refused.
    const both = await Promise.all(
      ['dev1', 'dev2'].map((developerId) =>
        api.call('POST', `/developers/${developerId}/purchases`, api.keys.operator, {
          purchaseId: 'p1',
          amount: (10n * SYNQ).toString(),
          paymentReference: 'wire',
        }),
      ),
    );
    expect(both.map((answer) => answer.status).sort()).toEqual([201, 409]);
    expect(both.find((answer) => answer.status === 201)!.body).toMatchObject({ chainTransfer: { status: 'confirmed' } });
    const refused = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, {
      purchaseId: 'p2',
      amount: (20n * SYNQ).toString(),
      paymentReference: 'wire 2',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.problems).toEqual([{ field: 'amount', reason: expect.stringContaining(`${20n * SYNQ} short`) }]);
    expect(await h.balance(h.ata(developerWallet.publicKey))).toBe(10n * SYNQ);
    // Nothing of a refused purchase is recorded: asking again once the treasury has room is a new decision.
    expect((await api.call('GET', '/developers/dev1', api.keys.operator)).body).toMatchObject({ tokenBalance: '0' });

    const settled = await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator));
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ status: 'settled', verification: { discrepancyCount: 0 } });
    expect(await h.balance(new PublicKey(setup.treasuryAccount))).toBe(0n);
  });

  it('refuses to start a settlement its treasury cannot fund (409 naming the shortfall, nothing sent), and verification finds the treasury below what it owes', async () => {
    // 50 SYNQ more into the treasury on chain, from the mint authority (the treasury key).
    const mint = new PublicKey(setup.mint);
    await execute(api.engine.chain, [mintToChecked(mint, new PublicKey(setup.treasuryAccount), treasuryKey.publicKey, 50n * SYNQ)], [treasuryKey], 'top up');
    await runAndCloseEpoch(api, 2, (40n * SYNQ).toString(), synqers);
    // A rogue transfer leaves 30 SYNQ in the treasury, which owes the 40 SYNQ of epoch 2's pool.
    const thief = Keypair.generate();
    await execute(
      api.engine.chain,
      [
        createAssociatedAccountIdempotent(treasuryKey.publicKey, thief.publicKey, mint),
        transferChecked(new PublicKey(setup.treasuryAccount), mint, h.ata(thief.publicKey), treasuryKey.publicKey, 20n * SYNQ),
      ],
      [treasuryKey],
      'rogue transfer',
    );
    const run = await h.verify();
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'treasury_below_reserved',
          account: setup.treasuryAccount,
          expected: (40n * SYNQ).toString(),
          actual: (30n * SYNQ).toString(),
        }),
      ]),
    );
    await h.resume();
    const refused = await awaitJob(api, api.call('POST', '/epochs/2/settlement', api.keys.operator));
    expect(refused.status).toBe(409);
    expect(refused.body.problems).toEqual([{ field: 'treasury', reason: expect.stringContaining(`${10n * SYNQ} short`) }]);
    expect(await h.balance(new PublicKey(setup.treasuryAccount))).toBe(30n * SYNQ);
    const signed: string[] = [];
    for await (const event of api.engine.eventStore.readStream('payout-2')) signed.push(event.type);
    expect(signed).not.toContain('SettlementTransactionSigned');
  });
});
