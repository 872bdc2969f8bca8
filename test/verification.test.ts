import { Keypair, PublicKey } from '@solana/web3.js';
import type { Discrepancy } from '../domain/chain-verification';
import { payoutMemo } from '../domain/epoch-payout';
import { toEnvelopes } from '../src/commands/streams';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import { associatedTokenAddress, createAssociatedAccountIdempotent, execute, memoInstruction, transferChecked } from '../src/chain/token';
import { PayoutExecutor } from '../src/settlement/payout-executor';
import { startTestApi, type TestApi } from './support/api';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { expectMoneyInvariants } from './support/money-invariants';
import { awaitJob } from './support/jobs';

describe('replay-verification of the chain against the books', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string; treasuryAuthority: string };
  let treasuryKey: Keypair;

  const verify = async () => {
    const run = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator));
    expect(run.status).toBe(200);
    return run.body as { runId: string; discrepancyCount: number; discrepancies: Discrepancy[]; byType: Record<string, number> };
  };

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 12);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, {})).body;
    treasuryKey = await loadTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir });
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'verification tests' });
    await runAndCloseEpoch(api, 1, '1200000000', synqers);
    expect((await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator))).body.status).toBe('settled');
  });
  afterAll(async () => {
    // The tests move treasury tokens out of band and forge a payout: exactly that fault.
    await expectMoneyInvariants(api, { expected: ['I2'] });
    await api.close();
  });

  it('finds nothing wrong with a settled hybrid epoch, and records the run', async () => {
    const run = await verify();
    expect(run).toMatchObject({ discrepancyCount: 0, discrepancies: [], checked: { payouts: 12, settlementTransactions: expect.any(Number) } });
    expect((await api.call('GET', `/verification/runs/${run.runId}`, api.keys.operator)).body).toEqual(run);
    expect((await api.call('GET', '/verification/runs', api.keys.operator)).body.runs[0]).toMatchObject({ runId: run.runId, discrepancyCount: 0 });
    expect((await api.call('GET', '/verification/runs/nope', api.keys.operator)).status).toBe(404);
    expect((await api.call('GET', '/settlement', api.keys.operator)).body.paused).toBeNull();
  });

  it('finds a rogue transfer out of the treasury, and pauses settlement until an operator acknowledges it', async () => {
    const thief = Keypair.generate();
    const mint = new PublicKey(setup.mint);
    const signature = await execute(
      api.engine.chain,
      [
        createAssociatedAccountIdempotent(treasuryKey.publicKey, thief.publicKey, mint),
        transferChecked(new PublicKey(setup.treasuryAccount), mint, associatedTokenAddress(thief.publicKey, mint), treasuryKey.publicKey, 5_000_000n),
      ],
      [treasuryKey],
      'rogue transfer',
    );
    const run = await verify();
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'unrecorded_treasury_transfer',
          signature,
          actual: '5000000',
          account: associatedTokenAddress(thief.publicKey, mint).toBase58(),
        }),
        expect.objectContaining({ type: 'treasury_balance_mismatch', account: setup.treasuryAccount }),
      ]),
    );
    const mismatch = run.discrepancies.find((d) => d.type === 'treasury_balance_mismatch')!;
    expect(BigInt(mismatch.expected!) - BigInt(mismatch.actual!)).toBe(5_000_000n);

    expect((await api.call('GET', '/settlement', api.keys.operator)).body.paused).toMatchObject({ verificationRunId: run.runId });
    await runAndCloseEpoch(api, 2, '1200000000', synqers);
    const refused = await api.call('POST', '/epochs/2/settlement', api.keys.operator);
    expect(refused).toMatchObject({ status: 409, body: { problems: [{ field: 'settlement', reason: expect.stringContaining('paused') }] } });
    expect((await api.call('POST', '/settlement/resume', api.keys.operator, {})).status).toBe(422);
    expect((await api.call('POST', '/settlement/resume', api.keys.operator, { reason: 'key rotated, loss written off' })).body.paused).toBeNull();
  });

  it('finds a recorded payout that never landed', async () => {
    const executor = api.engine.app.get(PayoutExecutor);
    const stop = new Error('stopped before sending');
    await expect(
      executor.settle(
        2,
        { actor: 'test', correlationId: 'c', commandId: 'fault' },
        {
          afterStep: () => {
            throw stop;
          },
        },
      ),
    ).rejects.toBe(stop);
    // A faulty executor records success without the chain's word.
    const signed: { batch: number; signature: string }[] = [];
    for await (const event of api.engine.eventStore.readStream('payout-2'))
      if (event.type === 'SettlementTransactionSigned') signed.push(event.data as { batch: number; signature: string });
    const events = signed.map(({ batch, signature }) => ({
      type: 'SettlementTransactionConfirmed',
      data: { epoch: 2, batch, signature, slot: '1', fee: '5000' },
    }));
    await api.engine.eventStore.append('payout-2', toEnvelopes('payout-2', events, { actor: 'faulty', correlationId: 'c', commandId: 'forged' }));

    const run = await verify();
    const missing = run.discrepancies.filter((d) => d.type === 'payout_transaction_missing');
    expect(missing.map((d) => d.signature).sort()).toEqual(signed.map((s) => s.signature).sort());
    expect(missing.every((d) => d.epoch === 2)).toBe(true);
    await api.call('POST', '/settlement/resume', api.keys.operator, { reason: 'investigating' });
  });

  it('finds a leaf paid twice out of band', async () => {
    const settlement = (await api.call('GET', '/epochs/1/settlement', api.keys.operator)).body;
    const leaves = (
      await api.engine.database.pool.query<{ wallet: string; amount: string }>(
        `SELECT wallet, amount::text AS amount FROM ${await schema()}.distribution_leaves WHERE epoch = 1 ORDER BY leaf_index LIMIT 1`,
      )
    ).rows;
    const mint = new PublicKey(setup.mint);
    const recipient = associatedTokenAddress(new PublicKey(leaves[0].wallet), mint);
    const signature = await execute(
      api.engine.chain,
      [
        transferChecked(new PublicKey(setup.treasuryAccount), mint, recipient, treasuryKey.publicKey, BigInt(leaves[0].amount)),
        memoInstruction(payoutMemo(1, 0, settlement.root), treasuryKey.publicKey),
      ],
      [treasuryKey],
      'second payment',
    );
    const run = await verify();
    expect(run.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'leaf_paid_twice', epoch: 1, signature, account: recipient.toBase58(), actual: leaves[0].amount }),
      ]),
    );
  });

  async function schema() {
    const { rows } = await api.engine.database.pool.query<{ generation: number }>("SELECT generation FROM projection_state WHERE name = 'settlement'");
    return `projection_settlement_g${rows[0].generation}`;
  }
});
