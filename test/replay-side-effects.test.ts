import { Logger } from '@nestjs/common';
import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { Client } from 'pg';
import type { ChainGateway } from '../src/chain/chain-gateway';
import { associatedTokenAddress, execute, memoInstruction, readTokenAccount, transferChecked } from '../src/chain/token';
import { startEngine, type RunningEngine } from '../src/engine';
import { startTestApi, type TestApi } from './support/api';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Issue 14: replays have no side effects. Rebuilding and rewinding every projection, auditing every closed epoch and
 * restarting the engine read the books again; none of it may send a transaction, order a transfer or record an event.
 * The books hold a settled hybrid epoch (payouts on chain), hybrid purchase deliveries, a stake deposit and a slash
 * through the stake vault, and a settled web3 epoch (its distributor created and funded).
 */

const SYNQ = 1_000_000n;

/**
 * Event types a replay may record. None: a rebuild, rewind or resume is stored in `projection_state.request` and carried
 * out by the runner (src/projections/projection-runner.ts), which moves checkpoints and generations in PostgreSQL and
 * never appends to the log; the audit (src/audit/audit.ts) only reads.
 */
const ALLOWED_REPLAY_EVENT_TYPES: readonly string[] = [];

interface Snapshot {
  chain: { transactions: number; blockHeight: string; accountsDigest: string; treasurySignatures: number; vaultSignatures: number };
  balances: Record<string, string>;
  mintSupply: string;
  events: { lastPosition: string; byType: Record<string, number> };
}

