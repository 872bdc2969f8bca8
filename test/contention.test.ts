import { Pool } from 'pg';
import type { Decider } from '../domain/decider';
import { CommandRejected, reject } from '../domain/rejection';
import { decideAndAppend } from '../src/commands/streams';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { startTestApi, type TestApi } from './support/api';
import { createTestDatabase } from './support/database';
import { registerSynqers } from './support/network';

/** An account holding 30 units; each command spends one. */
type Spend = { type: 'Spent'; data: { spendId: string } };
const account: Decider<{ balance: number }, Spend, { spendId: string }> = {
  streamOf: () => 'contended-account',
  initial: () => ({ balance: 30 }),
  evolve: (state) => ({ balance: state.balance - 1 }),
  decide: ({ spendId }, state) => (state.balance > 0 ? [{ type: 'Spent', data: { spendId } }] : reject('conflict', 'amount', 'exceeds the balance (0)')),
};

/**
 * Issue 14, item 8: commands on one stream never refuse good money for contention. Of 50 concurrent commands with funds
 * for exactly 10, exactly 10 go through and 40 are refused for lack of funds (never "kept changing").
 */
describe('50 concurrent commands on one stream with funds for 10', () => {
  let api: TestApi;
  const TOKEN = 1_000_000n;

  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  async function race(send: (i: number) => Promise<{ status: number; body: { problems?: { field: string; reason: string }[] } }>) {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => send(i)));
    const statuses = answers.map((answer) => answer.status);
    const refusals = answers.filter((answer) => answer.status !== 201).map((answer) => answer.body.problems);
    return { ok: statuses.filter((status) => status === 201).length, refused: statuses.filter((status) => status === 409).length, refusals };
  }

  it('burns tokens, then consumes credits: exactly 10 each, the rest refused for the balance', async () => {
    const wallet = (await registerSynqers(api, 1, 'walletof'))[0].wallet.publicKey.toBase58();
    expect((await api.call('POST', '/developers', api.keys.operator, { developerId: 'dev1', wallet })).status).toBe(201);
    const purchase = { purchaseId: 'p1', amount: (10n * TOKEN).toString(), paymentReference: 'invoice-1' };
    expect((await api.call('POST', '/developers/dev1/purchases', api.keys.operator, purchase)).status).toBe(201);

    const burns = await race((i) => api.call('POST', '/developers/dev1/burns', api.keys.developer, { burnId: `b${i}`, amount: TOKEN.toString() }));
    expect({ ok: burns.ok, refused: burns.refused }).toEqual({ ok: 10, refused: 40 });
    for (const problems of burns.refusals) expect(problems).toEqual([{ field: 'amount', reason: 'exceeds the token balance (0 base units)' }]);
    const account = (await api.call('GET', '/developers/dev1', api.keys.operator)).body;
    expect(account.tokenBalance).toBe('0');

    const credits = BigInt(account.credits);
    expect(credits % 10n).toBe(0n);
    const usages = await race((i) =>
      api.call('POST', '/developers/dev1/usage', api.keys.ingest, { usageId: `u${i}`, credits: (credits / 10n).toString(), sessionReference: `s${i}` }),
    );
    expect({ ok: usages.ok, refused: usages.refused }).toEqual({ ok: 10, refused: 40 });
    for (const problems of usages.refusals) expect(problems).toEqual([{ field: 'credits', reason: 'exceeds the credit balance (0)' }]);
    expect((await api.call('GET', '/developers/dev1', api.keys.operator)).body.credits).toBe('0');
  });

  it('requests unstakes: exactly 10, the rest refused for the active stake', async () => {
    const [synqer] = await registerSynqers(api, 1, 'staker');
    const path = `/synqers/${synqer.synqerId}/stake`;
    expect((await api.call('POST', `${path}/deposits`, api.keys.operator, { depositId: 'd1', amount: (10n * TOKEN).toString() })).status).toBe(201);

    const unstakes = await race((i) => api.call('POST', `${path}/unstake-requests`, api.keys.operator, { requestId: `r${i}`, amount: TOKEN.toString() }));
    expect({ ok: unstakes.ok, refused: unstakes.refused }).toEqual({ ok: 10, refused: 40 });
    for (const problems of unstakes.refusals) expect(problems).toEqual([{ field: 'amount', reason: 'exceeds the active stake (0 base units)' }]);
  });

  it('retries conflicts with writers in other processes (10 stores of their own, 100 commands, funds for 30) until the books refuse', async () => {
    const db = await createTestDatabase();
    const pools = Array.from({ length: 10 }, () => {
      const pool = new Pool({ connectionString: db.url, max: 10 });
      // pool.end() resolves before its sockets close, so the database's DROP ... WITH (FORCE) may still terminate one.
      pool.on('error', () => undefined);
      return pool;
    });
    try {
      const stores = pools.map((pool) => new PostgresEventStore(pool));
      const outcomes = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          decideAndAppend(stores[i % stores.length], account, undefined, (state) => account.decide({ spendId: `s${i}` }, state), {
            actor: 'test',
            correlationId: `c${i}`,
            commandId: `s${i}`,
          }).then(
            () => 'spent',
            (error: unknown) => (error instanceof CommandRejected ? error.problems[0].reason : String(error)),
          ),
        ),
      );
      expect(outcomes.filter((outcome) => outcome === 'spent')).toHaveLength(30);
      expect(outcomes.filter((outcome) => outcome !== 'spent')).toEqual(Array(70).fill('exceeds the balance (0)'));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await db.drop();
    }
  });
});
