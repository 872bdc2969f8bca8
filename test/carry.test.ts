import { randomUUID } from 'node:crypto';
import { type UnclaimedRewardsCarried } from '../domain/carry';
import { clawbackStream } from '../domain/clawback';
import { settlementQueries } from '../projections/settlement';
import { Audit } from '../src/audit/audit';
import type { JsonObject } from '../src/event-store/event-store';
import { ProjectionReader } from '../src/projections/projection-reader';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { registerSynqers, runAndCloseEpoch, type ReportFigures, type TestSynqer } from './support/network';

/**
 * Minimum payout, carried forward (issue 15 item 7), against a real engine: a synqer whose reward is below the policy's
 * minimum has no leaf in epoch 1 and gets its amount in its epoch-2 leaf; unclaimed leaves carried
 * (`UnclaimedRewardsCarried`) enter the next epoch closed after them; the audit replays both.
 */

const MINIMUM = 10_000_000n; // 10 $SYNQ
const POOL = '1000000000';

describe('minimum payout, carried forward', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let reader: ProjectionReader;
  const op = () => api.keys.operator;
  const walletOf = (synqer: TestSynqer) => synqer.wallet.publicKey.toBase58();
  // s0 relays almost nothing in epoch 1 (a reward far below the minimum), as much as the others later.
  const small: ReportFigures = { bytes: 1_000, sessions: 1 };
  const big = (i: number): ReportFigures => ({ bytes: 1_000_000_000 * (i + 1), sessions: 1_000 });
  const rewardOf = async (epoch: number, synqer: TestSynqer) => {
    const results = (await api.call('GET', `/epochs/${epoch}/rewards`, api.keys.auditor)).body.results as { synqerId: string; reward: string }[];
    return BigInt(results.find((r) => r.synqerId === synqer.synqerId)!.reward);
  };
  const leafOf = async (epoch: number, synqer: TestSynqer) => {
    const claim = await api.call('GET', `/epochs/${epoch}/distribution/${walletOf(synqer)}`, api.keys.auditor);
    return claim.status === 200 ? BigInt(claim.body.amount) : undefined;
  };
  const epochEvents = async (epoch: number) => {
    const events: { type: string; data: Record<string, unknown> }[] = [];
    for await (const event of api.engine.eventStore.readStream(`epoch-${epoch}`))
      events.push({ type: event.type, data: event.data as Record<string, unknown> });
    return events;
  };
  const audit = () => new Audit(api.engine.eventStore, reader).run();

  beforeAll(async () => {
    api = await startTestApi();
    reader = new ProjectionReader(api.engine.database.pool);
    synqers = await registerSynqers(api, 4);
    expect((await api.call('POST', '/treasury/fundings', op(), { amount: '100000000000', reference: 'carry-seed' })).status).toBe(201);
    const inForce = (await api.call('GET', '/policy', api.keys.auditor)).body.inForce;
    const { version: _version, effectiveFromEpoch: _from, ...parameters } = inForce;
    const adopted = await api.call('POST', '/policy', op(), { ...parameters, minimumPayout: MINIMUM.toString() });
    expect(adopted.status).toBe(201);
    expect(adopted.body.adopted.at(-1)).toMatchObject({ effectiveFromEpoch: 1, minimumPayout: MINIMUM.toString() });
  });

  afterAll(async () => {
    if (api) await expectMoneyInvariants(api);
    await api?.close();
  });

  it('leaves a reward below the minimum out of the tree and records it carried out', async () => {
    await runAndCloseEpoch(api, 1, POOL, synqers, { figures: (_, i) => (i === 0 ? small : big(i)) });
    const reward = await rewardOf(1, synqers[0]);
    expect(reward > 0n && reward < MINIMUM).toBe(true);
    expect(await leafOf(1, synqers[0])).toBeUndefined();
    for (const synqer of synqers.slice(1)) expect(await leafOf(1, synqer)).toBe(await rewardOf(1, synqer));

    const [rewards, built, carried, ...rest] = await epochEvents(1);
    expect(rest).toEqual([]);
    expect(rewards.data.paid).toBe(POOL);
    expect(built).toMatchObject({
      type: 'EpochDistributionBuilt',
      data: { leafCount: 3, total: (BigInt(POOL) - reward).toString(), carriedIn: '0', carriedOut: reward.toString() },
    });
    expect(carried).toEqual({
      type: 'RewardsCarriedForward',
      data: { epoch: 1, carriedIn: [], carriedOut: [{ wallet: walletOf(synqers[0]), amount: reward.toString() }] },
    });
    expect(await settlementQueries.carriedBalances(reader)).toEqual([{ wallet: walletOf(synqers[0]), amount: reward.toString() }]);
  });

  it("pays the carried amount in the wallet's next leaf once it reaches the minimum", async () => {
    const carried = await rewardOf(1, synqers[0]);
    await runAndCloseEpoch(api, 2, POOL, synqers, { figures: (_, i) => big(i) });
    const reward = await rewardOf(2, synqers[0]);
    expect(reward >= MINIMUM).toBe(true);
    expect(await leafOf(2, synqers[0])).toBe(reward + carried);

    const [, built, forward] = await epochEvents(2);
    expect(built.data).toMatchObject({ leafCount: 4, total: (BigInt(POOL) + carried).toString(), carriedIn: carried.toString(), carriedOut: '0' });
    expect(forward).toEqual({
      type: 'RewardsCarriedForward',
      data: { epoch: 2, carriedIn: [{ wallet: walletOf(synqers[0]), amount: carried.toString() }], carriedOut: [] },
    });
    expect(await settlementQueries.carriedBalances(reader)).toEqual([]);
  });

  it('adds unclaimed leaves carried after a clawback to the next epoch closed after them', async () => {
    const unclaimed: UnclaimedRewardsCarried = { epoch: 2, entries: [{ wallet: walletOf(synqers[1]), amount: '1234' }], total: '1234' };
    await api.engine.eventStore.append(clawbackStream(2), [
      {
        id: randomUUID(),
        type: 'UnclaimedRewardsCarried',
        data: unclaimed as unknown as JsonObject,
        metadata: { actor: 'test', correlationId: 'clawback-2', causationId: 'clawback-2' },
      },
    ]);
    await runAndCloseEpoch(api, 3, POOL, synqers, { figures: (_, i) => big(i) });
    expect(await leafOf(3, synqers[1])).toBe((await rewardOf(3, synqers[1])) + 1234n);
    const [, built] = await epochEvents(3);
    expect(built.data).toMatchObject({ total: (BigInt(POOL) + 1234n).toString(), carriedIn: '1234', carriedOut: '0' });
  });

  it("the audit's replay gives the same roots, totals and carries", async () => {
    const report = await audit();
    expect(report.epochs.map((epoch) => [epoch.epoch, epoch.status, epoch.mismatches])).toEqual([
      [1, 'match', []],
      [2, 'match', []],
      [3, 'match', []],
    ]);
    const one = await new Audit(api.engine.eventStore, reader).run({ epoch: 2 });
    expect(one.epochs).toMatchObject([{ epoch: 2, status: 'match' }]);
  });

  it("rewinds the carried balances with the read model: at epoch 2's cut-off s0's carry is outstanding again, and paid after resuming", async () => {
    const status = async () =>
      ((await api.call('GET', '/projections', api.keys.auditor)).body.projections as { name: string; status: string; lagEvents: string }[]).find(
        (p) => p.name === 'settlement',
      )!;
    const waitFor = async (wanted: string) => {
      const reached = async () => ((projection) => projection.status === wanted && (wanted === 'paused' || projection.lagEvents === '0'))(await status());
      for (let i = 0; i < 500 && !(await reached()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await status()).toMatchObject({ status: wanted });
    };
    expect((await api.call('POST', '/projections/settlement/rewind', op(), { toEpoch: 2 })).status).toBe(202);
    await waitFor('paused');
    expect(await settlementQueries.carriedBalances(reader)).toEqual([{ wallet: walletOf(synqers[0]), amount: (await rewardOf(1, synqers[0])).toString() }]);
    expect((await api.call('POST', '/projections/settlement/resume', op(), {})).status).toBe(202);
    await waitFor('running');
    expect(await settlementQueries.carriedBalances(reader)).toEqual([]);
    expect((await audit()).ok).toBe(true);
  });

  it('finds a tampered carry in the read model', async () => {
    const schema = (await api.engine.database.pool.query(`SELECT generation FROM projection_state WHERE name = 'settlement'`)).rows[0].generation as number;
    const table = `projection_settlement_g${schema}.carries`;
    await api.engine.database.pool.query(`UPDATE ${table} SET amount = amount + 1 WHERE epoch = 1`);
    try {
      const report = await audit();
      expect(report.epochs[0]).toMatchObject({ epoch: 1, status: 'mismatch', mismatches: [{ source: 'projection', table: 'carries', field: 'carriedOut' }] });
    } finally {
      await api.engine.database.pool.query(`UPDATE ${table} SET amount = amount - 1 WHERE epoch = 1`);
    }
  });
});
