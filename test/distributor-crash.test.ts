import * as path from 'node:path';
import { PublicKey } from '@solana/web3.js';
import { Pool } from 'pg';
import { anchorMemo } from '../domain/epoch-payout';
import { decodeMerkleDistributor } from '../domain/jito-distributor';
import { decodeWire } from '../src/chain/chain-gateway';
import { EmbeddedChain } from '../src/chain/embedded-chain';
import { distributorAddress, distributorVault, JITO_DISTRIBUTOR_PROGRAM_ID } from '../src/chain/jito-distributor';
import { readTokenAccount } from '../src/chain/token';
import { startTestApi, type TestApi } from './support/api';
import { runKillableChild } from './support/killable-child';
import { expectMoneyInvariants } from './support/money-invariants';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';

const CHILD = path.join(__dirname, '..', 'dist', 'test', 'support', 'settle-child.js');

async function runChild(env: Record<string, string>, killAfterMs?: number): Promise<'settled' | 'killed' | 'failed'> {
  const { outcome } = await runKillableChild(CHILD, env, (stdout) => stdout.includes('settled'), killAfterMs);
  return outcome === 'finished' ? 'settled' : outcome;
}

/**
 * Issue 15: a web3 epoch's distributor is created and funded exactly once, whenever the executor dies. Its one
 * transaction (new_distributor + the funding transfer + the root's memo) is recorded before it is sent; a process
 * killed after sending finds it on chain, one killed before sending lets it expire and signs a new one.
 */
describe('a web3 distributor is created and funded exactly once when the executor is killed', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let pool: Pool;
  let env: Record<string, string>;
  let setup: { mint: string; treasuryAccount: string };
  const totals = new Map<number, bigint>();

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 12);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, {})).body;
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'crash drill' })).status).toBe(200);
    for (const epoch of [1, 2, 3]) totals.set(epoch, BigInt((await runAndCloseEpoch(api, epoch, '3000000000', synqers)).settlement.paid));
    await api.engine.chain.close();
    pool = new Pool({ connectionString: api.databaseUrl, max: 2 });
    env = { DATABASE_URL: api.databaseUrl, SYNQ_DATA_DIR: api.dataDir };
  });
  afterAll(async () => {
    await expectMoneyInvariants({ store: api.engine.eventStore, pool });
    await pool.end();
    await api.close();
  });

  const eventTypes = async (epoch: number) => {
    const types: string[] = [];
    for await (const event of api.engine.eventStore.readStream(`payout-${epoch}`)) types.push(event.type);
    return types;
  };

  /** One landed transaction creates the epoch's distributor, none failed trying, and its vault holds exactly the total. */
  async function expectCreatedOnce(epoch: number) {
    const chain = await EmbeddedChain.open(pool, { connectionString: api.databaseUrl });
    try {
      const mint = new PublicKey(setup.mint);
      const distributor = distributorAddress(mint, BigInt(epoch));
      const { rows } = await pool.query<{ wire: Buffer; error: string | null }>('SELECT wire, error FROM chain_transactions');
      const creating = rows.filter((row) =>
        decodeWire(row.wire).instructions.some((i) => i.programId === JITO_DISTRIBUTOR_PROGRAM_ID.toBase58() && i.accounts[0] === distributor.toBase58()),
      );
      expect(creating.map((row) => row.error)).toEqual([null]);
      const memo = decodeWire(creating[0].wire).instructions.at(-1)!.data.toString();
      expect(memo.startsWith(anchorMemo({ epoch, root: '', total: '', leafCount: 0 }).split(':root=')[0])).toBe(true);
      const vault = distributorVault(distributor, mint);
      expect(readTokenAccount(vault, await chain.getAccount(vault))?.amount).toBe(totals.get(epoch));
      expect(decodeMerkleDistributor((await chain.getAccount(distributor))!.data)?.maxTotalClaim).toBe(totals.get(epoch));
    } finally {
      await chain.close();
    }
  }

  it('killed after sending: the next run finds the transaction on chain and records it, sending nothing new', async () => {
    expect(await runChild({ ...env, EPOCH: '1', CRASH_AFTER: 'sent' })).toBe('killed');
    expect(await eventTypes(1)).toEqual(['SettlementPlanned', 'SettlementTransactionSigned']);
    expect(await runChild({ ...env, EPOCH: '1' })).toBe('settled');
    expect(await eventTypes(1)).toEqual(['SettlementPlanned', 'SettlementTransactionSigned', 'SettlementTransactionConfirmed', 'EpochSettled']);
    await expectCreatedOnce(1);
  });

  it('killed before sending: signs again only once the chain proves the first attempt expired, with fresh deadlines', async () => {
    expect(await runChild({ ...env, EPOCH: '2', CRASH_AFTER: 'recorded' })).toBe('killed');
    const chain = await EmbeddedChain.open(pool, { connectionString: api.databaseUrl });
    await chain.advanceBlocks(151n);
    await chain.close();
    expect(await runChild({ ...env, EPOCH: '2' })).toBe('settled');
    expect(await eventTypes(2)).toEqual([
      'SettlementPlanned',
      'SettlementTransactionSigned',
      'SettlementTransactionExpired',
      'SettlementTransactionSigned',
      'SettlementTransactionConfirmed',
      'EpochSettled',
    ]);
    await expectCreatedOnce(2);
  });

  it('killed at points further and further in, until it settles: created and funded once', async () => {
    let kills = 0;
    let outcome = 'killed';
    for (let run = 0; run < 40 && outcome !== 'settled'; run++) {
      outcome = await runChild({ ...env, EPOCH: '3' }, run < 30 ? 50 * run : undefined);
      expect(outcome).not.toBe('failed');
      if (outcome === 'killed') kills++;
    }
    expect(outcome).toBe('settled');
    expect(kills).toBeGreaterThanOrEqual(1);
    expect((await eventTypes(3)).filter((type) => type === 'SettlementTransactionFailed')).toEqual([]);
    await expectCreatedOnce(3);
  }, 300_000);
});
