import { PublicKey } from '@solana/web3.js';
import { Keypair } from '@solana/web3.js';
import { anchorMemo, payoutMemo } from '../domain/epoch-payout';
import { decodeMerkleDistributor } from '../domain/jito-distributor';
import { distributorAddress, distributorVault, JITO_DISTRIBUTOR_PROGRAM_ID, newDistributorInstruction } from '../src/chain/jito-distributor';
import { MEMO_PROGRAM_ID, signTransaction, TOKEN_PROGRAM_ID } from '../src/chain/token';
import { associatedTokenAddress, readTokenAccount } from '../src/chain/token';
import { startTestApi, type TestApi } from './support/api';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { expectMoneyInvariants } from './support/money-invariants';
import { awaitJob } from './support/jobs';

describe('settlement modes and hybrid payouts on the embedded chain', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string; treasuryAuthority: string };

  const balanceOf = async (owner: PublicKey) => {
    const address = associatedTokenAddress(owner, new PublicKey(setup.mint));
    return readTokenAccount(address, await api.engine.chain.getAccount(address))?.amount ?? 0n;
  };
  const treasuryBalance = async () =>
    readTokenAccount(new PublicKey(setup.treasuryAccount), await api.engine.chain.getAccount(new PublicKey(setup.treasuryAccount)))!.amount;
  const owedIn = async (epoch: number, synqer: TestSynqer) => {
    const claim = await api.call('GET', `/epochs/${epoch}/distribution/${synqer.wallet.publicKey.toBase58()}`, api.keys.auditor);
    return claim.status === 200 ? BigInt(claim.body.amount) : 0n;
  };

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 30);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  it('refuses an on-chain mode before the chain is set up, and sets the chain up once', async () => {
    const refused = await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2' });
    expect(refused).toMatchObject({ status: 409, body: { problems: [{ field: 'mode', reason: expect.stringContaining('chain is not set up') }] } });
    const bad = await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'sideways' });
    expect(bad).toMatchObject({ status: 422, body: { problems: [{ field: 'reason' }, { field: 'mode', reason: 'must be one of web2, hybrid, web3' }] } });

    const init = await api.call('POST', '/chain/init', api.keys.operator, { supply: '1000000000000000' });
    expect(init).toMatchObject({ status: 201, body: { created: true, decimals: 6, treasuryOpeningBalance: '1000000000000000' } });
    setup = init.body;
    const again = await api.call('POST', '/chain/init', api.keys.operator, {});
    expect(again.body).toMatchObject({ created: false, mint: setup.mint });
    const status = await api.call('GET', '/chain', api.keys.auditor);
    expect(status.body.balances).toMatchObject({ treasury: '1000000000000000', mintSupply: '1000000000000000', stakeVault: '0' });
    expect(JSON.stringify(status.body)).not.toMatch(/secret/i);
  });

  it('settles a hybrid epoch end to end: every leaf paid once from the treasury, memos naming the batch and root, cost recorded', async () => {
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2 starts' })).body).toMatchObject({
      nextEpoch: 1,
      modeOfNextEpoch: 'hybrid',
    });
    const closed = await runAndCloseEpoch(api, 1, '3000000000', synqers);
    const treasuryBefore = await treasuryBalance();

    const settled = await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator));
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({
      epoch: 1,
      mode: 'hybrid',
      status: 'settled',
      total: closed.settlement.paid,
      leafCount: 30,
      root: closed.settlement.distribution.root,
    });
    const { transactions, cost, batches } = settled.body;
    expect(transactions.planned).toBeGreaterThan(1);
    expect(transactions.confirmed).toBe(transactions.planned);
    expect(BigInt(cost.feeLamports)).toBe(5000n * BigInt(transactions.planned));
    expect(BigInt(cost.rentLamports)).toBe(30n * (await api.engine.chain.minimumBalanceForRentExemption(165)));

    for (const synqer of synqers) expect(await balanceOf(synqer.wallet.publicKey)).toBe(await owedIn(1, synqer));
    expect(await treasuryBalance()).toBe(treasuryBefore - BigInt(closed.settlement.paid));
    const first = await api.engine.chain.getTransaction(batches[0].signature);
    expect(first?.instructions.at(-1)?.data.toString()).toBe(payoutMemo(1, 0, closed.settlement.distribution.root));

    // Asking again pays nothing more.
    const again = await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator));
    expect(again.body.batches).toEqual(batches);
    expect(await treasuryBalance()).toBe(treasuryBefore - BigInt(closed.settlement.paid));
  });

  it('falls back to web2 at an epoch boundary and back to hybrid, the chain moving only for hybrid epochs', async () => {
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web2', reason: 'rollback drill' })).body.modeOfNextEpoch).toBe('web2');
    await runAndCloseEpoch(api, 2, '1000000000', synqers);
    const treasury = await treasuryBalance();
    const web2 = await awaitJob(api, api.call('POST', '/epochs/2/settlement', api.keys.operator));
    expect(web2.body).toMatchObject({ mode: 'web2', status: 'settled', transactions: { planned: 0 }, cost: { totalLamports: '0' } });
    expect(await treasuryBalance()).toBe(treasury);

    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'drill over' })).body.modeOfNextEpoch).toBe('hybrid');
    await runAndCloseEpoch(api, 3, '2000000000', synqers);
    const hybrid = await awaitJob(api, api.call('POST', '/epochs/3/settlement', api.keys.operator));
    expect(hybrid.body).toMatchObject({ mode: 'hybrid', status: 'settled' });
    // Accounts exist since epoch 1: no rent this time.
    expect(hybrid.body.cost.rentLamports).toBe('0');
    for (const synqer of synqers) expect(await balanceOf(synqer.wallet.publicKey)).toBe((await owedIn(1, synqer)) + (await owedIn(3, synqer)));
    const modes = (await api.call('GET', '/settlement', api.keys.auditor)).body.modes;
    expect(modes).toEqual([
      { mode: 'hybrid', effectiveFromEpoch: 1 },
      { mode: 'web2', effectiveFromEpoch: 2 },
      { mode: 'hybrid', effectiveFromEpoch: 3 },
    ]);
  });

  it('settles a web3 epoch into its own Jito merkle distributor: created and funded with exactly the total in one transaction, once', async () => {
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'phase 3' })).body.modeOfNextEpoch).toBe('web3');
    const closed = await runAndCloseEpoch(api, 4, '4000000000', synqers);
    const treasury = await treasuryBalance();
    const before = await api.engine.chain.unixTimestamp();
    const settled = await awaitJob(api, api.call('POST', '/epochs/4/settlement', api.keys.operator));
    const mint = new PublicKey(setup.mint);
    const distributor = distributorAddress(mint, 4n);
    const vault = distributorVault(distributor, mint);
    expect(settled.body).toMatchObject({
      mode: 'web3',
      status: 'settled',
      distributor: distributor.toBase58(),
      vault: vault.toBase58(),
      funded: true,
      transactions: { planned: 1, confirmed: 1 },
      batches: [{ kind: 'distributor', status: 'confirmed' }],
    });
    const total = BigInt(closed.settlement.paid);
    expect(await treasuryBalance()).toBe(treasury - total);
    expect(readTokenAccount(vault, await api.engine.chain.getAccount(vault))).toMatchObject({ amount: total, owner: distributor });

    const account = decodeMerkleDistributor((await api.engine.chain.getAccount(distributor))!.data)!;
    expect(account).toMatchObject({
      version: 4n,
      maxTotalClaim: total,
      maxNumNodes: BigInt(closed.settlement.distribution.leafCount),
      totalAmountClaimed: 0n,
      admin: setup.treasuryAuthority,
      clawbackReceiver: setup.treasuryAccount,
      clawedBack: false,
    });
    expect(account.root.toString('hex')).toBe(closed.settlement.distribution.root);
    // The deadline is the policy's claim window (30 days by default) after the chain clock at signing.
    const deadline = BigInt(settled.body.claimDeadline.unixTimestamp);
    expect(account.clawbackStartTs).toBe(deadline);
    expect(deadline - before).toBeGreaterThanOrEqual(30n * 86_400n);
    expect(deadline - before).toBeLessThan(30n * 86_400n + 3_600n);

    // The transaction: the program's new_distributor, the funding transfer and the root's memo, signed by the authority.
    const landed = await api.engine.chain.getTransaction(settled.body.batches[0].signature);
    expect(landed?.signers).toEqual([setup.treasuryAuthority]);
    expect(landed?.instructions.map((i) => i.programId)).toEqual([
      JITO_DISTRIBUTOR_PROGRAM_ID.toBase58(),
      TOKEN_PROGRAM_ID.toBase58(),
      MEMO_PROGRAM_ID.toBase58(),
    ]);
    expect(landed?.instructions[2].data.toString()).toBe(
      anchorMemo({ epoch: 4, root: closed.settlement.distribution.root, total: closed.settlement.paid, leafCount: closed.settlement.distribution.leafCount }),
    );
    // The rent recorded is what the distributor and its vault hold.
    const rent = (await api.engine.chain.getAccount(distributor))!.lamports + (await api.engine.chain.getAccount(vault))!.lamports;
    expect(settled.body.cost.rentLamports).toBe(rent.toString());

    // Again: nothing more is created or moved.
    const again = await awaitJob(api, api.call('POST', '/epochs/4/settlement', api.keys.operator));
    expect(again.body).toMatchObject({ status: 'settled', batches: [{ signature: settled.body.batches[0].signature }] });
    expect(await treasuryBalance()).toBe(treasury - total);
    const shown = await api.call('GET', '/epochs/4/settlement', api.keys.auditor);
    expect(shown.body).toMatchObject({ distributor: distributor.toBase58(), vault: vault.toBase58(), funded: true });
    const run = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator));
    expect(run.body).toMatchObject({ discrepancyCount: 0, checked: { anchors: 1 } });
  });

  it('refuses to settle a web3 epoch whose distributor address someone else took first, sending nothing', async () => {
    const closed = await runAndCloseEpoch(api, 5, '1000000000', synqers);
    expect(closed.settlement.distribution.leafCount).toBeGreaterThan(0);
    // Anyone can create a distributor for any mint and version: a squatter takes epoch 5's address with its own root.
    const squatter = Keypair.generate();
    await api.engine.chain.requestAirdrop(squatter.publicKey, 1_000_000_000n);
    const mint = new PublicKey(setup.mint);
    const now = await api.engine.chain.unixTimestamp();
    const { blockhash } = await api.engine.chain.latestBlockhash();
    const wire = signTransaction(
      [
        newDistributorInstruction(
          { mint, admin: squatter.publicKey, clawbackReceiver: new PublicKey(setup.treasuryAccount) },
          {
            version: 5n,
            root: Buffer.alloc(32, 7),
            maxTotalClaim: 1n,
            maxNumNodes: 1n,
            startVestingTs: now + 100n,
            endVestingTs: now + 200n,
            clawbackStartTs: now + 200n + 86_400n,
          },
        ),
      ],
      [squatter],
      blockhash,
    );
    await api.engine.chain.sendTransaction(wire);
    const treasury = await treasuryBalance();
    const refused = await awaitJob(api, api.call('POST', '/epochs/5/settlement', api.keys.operator));
    expect(refused).toMatchObject({
      status: 409,
      body: { problems: [{ field: 'distributor', reason: expect.stringContaining(squatter.publicKey.toBase58()) }] },
    });
    expect(await treasuryBalance()).toBe(treasury);
    const shown = await api.call('GET', '/epochs/5/settlement', api.keys.auditor);
    expect(shown.body).toMatchObject({ status: 'in_progress', funded: false, transactions: { unsigned: 1, confirmed: 0 } });
  });
});
