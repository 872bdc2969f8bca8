import { runKillableChild } from './support/killable-child';
import * as path from 'node:path';
import { PublicKey } from '@solana/web3.js';
import { Pool } from 'pg';
import { decodeWire } from '../src/chain/chain-gateway';
import { EmbeddedChain } from '../src/chain/embedded-chain';
import { associatedTokenAddress, readTokenAccount } from '../src/chain/token';
import { startTestApi, type TestApi } from './support/api';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { expectMoneyInvariants } from './support/money-invariants';

const CHILD = path.join(__dirname, '..', 'dist', 'test', 'support', 'settle-child.js');

/** Runs the executor in a child process; kills it with SIGKILL `killAfterMs` after it is ready, unless it finishes first. */
async function runChild(env: Record<string, string>, killAfterMs?: number): Promise<'settled' | 'killed' | 'failed'> {
  const { outcome } = await runKillableChild(CHILD, env, (stdout) => stdout.includes('settled'), killAfterMs);
  return outcome === 'finished' ? 'settled' : outcome;
}

describe('exactly-once payouts when the executor is killed between send and confirmation', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let pool: Pool;
  let env: Record<string, string>;

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 90);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    expect((await api.call('POST', '/chain/init', api.keys.operator, {})).status).toBe(201);
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'crash drill' })).status).toBe(200);
    await runAndCloseEpoch(api, 1, '9000000000', synqers);
    await runAndCloseEpoch(api, 2, '9000000000', synqers);
    // The child processes own the embedded chain from here on.
    await api.engine.chain.close();
    pool = new Pool({ connectionString: api.databaseUrl, max: 2 });
    env = { DATABASE_URL: api.databaseUrl, SYNQ_DATA_DIR: api.dataDir };
  });
  afterAll(async () => {
    // The children own the chain: the books and the read model only.
    await expectMoneyInvariants({ store: api.engine.eventStore, pool });
    await pool.end();
    await api.close();
  });

  async function checkChain(epoch: number, paidBefore: Map<string, bigint>) {
    const chain = await EmbeddedChain.open(pool, { connectionString: api.databaseUrl });
    try {
      const mint = new PublicKey((await chainSetup())!.mint);
      for (const synqer of synqers) {
        const claim = await api.call('GET', `/epochs/${epoch}/distribution/${synqer.wallet.publicKey.toBase58()}`, api.keys.auditor);
        const owed = claim.status === 200 ? BigInt(claim.body.amount) : 0n;
        const account = associatedTokenAddress(synqer.wallet.publicKey, mint);
        const balance = readTokenAccount(account, await chain.getAccount(account))?.amount ?? 0n;
        expect(balance - (paidBefore.get(synqer.synqerId) ?? 0n)).toBe(owed);
        paidBefore.set(synqer.synqerId, balance);
      }
      // Every batch landed exactly once: one landed transaction per batch memo.
      const { rows } = await pool.query<{ wire: Buffer }>('SELECT wire FROM chain_transactions WHERE error IS NULL');
      const landed = new Map<string, number>();
      for (const row of rows) {
        const memo = decodeWire(row.wire).instructions.at(-1)!.data.toString();
        if (memo.startsWith(`synq:v1:epoch=${epoch}:`)) landed.set(memo, (landed.get(memo) ?? 0) + 1);
      }
      expect(landed.size).toBeGreaterThan(5);
      expect([...landed.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await chain.close();
    }
  }

  async function chainSetup() {
    for await (const event of api.engine.eventStore.readStream('chain-setup')) return event.data as { mint: string };
    return undefined;
  }

  async function eventTypes(epoch: number) {
    const types: string[] = [];
    for await (const event of api.engine.eventStore.readStream(`payout-${epoch}`)) types.push(event.type);
    return types;
  }

  it('pays every leaf once after being killed at random points many times', async () => {
    let kills = 0;
    let outcome: string = 'killed';
    for (let run = 0; run < 60 && outcome !== 'settled'; run++) {
      // Kills land anywhere in the first 150 ms of work, then later and later, so that a slow machine still finishes.
      // The last runs are not killed, so a slow (loaded) machine still finishes.
      outcome = await runChild({ ...env, EPOCH: '1' }, run < 50 ? Math.floor(Math.random() * (150 + 40 * run)) : undefined);
      expect(outcome).not.toBe('failed');
      if (outcome === 'killed') kills++;
    }
    expect(outcome).toBe('settled');
    expect(kills).toBeGreaterThanOrEqual(5);
    await checkChain(1, new Map());
    expect(await runChild({ ...env, EPOCH: '1' })).toBe('settled');
    // Up to 60 child processes, each starting Node and the embedded chain: minutes on a loaded 2-core machine.
  }, 300_000);

  it('rebuilds an attempt only once the chain proves it expired without landing, recording the old signature as superseded', async () => {
    expect(await runChild({ ...env, EPOCH: '2', CRASH_AFTER: 'recorded' })).toBe('killed');
    const signed = (await eventTypes(2)).filter((type) => type === 'SettlementTransactionSigned').length;
    expect(signed).toBeGreaterThan(0);
    // The recorded attempts were never sent; let their blockhash expire.
    const chain = await EmbeddedChain.open(pool, { connectionString: api.databaseUrl });
    await chain.advanceBlocks(151n);
    await chain.close();

    expect(await runChild({ ...env, EPOCH: '2' })).toBe('settled');
    const types = await eventTypes(2);
    expect(types.filter((type) => type === 'SettlementTransactionExpired')).toHaveLength(signed);
    const paid = new Map<string, bigint>();
    const previous = await EmbeddedChain.open(pool, { connectionString: api.databaseUrl });
    const mint = new PublicKey((await chainSetup())!.mint);
    for (const synqer of synqers) {
      const account = associatedTokenAddress(synqer.wallet.publicKey, mint);
      const claim = await api.call('GET', `/epochs/1/distribution/${synqer.wallet.publicKey.toBase58()}`, api.keys.auditor);
      paid.set(synqer.synqerId, claim.status === 200 ? BigInt(claim.body.amount) : 0n);
      expect(readTokenAccount(account, await previous.getAccount(account))).not.toBeNull();
    }
    await previous.close();
    await checkChain(2, paid);
  });
});
