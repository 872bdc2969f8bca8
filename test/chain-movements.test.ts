import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import type { Discrepancy } from '../domain/chain-verification';
import { toEnvelopes } from '../src/commands/streams';
import { associatedTokenAddress, burnChecked, execute, memoInstruction, readTokenAccount, transferChecked } from '../src/chain/token';
import { startTestApi, type TestApi } from './support/api';
import { EPOCH_START, instant, registerSynqers, type TestSynqer } from './support/network';
import { expectMoneyInvariants } from './support/money-invariants';
import { awaitJob } from './support/jobs';

const SYNQ = 1_000_000n;

describe('hybrid token movements (purchases, stake withdrawals, slashes) and proven credits, verified against the chain', () => {
  let api: TestApi;
  let setup: { mint: string; treasuryAccount: string; stakeVault: string };
  let synqer: TestSynqer;
  const developerWallet = Keypair.generate();

  const balance = async (address: PublicKey) => readTokenAccount(address, await api.engine.chain.getAccount(address))?.amount ?? 0n;
  const ata = (owner: PublicKey) => associatedTokenAddress(owner, new PublicKey(setup.mint));
  const openEpoch = async (epoch: number) => {
    const start = EPOCH_START + (epoch - 1) * 3600;
    expect(
      (await api.call('POST', '/epochs', api.keys.operator, { epoch, start: instant(start), end: instant(start + 3600), rewardPool: '1000' })).status,
    ).toBe(201);
  };
  const verify = async () =>
    (await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator))).body as {
      discrepancyCount: number;
      discrepancies: Discrepancy[];
      checked: Record<string, number>;
    };

  beforeAll(async () => {
    api = await startTestApi();
    [synqer] = await registerSynqers(api, 1);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, {})).body;
    await api.engine.chain.requestAirdrop(developerWallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    await api.engine.chain.requestAirdrop(synqer.wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'dev1', wallet: developerWallet.publicKey.toBase58() })).status).toBe(201);
    // The synqer buys its stake as a developer would.
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'staker', wallet: synqer.wallet.publicKey.toBase58() })).status).toBe(201);
  });
  afterAll(async () => {
    // The last tests forge a burn credit (no claim, not on chain): exactly those faults.
    await expectMoneyInvariants(api, { expected: ['I1', 'I5'] });
    await api.close();
  });

  it('keeps purchases in the books while web2 is in force', async () => {
    const bought = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, { purchaseId: 'p0', amount: '1000000', paymentReference: 'card' });
    expect(bought.body).toMatchObject({ tokenBalance: '1000000', chainTransfer: null });
    expect(await balance(ata(developerWallet.publicKey))).toBe(0n);
  });

  it('delivers a purchase from the treasury on chain once hybrid is in force, exactly once however often it is asked', async () => {
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2' });
    await openEpoch(1);
    const treasury = await balance(new PublicKey(setup.treasuryAccount));
    const request = { purchaseId: 'p1', amount: (7n * SYNQ).toString(), paymentReference: 'wire 42' };
    const first = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, request);
    expect(first.body.chainTransfer).toMatchObject({ orderId: 'purchase_delivery.dev1.p1', status: 'confirmed', signature: expect.any(String) });
    const again = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, request);
    expect(again.body.chainTransfer).toEqual(first.body.chainTransfer);
    expect(await balance(ata(developerWallet.publicKey))).toBe(7n * SYNQ);
    expect(await balance(new PublicKey(setup.treasuryAccount))).toBe(treasury - 7n * SYNQ);
    const landed = await api.engine.chain.getTransaction(first.body.chainTransfer.signature);
    expect(landed?.instructions.at(-1)?.data.toString()).toBe('synq:v1:purchase_delivery=purchase_delivery.dev1.p1');
  });

  it('credits an on-chain burn and stake deposit, withdraws and slashes stake through the vault, and verification finds the chain as the books imply', async () => {
    const mint = new PublicKey(setup.mint);
    // Burn 2 SYNQ for credits.
    const burn = await execute(
      api.engine.chain,
      [burnChecked(ata(developerWallet.publicKey), mint, developerWallet.publicKey, 2n * SYNQ)],
      [developerWallet],
      'burn',
    );
    expect((await api.call('POST', '/developers/dev1/burns/onchain', api.keys.operator, { signature: burn })).body).toMatchObject({ credits: '2000' });

    // The synqer buys 10 SYNQ, stakes them on chain, asks 4 back, and is slashed 3.
    expect(
      (
        await api.call('POST', '/developers/staker/purchases', api.keys.operator, {
          purchaseId: 'stake-money',
          amount: (10n * SYNQ).toString(),
          paymentReference: 'x',
        })
      ).body.chainTransfer.status,
    ).toBe('confirmed');
    const deposit = await execute(
      api.engine.chain,
      [
        transferChecked(ata(synqer.wallet.publicKey), mint, new PublicKey(setup.stakeVault), synqer.wallet.publicKey, 10n * SYNQ),
        memoInstruction(`synq:stake:${synqer.synqerId}`, synqer.wallet.publicKey),
      ],
      [synqer.wallet],
      'stake',
    );
    expect((await api.call('POST', `/synqers/${synqer.synqerId}/stake/deposits/onchain`, api.keys.operator, { signature: deposit })).body).toMatchObject({
      active: '10000000',
    });
    expect(
      (await api.call('POST', `/synqers/${synqer.synqerId}/stake/unstake-requests`, api.keys.operator, { requestId: 'u1', amount: (4n * SYNQ).toString() }))
        .status,
    ).toBe(201);
    await openEpoch(2);
    await openEpoch(3);
    const withdrawn = await api.call('POST', `/synqers/${synqer.synqerId}/stake/withdrawals`, api.keys.operator, { requestId: 'u1' });
    expect(withdrawn.body.chainTransfer).toMatchObject({ orderId: `stake_withdrawal.${synqer.synqerId}.u1`, status: 'confirmed' });
    expect(await balance(ata(synqer.wallet.publicKey))).toBe(4n * SYNQ);
    const treasury = await balance(new PublicKey(setup.treasuryAccount));
    const slashed = await api.call('POST', `/synqers/${synqer.synqerId}/stake/slashes`, api.keys.operator, {
      slashId: 'x1',
      amount: (3n * SYNQ).toString(),
      reason: 'fake reports',
    });
    expect(slashed.body.chainTransfer).toMatchObject({ status: 'confirmed' });
    expect(await balance(new PublicKey(setup.stakeVault))).toBe(3n * SYNQ);
    expect(await balance(new PublicKey(setup.treasuryAccount))).toBe(treasury + 3n * SYNQ);

    const listed = (await api.call('GET', '/chain/transfers', api.keys.auditor)).body.transfers;
    expect(listed.map((t: { kind: string; status: string }) => `${t.kind}:${t.status}`).sort()).toEqual([
      'purchase_delivery:confirmed',
      'purchase_delivery:confirmed',
      'slash:confirmed',
      'stake_withdrawal:confirmed',
    ]);
    const run = await verify();
    expect(run).toMatchObject({ discrepancyCount: 0, checked: { credits: 2, transfers: 4 } });
  });

  it('finds a burn credited that is not on chain', async () => {
    const forged = '4Nd1mYbXhBXe1L9bsm1Fhk4ZaFSCfq8ewXLB5a3t2pjF5xR1TwUTzEZBhHXtqA5VP6nVh7zBHbbJ6E2aFk6vP3Td';
    const stream = 'developer-dev1';
    await api.engine.eventStore.append(
      stream,
      toEnvelopes(
        stream,
        [
          {
            type: 'OnChainBurnCredited',
            data: { signature: forged, amount: '1000000', creditsPerToken: '1000', credits: '1000', tokenAccount: ata(developerWallet.publicKey).toBase58() },
          },
        ],
        { actor: 'faulty', correlationId: 'c', commandId: 'forged' },
      ),
    );
    const run = await verify();
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'burn_not_on_chain', signature: forged, expected: '1000000', actual: null }),
        expect.objectContaining({ type: 'mint_supply_mismatch', account: setup.mint }),
      ]),
    );
  });

  it('keeps a purchase ordered but unsent while settlement is paused, and delivers it once an operator resumes', async () => {
    expect((await api.call('GET', '/settlement', api.keys.operator)).body.paused).not.toBeNull();
    const bought = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, {
      purchaseId: 'p-paused',
      amount: (3n * SYNQ).toString(),
      paymentReference: 'wire 43',
    });
    expect(bought.status).toBe(201);
    expect(bought.body.chainTransfer).toEqual({ orderId: 'purchase_delivery.dev1.p-paused', status: 'unsigned', signature: null });
    const before = await balance(ata(developerWallet.publicKey));
    expect((await api.call('POST', '/settlement/resume', api.keys.operator, { reason: 'forged credit investigated' })).status).toBe(200);
    const executed = await api.call('POST', '/chain/transfers/execute', api.keys.operator);
    expect(executed.body.transfers.find((t: { orderId: string }) => t.orderId === 'purchase_delivery.dev1.p-paused')).toMatchObject({ status: 'confirmed' });
    expect(await balance(ata(developerWallet.publicKey))).toBe(before + 3n * SYNQ);
  });
});