describe('replays have no side effects: rebuild, rewind, audit and restart leave the chain and the log as they were', () => {
  let api: TestApi;
  let restarted: RunningEngine | undefined;
  let sql: Client;
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string; stakeVault: string };
  const developerWallet = Keypair.generate();
  let before: Snapshot;

  /** The engine answering now: the first one, or the one started again on the same database and data folder. */
  const engine = () => restarted ?? api.engine;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const call = async (method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${engine().url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const tokenBalance = async (chain: ChainGateway, address: PublicKey) => readTokenAccount(address, await chain.getAccount(address))?.amount ?? 0n;
  const ata = (owner: PublicKey) => associatedTokenAddress(owner, new PublicKey(setup.mint));

  async function snapshot(): Promise<Snapshot> {
    const chain = engine().chain;
    const ledger = await sql.query<{ transactions: string; block_height: string; digest: string }>(
      `SELECT (SELECT count(*) FROM chain_transactions) AS transactions,
              (SELECT block_height FROM chain_ledger) AS block_height,
              (SELECT md5(coalesce(string_agg(address || ':' || lamports || ':' || owner || ':' || encode(data, 'hex'), ',' ORDER BY address), ''))
                 FROM chain_accounts) AS digest`,
    );
    const status = (await call('GET', '/chain', api.keys.auditor)).body;
    const owners = [...synqers.map((s) => s.wallet.publicKey), developerWallet.publicKey];
    const balances: Record<string, string> = {
      treasury: (await tokenBalance(chain, new PublicKey(setup.treasuryAccount))).toString(),
      stakeVault: (await tokenBalance(chain, new PublicKey(setup.stakeVault))).toString(),
    };
    for (const owner of owners) balances[owner.toBase58()] = (await tokenBalance(chain, ata(owner))).toString();
    const types = await sql.query<{ event_type: string; n: string }>('SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY event_type');
    const last = await sql.query<{ last: string }>('SELECT coalesce(max(global_position), 0)::text AS last FROM events');
    return {
      chain: {
        transactions: Number(ledger.rows[0].transactions),
        blockHeight: ledger.rows[0].block_height,
        accountsDigest: ledger.rows[0].digest,
        treasurySignatures: (await chain.signaturesForAddress(new PublicKey(setup.treasuryAccount))).length,
        vaultSignatures: (await chain.signaturesForAddress(new PublicKey(setup.stakeVault))).length,
      },
      balances,
      mintSupply: status.balances.mintSupply,
      events: { lastPosition: last.rows[0].last, byType: Object.fromEntries(types.rows.map((r) => [r.event_type, Number(r.n)])) },
    };
  }

  /** Nothing moved on chain; the log holds no new event but those a replay may record. */
  async function expectNoSideEffects() {
    const after = await snapshot();
    expect({ chain: after.chain, balances: after.balances, mintSupply: after.mintSupply }).toEqual({
      chain: before.chain,
      balances: before.balances,
      mintSupply: before.mintSupply,
    });
    const recorded = [...new Set([...Object.keys(after.events.byType), ...Object.keys(before.events.byType)])].filter(
      (type) => after.events.byType[type] !== before.events.byType[type],
    );
    expect(recorded.filter((type) => !ALLOWED_REPLAY_EVENT_TYPES.includes(type))).toEqual([]);
    if (ALLOWED_REPLAY_EVENT_TYPES.length === 0) expect(after.events.lastPosition).toBe(before.events.lastPosition);
  }

  /** Every projection live again: running, no request or build pending, nothing left to read. */
  async function waitForProjections(want: 'running' | 'paused') {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listed = (await call('GET', '/projections', api.keys.operator)).body.projections as {
        name: string;
        status: string;
        generation: number;
        lagEvents: string;
        building?: unknown;
        pendingRequest?: unknown;
      }[];
      const done = listed.every((p) => p.status === want && !p.building && !p.pendingRequest && (want === 'paused' || p.lagEvents === '0'));
      if (done) return listed;
      if (listed.some((p) => p.status === 'failed')) throw new Error(`a projection failed: ${JSON.stringify(listed)}`);
      if (Date.now() > deadline) throw new Error(`projections not ${want} after 30 s: ${JSON.stringify(listed)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    api = await startTestApi();
    sql = new Client({ connectionString: api.databaseUrl });
    await sql.connect();
    synqers = await registerSynqers(api, 6);
    const [staker] = synqers;
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    setup = (await api.call('POST', '/chain/init', api.keys.operator, {})).body;
    await api.engine.chain.requestAirdrop(developerWallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    await api.engine.chain.requestAirdrop(staker.wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'dev1', wallet: developerWallet.publicKey.toBase58() })).status).toBe(201);
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'staker', wallet: staker.wallet.publicKey.toBase58() })).status).toBe(201);

    // Epoch 1, hybrid: purchases delivered from the treasury, a stake deposited on chain and slashed out of the vault,
    // and the epoch's payouts sent from the treasury.
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2' })).body.modeOfNextEpoch).toBe('hybrid');
    await runAndCloseEpoch(api, 1, '3000000000', synqers);
    const bought = await api.call('POST', '/developers/dev1/purchases', api.keys.operator, {
      purchaseId: 'p1',
      amount: (7n * SYNQ).toString(),
      paymentReference: 'wire',
    });
    expect(bought.body.chainTransfer).toMatchObject({ status: 'confirmed' });
    const stakeMoney = await api.call('POST', '/developers/staker/purchases', api.keys.operator, {
      purchaseId: 'stake-money',
      amount: (10n * SYNQ).toString(),
      paymentReference: 'x',
    });
    expect(stakeMoney.body.chainTransfer).toMatchObject({ status: 'confirmed' });
    const mint = new PublicKey(setup.mint);
    const deposit = await execute(
      api.engine.chain,
      [
        transferChecked(ata(staker.wallet.publicKey), mint, new PublicKey(setup.stakeVault), staker.wallet.publicKey, 10n * SYNQ),
        memoInstruction(`synq:stake:${staker.synqerId}`, staker.wallet.publicKey),
      ],
      [staker.wallet],
      'stake',
    );
    expect((await api.call('POST', `/synqers/${staker.synqerId}/stake/deposits/onchain`, api.keys.operator, { signature: deposit })).body).toMatchObject({
      active: (10n * SYNQ).toString(),
    });
    const slashed = await api.call('POST', `/synqers/${staker.synqerId}/stake/slashes`, api.keys.operator, {
      slashId: 'x1',
      amount: (3n * SYNQ).toString(),
      reason: 'fake reports',
    });
    expect(slashed.body.chainTransfer).toMatchObject({ status: 'confirmed' });
    expect((await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator))).body).toMatchObject({ mode: 'hybrid', status: 'settled' });

    // Epoch 2, web3: its distributor created and funded.
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'phase 3' })).body.modeOfNextEpoch).toBe('web3');
    await runAndCloseEpoch(api, 2, '2000000000', synqers);
    expect((await awaitJob(api, api.call('POST', '/epochs/2/settlement', api.keys.operator))).body).toMatchObject({
      mode: 'web3',
      status: 'settled',
      batches: [{ kind: 'distributor', status: 'confirmed' }],
    });
    expect((await api.call('GET', '/settlement', api.keys.operator)).body.paused).toBeNull();
    await waitForProjections('running');
    before = await snapshot();
  });
  afterAll(async () => {
    await sql?.end();
    await restarted?.stop();
    await api?.close();
  });

  it('starts from books and a chain that really moved', () => {
    // Payout batches of epoch 1, two deliveries, the deposit, the slash and the anchor at least.
    expect(before.chain.transactions).toBeGreaterThanOrEqual(6);
    expect(before.chain.treasurySignatures).toBeGreaterThanOrEqual(4);
    expect(before.chain.vaultSignatures).toBeGreaterThanOrEqual(2);
    expect(before.balances.stakeVault).toBe((7n * SYNQ).toString());
    expect(before.balances[developerWallet.publicKey.toBase58()]).toBe((7n * SYNQ).toString());
    for (const synqer of synqers.slice(1)) expect(BigInt(before.balances[synqer.wallet.publicKey.toBase58()])).toBeGreaterThan(0n);
    expect(BigInt(before.mintSupply)).toBeGreaterThan(0n);
    expect(before.events.byType).toMatchObject({
      SettlementTransactionConfirmed: expect.any(Number),
      ChainTransferConfirmed: 3,
      StakeSlashed: 1,
      EpochSettled: 2,
    });
    expect(before.events.byType.SettlementTransactionConfirmed).toBeGreaterThanOrEqual(2);
  });

  it('rebuilds every projection without touching the chain or the log', async () => {
    const live = await waitForProjections('running');
    expect(live.map((p) => p.name).sort()).toEqual(['developers', 'payouts', 'settlement']);
    for (const { name } of live) expect((await call('POST', `/projections/${name}/rebuild`, api.keys.operator)).status).toBe(202);
    const rebuilt = await waitForProjections('running');
    // Each was replayed from the start into a generation of its own.
    for (const { name, generation } of live) expect(rebuilt.find((p) => p.name === name)!.generation).toBe(generation + 1);
    await expectNoSideEffects();
  });

  it('rewinds every projection to epoch 1, resumes it, and the chain and the log stay as they were', async () => {
    for (const name of ['settlement', 'developers', 'payouts']) {
      expect((await call('POST', `/projections/${name}/rewind`, api.keys.operator, { toEpoch: 1 })).status).toBe(202);
    }
    await waitForProjections('paused');
    // While the projections stand before epoch 2's close, asking what is owed still sends nothing.
    expect((await call('GET', '/chain/transfers', api.keys.auditor)).status).toBe(200);
    await expectNoSideEffects();
    for (const name of ['settlement', 'developers', 'payouts']) expect((await call('POST', `/projections/${name}/resume`, api.keys.operator)).status).toBe(202);
    await waitForProjections('running');
    await expectNoSideEffects();
  });

  it('audits every closed epoch as a match, writing nothing', async () => {
    for (const epoch of [1, 2]) {
      const audit = await call('GET', `/audit/epochs/${epoch}`, api.keys.auditor);
      expect(audit).toMatchObject({ status: 200, body: { epoch, status: 'match' } });
    }
    await expectNoSideEffects();
  });

  it('restarts the engine on the same books without resending a payout, an anchor or a transfer', async () => {
    await api.engine.stop();
    restarted = await startEngine(
      { databaseUrl: api.databaseUrl, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir },
      new Logger('replay-side-effects'),
      { frameworkLogs: false },
    );
    await waitForProjections('running');
    // Reading the settlements and transfers back after the restart sends nothing either.
    for (const epoch of [1, 2]) expect((await call('GET', `/epochs/${epoch}/settlement`, api.keys.operator)).body).toMatchObject({ status: 'settled' });
    expect((await call('GET', '/chain/transfers', api.keys.auditor)).body.transfers).toHaveLength(3);
    await expectNoSideEffects();
  });
});
