import { PublicKey } from '@solana/web3.js';
import { decodeMerkleDistributor } from '../domain/jito-distributor';
import { GENESIS_POLICY } from '../domain/policy';
import type { ChainGateway } from '../src/chain/chain-gateway';
import { distributorAddress, distributorVault, newClaimInstruction } from '../src/chain/jito-distributor';
import { createAssociatedAccountIdempotent, readTokenAccount, signTransaction } from '../src/chain/token';
import { treasuryKeyLoader } from '../src/chain/treasury-key';
import { createClawback } from '../src/clawback/clawback';
import type { EventStore } from '../src/event-store/event-store';
import { ProjectionReader } from '../src/projections/projection-reader';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/** The real Jito program in litesvm: listing unclaimed leaves, the clawback after the deadline, and the unclaimed-rewards policy. */
describe('unclaimed rewards and the clawback (web3)', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string; treasuryAuthority: string };

  const mint = () => new PublicKey(setup.mint);
  const tokens = async (address: PublicKey) => readTokenAccount(address, await api.engine.chain.getAccount(address))?.amount ?? 0n;
  const treasury = () => tokens(new PublicKey(setup.treasuryAccount));
  const events = async (stream: string) => {
    const found: { type: string; data: Record<string, unknown> }[] = [];
    for await (const event of api.engine.eventStore.readStream(stream)) found.push({ type: event.type, data: event.data as Record<string, unknown> });
    return found;
  };
  /** The synqer claims its leaf itself: its wallet signs and pays (SOL airdropped), its token account created in the same transaction. */
  const claim = async (epoch: number, synqer: TestSynqer) => {
    const wallet = synqer.wallet.publicKey;
    const leaf = await api.call('GET', `/epochs/${epoch}/distribution/${wallet.toBase58()}`, api.keys.auditor);
    expect(leaf.status).toBe(200);
    await api.engine.chain.requestAirdrop(wallet, 100_000_000n);
    const distributor = distributorAddress(mint(), BigInt(epoch));
    const { blockhash, lastValidBlockHeight } = await api.engine.chain.latestBlockhash();
    const wire = signTransaction(
      [
        createAssociatedAccountIdempotent(wallet, wallet, mint()),
        newClaimInstruction(
          { distributor, mint: mint(), claimant: wallet },
          BigInt(leaf.body.amount),
          0n,
          (leaf.body.proof as string[]).map((node) => Buffer.from(node, 'hex')),
        ),
      ],
      [synqer.wallet],
      blockhash,
    );
    const signature = await api.engine.chain.sendTransaction(wire);
    return { amount: BigInt(leaf.body.amount), confirmation: await api.engine.chain.confirmTransaction(signature, lastValidBlockHeight) };
  };
  const advancePast = async (epoch: number) => {
    const listed = await api.call('GET', `/epochs/${epoch}/unclaimed`, api.keys.operator);
    const moved = await api.call('POST', '/chain/clock', api.keys.operator, { advanceSeconds: listed.body.secondsLeft + 1 });
    expect(moved.status).toBe(200);
    expect(moved.body.unixTimestamp).toBeGreaterThan(listed.body.deadline.unixTimestamp);
  };

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 6);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    const init = await api.call('POST', '/chain/init', api.keys.operator, { supply: '1000000000000000' });
    setup = init.body;
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'claims' })).status).toBe(200);
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  it('moves the embedded chain clock for operators only, forward by 1 s to ten years', async () => {
    const before = await api.engine.chain.unixTimestamp();
    for (const body of [
      undefined,
      {},
      { advanceSeconds: 0 },
      { advanceSeconds: -5 },
      { advanceSeconds: 1.5 },
      { advanceSeconds: '60' },
      { advanceSeconds: 315_360_001 },
    ]) {
      const refused = await api.call('POST', '/chain/clock', api.keys.operator, body);
      expect({ body, status: refused.status, problems: refused.body.problems }).toEqual({
        body,
        status: 422,
        problems: [{ field: 'advanceSeconds', reason: 'must be a whole number from 1 to 315360000' }],
      });
    }
    expect((await api.call('POST', '/chain/clock', api.keys.auditor, { advanceSeconds: 60 })).status).toBe(403);
    expect((await api.call('POST', '/chain/clock', undefined, { advanceSeconds: 60 })).status).toBe(401);
    expect(await api.engine.chain.unixTimestamp()).toBeLessThan(before + 60n);
    const moved = await api.call('POST', '/chain/clock', api.keys.operator, { advanceSeconds: 60 });
    expect(moved.status).toBe(200);
    expect(BigInt(moved.body.unixTimestamp)).toBeGreaterThanOrEqual(before + 60n);
    expect(await api.engine.chain.unixTimestamp()).toBeGreaterThanOrEqual(before + 60n);
  });

  it('lists the unclaimed leaves before the deadline, refuses the clawback before it, then claws back exactly the unclaimed once (carry)', async () => {
    const closed = await runAndCloseEpoch(api, 1, '6000000000', synqers);
    // Not settled yet: no distributor.
    const early = await api.call('POST', '/epochs/1/clawback', api.keys.operator);
    expect(early).toMatchObject({ status: 409, body: { problems: [{ field: 'epoch', reason: expect.stringContaining('no funded distributor') }] } });
    expect((await api.call('GET', '/epochs/99/unclaimed', api.keys.operator)).status).toBe(404);
    expect((await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator))).body).toMatchObject({ status: 'settled', funded: true });
    const total = BigInt(closed.settlement.paid);
    const leafCount = closed.settlement.distribution.leafCount;
    expect(leafCount).toBe(6);

    const all = await api.call('GET', '/epochs/1/unclaimed', api.keys.auditor);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({
      epoch: 1,
      leaves: 6,
      unclaimed: { count: 6, total: total.toString() },
      claimed: { count: 0, total: '0' },
      clawedBack: null,
    });
    expect(all.body.secondsLeft).toBeGreaterThan(29 * 86_400);
    expect(all.body.deadline.unixTimestamp - all.body.chainNow).toBe(all.body.secondsLeft);

    // Two synqers claim their leaves themselves.
    const claimed = [];
    for (const synqer of synqers.slice(0, 2)) {
      const done = await claim(1, synqer);
      expect(done.confirmation.status).toBe('succeeded');
      claimed.push(done.amount);
    }
    const claimedTotal = claimed[0] + claimed[1];
    const listed = await api.call('GET', '/epochs/1/unclaimed', api.keys.operator);
    expect(listed.body).toMatchObject({
      unclaimed: { count: 4, total: (total - claimedTotal).toString() },
      claimed: { count: 2, total: claimedTotal.toString() },
    });
    const unclaimedWallets = synqers.slice(2).map((synqer) => synqer.wallet.publicKey.toBase58());
    expect(listed.body.results.map((entry: { wallet: string }) => entry.wallet).sort()).toEqual([...unclaimedWallets].sort());
    // Paginated like /epochs/{n}/rewards.
    const page = await api.call('GET', '/epochs/1/unclaimed?limit=2&offset=1', api.keys.operator);
    expect(page.body.results).toEqual(listed.body.results.slice(1, 3));
    expect((await api.call('GET', '/epochs/1/unclaimed?limit=0', api.keys.operator)).status).toBe(422);
    expect((await api.call('GET', '/epochs/1/unclaimed', api.keys.developer)).status).toBe(403);
    // The gauges, as of that listing.
    const metrics = await (await fetch(`${api.engine.url}/metrics`)).text();
    expect(metrics).toContain(`synq_unclaimed_claims{epoch="1"} 4`);
    expect(metrics).toContain(`synq_unclaimed_base_units{epoch="1"} ${total - claimedTotal}`);

    // Before the deadline: refused, saying when it starts; nothing recorded.
    const refused = await api.call('POST', '/epochs/1/clawback', api.keys.operator);
    expect(refused).toMatchObject({ status: 409, body: { problems: [{ field: 'epoch', reason: expect.stringMatching(/clawback starts in \d+ seconds/) }] } });
    expect(await events('clawback-1')).toEqual([]);
    expect((await api.call('POST', '/epochs/1/clawback', api.keys.auditor)).status).toBe(403);

    await advancePast(1);
    const before = await treasury();
    const answers = await Promise.all(Array.from({ length: 20 }, () => api.call('POST', '/epochs/1/clawback', api.keys.operator)));
    for (const answer of answers) expect(answer.status).toBe(200);
    const signatures = new Set(answers.map((answer) => answer.body.signature));
    expect(signatures.size).toBe(1);
    expect(answers[0].body).toMatchObject({
      status: 'clawed_back',
      attempts: 1,
      amount: (total - claimedTotal).toString(),
      claimed: claimedTotal.toString(),
      unclaimed: { count: 4, total: (total - claimedTotal).toString() },
      mismatch: '0',
      policy: 'carry',
    });
    expect(await treasury()).toBe(before + total - claimedTotal);
    const distributor = distributorAddress(mint(), 1n);
    expect(await tokens(distributorVault(distributor, mint()))).toBe(0n);
    expect(decodeMerkleDistributor((await api.engine.chain.getAccount(distributor))!.data)).toMatchObject({
      clawedBack: true,
      totalAmountClaimed: claimedTotal,
    });

    const recorded = await events('clawback-1');
    expect(recorded.map((event) => event.type)).toEqual(['ClawbackTransactionSigned', 'DistributorClawedBack', 'UnclaimedRewardsCarried']);
    const entries = listed.body.results;
    expect(recorded[1].data).toMatchObject({ epoch: 1, signature: [...signatures][0], amount: (total - claimedTotal).toString(), unclaimed: entries });
    expect(recorded[2].data).toEqual({ epoch: 1, entries, total: (total - claimedTotal).toString() });
    // The claims made before it are in the books too (src/claims), recorded before the clawback was.
    const observed = await events('claims-1');
    expect(observed.filter((event) => event.type === 'RewardClaimObserved').map((event) => event.data.wallet)).toEqual(
      expect.arrayContaining(synqers.slice(0, 2).map((synqer) => synqer.wallet.publicKey.toBase58())),
    );
    expect(observed.filter((event) => event.type === 'RewardClaimObserved')).toHaveLength(2);
    // The landed transaction: the program's clawback, signed by the treasury authority.
    expect((await api.engine.chain.getTransaction([...signatures][0]))?.signers).toEqual([setup.treasuryAuthority]);

    // Nobody can claim after it (6013 ClaimExpired), and the listing says so.
    const late = await claim(1, synqers[2]);
    expect(late.confirmation).toMatchObject({ status: 'failed', error: expect.stringMatching(/6013/) });
    const after = await api.call('GET', '/epochs/1/unclaimed', api.keys.auditor);
    expect(after.body).toMatchObject({ secondsLeft: 0, clawedBack: { signature: [...signatures][0] }, unclaimed: { count: 4 } });
    expect(await (await fetch(`${api.engine.url}/metrics`)).text()).toContain(`synq_unclaimed_claims{epoch="1"} 0`);
    // Again: the recorded clawback, nothing more.
    expect((await api.call('POST', '/epochs/1/clawback', api.keys.operator)).body).toEqual(answers[0].body);
    expect(await events('clawback-1')).toHaveLength(3);
    expect((await api.call('GET', '/epochs/1/clawback', api.keys.auditor)).body).toEqual(answers[0].body);
  });

  it("policy 'return': crashes between any two steps resume by asking the chain first, one transaction, the pool released once", async () => {
    const policy = await api.call('POST', '/policy', api.keys.operator, {
      ...Object.fromEntries(Object.entries(GENESIS_POLICY).filter(([key]) => key !== 'version' && key !== 'effectiveFromEpoch')),
      unclaimedRewards: 'return',
      claimWindowSeconds: 86_400,
    });
    expect(policy.status).toBe(201);
    const closed = await runAndCloseEpoch(api, 2, '3000000000', synqers);
    expect((await awaitJob(api, api.call('POST', '/epochs/2/settlement', api.keys.operator))).body).toMatchObject({ status: 'settled', funded: true });
    // Epoch 1's unclaimed rewards were carried into these leaves (policy 'carry' was in force for epoch 1).
    const total = BigInt((await api.call('GET', '/epochs/2/distribution', api.keys.auditor)).body.total);
    expect(total).toBeGreaterThan(BigInt(closed.settlement.paid));
    const done = await claim(2, synqers[5]);
    expect(done.confirmation.status).toBe('succeeded');
    await advancePast(2);

    const unallocatedBefore = BigInt((await api.call('GET', '/treasury', api.keys.auditor)).body.unallocated);
    const treasuryBefore = await treasury();
    const dying = (chain: Partial<ChainGateway>, store: Partial<EventStore> = {}) =>
      createClawback({
        store: Object.assign(Object.create(api.engine.eventStore) as EventStore, store),
        chain: Object.assign(Object.create(api.engine.chain) as ChainGateway, chain),
        reader: new ProjectionReader(api.engine.database.pool),
        treasuryKey: treasuryKeyLoader({ dataDir: api.dataDir } as never),
      }).run(2, { actor: 'test', correlationId: 'crash', commandId: `crash-${Math.random()}` });
    const killed = () => Promise.reject(new Error('killed'));

    // 1. Dies after recording the attempt, before sending it.
    await expect(dying({ sendTransaction: killed })).rejects.toThrow('killed');
    expect((await events('clawback-2')).map((event) => event.type)).toEqual(['ClawbackTransactionSigned']);
    expect(await treasury()).toBe(treasuryBefore);
    // 2. The next one asks the chain (it does not have it), sends the recorded bytes as they are, and dies before recording the outcome.
    await expect(dying({ confirmTransaction: killed })).rejects.toThrow('killed');
    expect((await events('clawback-2')).map((event) => event.type)).toEqual(['ClawbackTransactionSigned']);
    expect(await treasury()).toBe(treasuryBefore + total - done.amount);
    // 3. The next one finds it landed, records it and the policy, and dies before the network ledger's release.
    const realAppend = api.engine.eventStore.append.bind(api.engine.eventStore);
    await expect(
      dying({}, { append: (stream, events, options) => (stream === 'network-ledger' ? killed() : realAppend(stream, events, options)) }),
    ).rejects.toThrow('killed');
    expect((await events('clawback-2')).map((event) => event.type)).toEqual(['ClawbackTransactionSigned', 'DistributorClawedBack', 'UnclaimedRewardsReturned']);
    expect(BigInt((await api.call('GET', '/treasury', api.keys.auditor)).body.unallocated)).toBe(unallocatedBefore);

    const resumed = await api.call('POST', '/epochs/2/clawback', api.keys.operator);
    expect(resumed.body).toMatchObject({ status: 'clawed_back', attempts: 1, amount: (total - done.amount).toString(), policy: 'return', mismatch: '0' });
    expect(await treasury()).toBe(treasuryBefore + total - done.amount);
    const recorded = await events('clawback-2');
    expect(recorded.map((event) => event.type)).toEqual(['ClawbackTransactionSigned', 'DistributorClawedBack', 'UnclaimedRewardsReturned']);
    expect(recorded[2].data).toEqual({ epoch: 2, total: (total - done.amount).toString() });
    const released = (await events('network-ledger')).filter((event) => event.type === 'UnclaimedRewardsReleased');
    expect(released.map((event) => event.data)).toEqual([{ epoch: 2, amount: (total - done.amount).toString() }]);
    expect(BigInt((await api.call('GET', '/treasury', api.keys.auditor)).body.unallocated)).toBe(unallocatedBefore + total - done.amount);
    // Again: nothing released twice.
    await api.call('POST', '/epochs/2/clawback', api.keys.operator);
    expect((await events('network-ledger')).filter((event) => event.type === 'UnclaimedRewardsReleased')).toHaveLength(1);
  });

  it('refuses the clawback of a web2 epoch', async () => {
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web2', reason: 'drill' })).status).toBe(200);
    await runAndCloseEpoch(api, 3, '1000000000', synqers);
    expect((await awaitJob(api, api.call('POST', '/epochs/3/settlement', api.keys.operator))).body).toMatchObject({ mode: 'web2', status: 'settled' });
    const refused = await api.call('POST', '/epochs/3/clawback', api.keys.operator);
    expect(refused).toMatchObject({ status: 409, body: { problems: [{ field: 'epoch', reason: expect.stringContaining('no funded distributor') }] } });
    expect((await api.call('GET', '/epochs/3/unclaimed', api.keys.operator)).status).toBe(409);
  });
});
