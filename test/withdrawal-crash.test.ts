import { runKillableChild } from './support/killable-child';
import * as path from 'node:path';
import { LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { Pool } from 'pg';
import { decodeWire } from '../src/chain/chain-gateway';
import { EmbeddedChain } from '../src/chain/embedded-chain';
import { associatedTokenAddress, execute, memoInstruction, readTokenAccount, transferChecked } from '../src/chain/token';
import { startTestApi, type TestApi } from './support/api';
import { EPOCH_START, instant, registerSynqers, type TestSynqer } from './support/network';

const CHILD = path.join(__dirname, '..', 'dist', 'test', 'support', 'withdraw-child.js');
const SYNQ = 1_000_000n;
/** A withdrawal of on-chain-backed stake takes 5 steps: StakeWithdrawn (with its order), ChainTransferOrdered, Signed, the send, Confirmed. */
const STEPS = 5;

type Outcome = { result: 'done'; answer: string } | { result: 'killed' | 'failed'; answer?: undefined };

/** Runs a withdrawal in a child process; kills it with SIGKILL `killAfterMs` after it is ready, unless it finishes first. */
async function runChild(env: Record<string, string>, killAfterMs?: number): Promise<Outcome> {
  const answerOf = (stdout: string) => /^answer (.*)$/m.exec(stdout)?.[1];
  const { outcome, stdout } = await runKillableChild(CHILD, env, (out) => answerOf(out) !== undefined, killAfterMs);
  return outcome === 'finished' ? { result: 'done', answer: answerOf(stdout)! } : { result: outcome };
}

describe('a stake withdrawal killed at any point is completed by a retry, paid once (issue 14, item 6)', () => {
  let api: TestApi;
  let synqer: TestSynqer;
  let pool: Pool;
  let env: Record<string, string>;
  let setup: { mint: string; stakeVault: string };
  const requests = Array.from({ length: STEPS + 2 }, (_, i) => `u${i + 1}`);

  beforeAll(async () => {
    api = await startTestApi();
    [synqer] = await registerSynqers(api, 1);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, {})).body;
    await api.engine.chain.requestAirdrop(synqer.wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'staker', wallet: synqer.wallet.publicKey.toBase58() })).status).toBe(201);
    await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'crash drill' });
    const open = async (epoch: number) => {
      const start = EPOCH_START + (epoch - 1) * 3600;
      expect(
        (await api.call('POST', '/epochs', api.keys.operator, { epoch, start: instant(start), end: instant(start + 3600), rewardPool: '1000' })).status,
      ).toBe(201);
    };
    await open(1);
    const stake = BigInt(requests.length) * SYNQ;
    const bought = await api.call('POST', '/developers/staker/purchases', api.keys.operator, {
      purchaseId: 'p',
      amount: stake.toString(),
      paymentReference: 'x',
    });
    expect(bought.body.chainTransfer.status).toBe('confirmed');
    const mint = new PublicKey(setup.mint);
    const deposit = await execute(
      api.engine.chain,
      [
        transferChecked(associatedTokenAddress(synqer.wallet.publicKey, mint), mint, new PublicKey(setup.stakeVault), synqer.wallet.publicKey, stake),
        memoInstruction(`synq:stake:${synqer.synqerId}`, synqer.wallet.publicKey),
      ],
      [synqer.wallet],
      'stake',
    );
    expect((await api.call('POST', `/synqers/${synqer.synqerId}/stake/deposits/onchain`, api.keys.operator, { signature: deposit })).status).toBe(201);
    for (const requestId of requests) {
      const asked = await api.call('POST', `/synqers/${synqer.synqerId}/stake/unstake-requests`, api.keys.operator, { requestId, amount: SYNQ.toString() });
      expect(asked.status).toBe(201);
    }
    await open(2);
    await open(3);
    // The child processes own the embedded chain from here on.
    await api.engine.chain.close();
    pool = new Pool({ connectionString: api.databaseUrl, max: 2 });
    env = { DATABASE_URL: api.databaseUrl, SYNQ_DATA_DIR: api.dataDir, SYNQER: synqer.synqerId };
  });
  afterAll(async () => {
    await pool.end();
    await api.close();
  });

  async function check(withdrawn: number) {
    const chain = await EmbeddedChain.open(pool, { connectionString: api.databaseUrl });
    try {
      const mint = new PublicKey(setup.mint);
      const wallet = associatedTokenAddress(synqer.wallet.publicKey, mint);
      expect(readTokenAccount(wallet, await chain.getAccount(wallet))?.amount ?? 0n).toBe(BigInt(withdrawn) * SYNQ);
      const vault = new PublicKey(setup.stakeVault);
      expect(readTokenAccount(vault, await chain.getAccount(vault))?.amount).toBe(BigInt(requests.length - withdrawn) * SYNQ);
      // Each withdrawal landed exactly once: one landed transaction per transfer memo.
      const { rows } = await pool.query<{ wire: Buffer }>('SELECT wire FROM chain_transactions WHERE error IS NULL');
      const landed = new Map<string, number>();
      for (const row of rows) {
        const memo = decodeWire(row.wire).instructions.at(-1)!.data.toString();
        if (memo.startsWith('synq:v1:stake_withdrawal=')) landed.set(memo, (landed.get(memo) ?? 0) + 1);
      }
      expect(landed.size).toBe(withdrawn);
      expect([...landed.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await chain.close();
    }
  }

  it('after a kill right after each of its steps, a retry completes it and a second retry answers the same', async () => {
    for (let step = 1; step <= STEPS; step++) {
      const requestId = requests[step - 1];
      expect(await runChild({ ...env, REQUEST: requestId, CRASH_AT: String(step) })).toEqual({ result: 'killed' });
      const retried = await runChild({ ...env, REQUEST: requestId });
      expect(retried.result).toBe('done');
      expect(JSON.parse(retried.answer!)).toMatchObject({ orderId: `stake_withdrawal.${synqer.synqerId}.${requestId}`, status: 'confirmed' });
      expect(await runChild({ ...env, REQUEST: requestId })).toEqual(retried);
      await check(step);
    }
  }, 300_000);

  it('after a kill between the withdrawal and its transfer stream, resuming the pending transfers (a restart) pays it', async () => {
    const requestId = requests[STEPS];
    expect(await runChild({ ...env, REQUEST: requestId, CRASH_AT: '1' })).toEqual({ result: 'killed' });
    const resumed = await runChild({ ...env, REQUEST: requestId, PENDING: '1' });
    expect(resumed.result).toBe('done');
    expect(JSON.parse(resumed.answer!)).toMatchObject({ orderId: `stake_withdrawal.${synqer.synqerId}.${requestId}`, status: 'confirmed' });
    await check(STEPS + 1);
  }, 120_000);

  it('after kills at random points, retries complete every withdrawal, each paid once', async () => {
    const rest = requests.slice(STEPS + 1);
    for (const requestId of rest) {
      let outcome: Outcome = { result: 'killed' };
      for (let run = 0; run < 20 && outcome.result !== 'done'; run++) {
        // Kills land further and further in; the last runs are not killed, so a slow (loaded) machine still finishes.
        outcome = await runChild({ ...env, REQUEST: requestId }, run < 15 ? Math.floor(Math.random() * (60 + 20 * run)) : undefined);
        expect(outcome.result).not.toBe('failed');
      }
      expect(outcome.result).toBe('done');
    }
    await check(requests.length);
  }, 300_000);
});
