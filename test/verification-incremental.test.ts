import { Keypair, PublicKey } from '@solana/web3.js';
import type { Discrepancy, VerificationRun } from '../domain/chain-verification';
import type { EmbeddedChain } from '../src/chain/embedded-chain';
import { distributorAddress, distributorVault, newClaimInstruction } from '../src/chain/jito-distributor';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import { associatedTokenAddress, createAssociatedAccountIdempotent, execute, readTokenAccount, sendAndConfirm, transferChecked } from '../src/chain/token';
import { toEnvelopes } from '../src/commands/streams';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Incremental replay-verification (issue 17 item 9): a run starts from the checkpoints the run before left and verifies
 * what is new or can have changed; a full run verifies everything. After every change here, an incremental run and a
 * full run must find the same discrepancies and count the same checks, and faults introduced after a checkpoint (a
 * transfer out of the treasury, a tampered account of a clawed-back distributor, a forged payout event, a tampered
 * checkpoint row) must be found by the next run.
 *
 * The network: hybrid epochs 1 to 3, web3 epoch 4 (two wallets claim, then the clawback after the deadline), hybrid
 * epoch 5 settled after the first checkpoints.
 */
describe('incremental replay-verification', () => {
  let api: TestApi;
  let chain: EmbeddedChain;
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string };
  let treasuryKey: Keypair;
  const mint = () => new PublicKey(setup.mint);

  type Run = VerificationRun & { coverage: NonNullable<VerificationRun['coverage']> };
  const verify = async (body?: { full: boolean }): Promise<Run> => {
    const run = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator, body ?? {}));
    expect(run.status).toBe(200);
    return run.body as Run;
  };
  const sorted = (discrepancies: Discrepancy[]) => discrepancies.map((d) => JSON.stringify(d)).sort();
  /** An incremental run, then a full run: both find the same and count the same. Returns the incremental one. */
  async function bothAgree(): Promise<Run> {
    const incremental = await verify();
    expect(incremental.coverage.scope).toBe('incremental');
    const full = await verify({ full: true });
    expect(full.coverage).toMatchObject({ scope: 'full', reusedEpochs: 0 });
    expect(sorted(incremental.discrepancies)).toEqual(sorted(full.discrepancies));
    expect(incremental.checked).toEqual(full.checked);
    return incremental;
  }
  const resume = () => api.call('POST', '/settlement/resume', api.keys.operator, { reason: 'test acknowledges' });

  async function settle(epoch: number) {
    await runAndCloseEpoch(api, epoch, `${epoch}000000000`, synqers);
    const settled = await awaitJob(api, api.call('POST', `/epochs/${epoch}/settlement`, api.keys.operator));
    expect(settled.body).toMatchObject({ status: 'settled' });
    // The run that followed the settlement, whole.
    return (await api.call('GET', `/verification/runs/${settled.body.verification.runId}`, api.keys.operator)).body as Run;
  }

  async function claim(epoch: number, synqer: TestSynqer) {
    const wallet = synqer.wallet.publicKey;
    const leaf = await api.call('GET', `/epochs/${epoch}/distribution/${wallet.toBase58()}`, api.keys.auditor);
    await chain.requestAirdrop(wallet, 100_000_000n);
    const { confirmation } = await sendAndConfirm(
      chain,
      [
        createAssociatedAccountIdempotent(wallet, wallet, mint()),
        newClaimInstruction(
          { distributor: distributorAddress(mint(), BigInt(epoch)), mint: mint(), claimant: wallet },
          BigInt(leaf.body.amount),
          0n,
          (leaf.body.proof as string[]).map((node) => Buffer.from(node, 'hex')),
        ),
      ],
      [synqer.wallet],
    );
    expect(confirmation).toMatchObject({ status: 'succeeded' });
  }

  beforeAll(async () => {
    api = await startTestApi();
    chain = api.engine.chain as EmbeddedChain;
    synqers = await registerSynqers(api, 6);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, { supply: '1000000000000000' })).body;
    treasuryKey = await loadTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir });
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'incremental verification' });
    for (const epoch of [1, 2, 3]) await settle(epoch);
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'incremental verification' });
    await settle(4);
    for (const synqer of synqers.slice(0, 2)) await claim(4, synqer);
    const unclaimed = await api.call('GET', '/epochs/4/unclaimed', api.keys.operator);
    expect((await api.call('POST', '/chain/clock', api.keys.operator, { advanceSeconds: unclaimed.body.secondsLeft + 1 })).status).toBe(200);
    expect((await api.call('POST', '/epochs/4/clawback', api.keys.operator)).status).toBe(200);
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'incremental verification' });
  });
  afterAll(async () => {
    // The faults injected: tokens out of the treasury (I2) and a payout batch confirmed twice (I6).
    await expectMoneyInvariants(api, { expected: ['I2', 'I6'] });
    await api.close();
  });

  it('takes final epochs from their checkpoints and counts them as a full run does', async () => {
    const first = await verify({ full: true });
    expect(first).toMatchObject({ discrepancyCount: 0, coverage: { scope: 'full', reverifiedEpochs: [1, 2, 3, 4], reusedEpochs: 0 } });
    expect(first.checked).toMatchObject({ payouts: 18, distributors: 1, claims: 2 });
    const next = await verify();
    expect(next).toMatchObject({
      discrepancyCount: 0,
      coverage: { scope: 'incremental', reverifiedEpochs: [], reusedEpochs: 4, sinceRunId: first.runId },
      checked: first.checked,
    });
    // A new epoch: its settlement's run verifies it alone.
    const verification = await settle(5);
    expect(verification).toMatchObject({ discrepancyCount: 0, coverage: { scope: 'incremental', reverifiedEpochs: [5], reusedEpochs: 4 } });
    expect(verification.checked.payouts).toBe(first.checked.payouts + 6);
    const rows = await api.engine.database.pool.query<{ epoch: number }>('SELECT epoch FROM verification_epochs ORDER BY epoch');
    expect(rows.rows.map((row) => row.epoch)).toEqual([1, 2, 3, 4, 5]);
    const agreed = await bothAgree();
    expect(agreed).toMatchObject({ discrepancyCount: 0, coverage: { reverifiedEpochs: [], reusedEpochs: 5 } });
  });

  it('finds a transfer out of the treasury made after the checkpoint', async () => {
    const thief = Keypair.generate();
    const signature = await execute(
      chain,
      [
        createAssociatedAccountIdempotent(treasuryKey.publicKey, thief.publicKey, mint()),
        transferChecked(new PublicKey(setup.treasuryAccount), mint(), associatedTokenAddress(thief.publicKey, mint()), treasuryKey.publicKey, 7_000_000n),
      ],
      [treasuryKey],
      'rogue transfer after the checkpoint',
    );
    const run = await bothAgree();
    expect(run.coverage.reverifiedEpochs).toEqual([]);
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'unrecorded_treasury_transfer', signature, actual: '7000000' }),
        expect.objectContaining({ type: 'treasury_balance_mismatch', account: setup.treasuryAccount }),
      ]),
    );
    expect(run.discrepancyCount).toBe(2);
    // Still found by the runs after (the signature is flagged: every run looks at it again).
    expect((await verify()).discrepancies).toEqual(run.discrepancies);
    await resume();
  });

  it("finds a clawed-back distributor's vault tampered after its checkpoint", async () => {
    const vault = distributorVault(distributorAddress(mint(), 4n), mint());
    expect(readTokenAccount(vault, await chain.getAccount(vault))?.amount).toBe(0n);
    await chain.tamperAccountForTests(vault, (data) => data.writeBigUInt64LE(4_321n, 64));
    const run = await bothAgree();
    expect(run.coverage.reverifiedEpochs).toEqual([4]);
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'distributor_vault_mismatch', epoch: 4, account: vault.toBase58(), expected: '0', actual: '4321' }),
      ]),
    );
    // Not final any more: verified again by every run until it is put right.
    expect((await verify()).coverage.reverifiedEpochs).toEqual([4]);
    await chain.tamperAccountForTests(vault, (data) => data.writeBigUInt64LE(0n, 64));
    await resume();
  });

  it('verifies again an epoch a new event touches: a payout recorded as confirmed that never landed', async () => {
    const fake = Keypair.generate();
    const forged = [
      {
        type: 'SettlementTransactionSigned',
        data: {
          epoch: 2,
          batch: 0,
          attempt: 2,
          signature: '1'.repeat(64),
          blockhash: fake.publicKey.toBase58(),
          lastValidBlockHeight: '1',
          wire: '',
          rent: '0',
        },
      },
      { type: 'SettlementTransactionConfirmed', data: { epoch: 2, batch: 0, signature: '1'.repeat(64), slot: '1', fee: '5000' } },
    ];
    await api.engine.eventStore.append(
      'payout-2',
      toEnvelopes('payout-2', forged, { actor: 'faulty', correlationId: 'c', commandId: 'forged-after-checkpoint' }),
    );
    const run = await bothAgree();
    expect(run.coverage.reverifiedEpochs).toEqual(expect.arrayContaining([2]));
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'payout_transaction_missing', epoch: 2, signature: '1'.repeat(64) })]),
    );
    await resume();
  });

  it('a full run rechecks the checkpoints: one that does not hold is a checkpoint_mismatch, and is rewritten', async () => {
    await api.engine.database.pool.query('UPDATE verification_epochs SET treasury_out = treasury_out + 1 WHERE epoch = 1');
    // The incremental run believes it: the treasury looks a unit short of what the books imply.
    const incremental = await verify();
    const full = await verify({ full: true });
    const mismatch = full.discrepancies.filter((d) => d.type === 'checkpoint_mismatch');
    expect(mismatch).toEqual([expect.objectContaining({ epoch: 1 })]);
    expect(incremental.discrepancies.filter((d) => d.type === 'treasury_balance_mismatch')).toHaveLength(1);
    expect(full.discrepancies.filter((d) => d.type === 'treasury_balance_mismatch')).toHaveLength(1);
    const balance = (run: Run) => run.discrepancies.find((d) => d.type === 'treasury_balance_mismatch')!;
    expect(BigInt(balance(incremental).expected!) - BigInt(balance(full).expected!)).toBe(-1n);
    // Rewritten by the full run: the next incremental run agrees with a full one again.
    const after = await bothAgree();
    expect(after.discrepancies.some((d) => d.type === 'checkpoint_mismatch')).toBe(false);
    await resume();
  });

  it('refuses a full flag that is not a boolean', async () => {
    const refused = await api.call('POST', '/verification/runs', api.keys.operator, { full: 'yes' });
    expect(refused).toMatchObject({ status: 422, body: { problems: [{ field: 'full', reason: 'must be true or false' }] } });
  });
});
