import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { clawbackDecider, type ClawbackCommand } from '../domain/clawback';
import { claimCosts, epochClaimsDecider, sponsoredSignatures, type EpochClaimsCommand } from '../domain/epoch-claims';
import { evolvePayout, initialPayout, payoutDecider, type PayoutCommand, type PayoutEvent } from '../domain/epoch-payout';
import { policyFor } from '../domain/policy';
import { payoutsProjection, payoutsQueries, PAYOUTS } from '../projections/payouts';
import { projectionSchema, type Projection } from '../projections/projection';
import { ClawbackViews } from '../src/clawback/clawback-views';
import { describeClawback } from '../src/clawback/clawback';
import { decideAndAppend, load } from '../src/commands/streams';
import type { EventStore, RecordedEvent } from '../src/event-store/event-store';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { copyOut, copyRows } from '../src/projections/copy-rows';
import { ProjectionReader } from '../src/projections/projection-reader';
import { ProjectionRunner } from '../src/projections/projection-runner';
import { describePayout, SettleEpoch } from '../src/settlement/settle-epoch';
import { SettlementViews } from '../src/settlement/settlement-views';
import { createTestDatabase, type TestDatabase } from './support/database';

/**
 * The payouts read model (projections/payouts) against the streams it is fed from: each view of an epoch's settlement
 * and clawback is byte for byte what replaying its streams gives, in every state an epoch can be in; an epoch of 300
 * batches is answered with one query and no stream read; a rebuild answers the same; a rewind answers as of its
 * position (and says so) and equals a fresh build stopped there. Events come from the domain's deciders, as the
 * engine records them.
 */

const HYBRID_BATCHES = 300;
const wallet = (i: number) => `W${i}-`.padEnd(44, 'z');
const signature = (tag: string) => `S${tag.padEnd(87, 'x')}`;
let command = 0;
const metadata = () => ({ actor: 'test', correlationId: 'payouts-read-model', commandId: `c${++command}` });

async function payout(store: EventStore, epoch: number, decide: PayoutCommand) {
  await decideAndAppend(store, payoutDecider, epoch, (state) => payoutDecider.decide(decide, state), metadata());
}
async function claims(store: EventStore, epoch: number, decide: EpochClaimsCommand) {
  await decideAndAppend(store, epochClaimsDecider, epoch, (state) => epochClaimsDecider.decide(decide, state), metadata());
}
async function clawback(store: EventStore, epoch: number, decide: ClawbackCommand) {
  await decideAndAppend(store, clawbackDecider, epoch, (state) => clawbackDecider.decide(decide, state), metadata());
}
const attempt = (epoch: number, batch: number, tag: string, terms?: { startVestingTs: string; endVestingTs: string; clawbackStartTs: string }) => ({
  epoch,
  batch,
  signature: signature(tag),
  blockhash: 'B'.repeat(44),
  lastValidBlockHeight: '100',
  wire: Buffer.from(`wire of ${tag}`.repeat(40)).toString('base64'),
  rent: String(2_039_280 * (batch % 3)),
  ...(terms ? { terms } : {}),
});
const plan = (epoch: number, mode: 'web2' | 'hybrid' | 'web3', leafCount: number, maxTransfersPerTransaction = 10) => ({
  epoch,
  mode,
  root: epoch.toString(16).padStart(64, 'a'),
  leafCount,
  total: String(leafCount * 1_000_003),
  leaves: Array.from({ length: leafCount }, (_, i) => ({ accountExists: i % 4 !== 0 })),
  maxTransfersPerTransaction,
  ...(mode === 'web3'
    ? {
        distributor: {
          version: epoch,
          address: `D${epoch}`.padEnd(44, '2'),
          vault: `V${epoch}`.padEnd(44, '3'),
          admin: 'A'.padEnd(44, '4'),
          clawbackReceiver: 'R'.padEnd(44, '5'),
        },
      }
    : {}),
});

/** Epoch 1: hybrid, 300 batches, in progress (failed, expired, re-signed, awaiting); returns the position in its middle. */
async function hybridInProgress(store: EventStore): Promise<bigint> {
  await payout(store, 1, { type: 'PlanSettlement', data: plan(1, 'hybrid', 10 * HYBRID_BATCHES) });
  const batches = Array.from({ length: HYBRID_BATCHES }, (_, i) => i);
  await payout(store, 1, { type: 'RecordSigned', data: { attempts: batches.map((b) => attempt(1, b, `1-${b}-a`)) } });
  await payout(store, 1, {
    type: 'RecordOutcomes',
    data: {
      outcomes: batches.map((b) =>
        b % 20 === 0
          ? { signature: signature(`1-${b}-a`), status: 'failed' as const, slot: 7n, fee: 5000n, error: 'custom program error: 0x1' }
          : b % 20 === 10
            ? { signature: signature(`1-${b}-a`), status: 'expired' as const, blockHeight: 101n }
            : { signature: signature(`1-${b}-a`), status: 'succeeded' as const, slot: BigInt(b), fee: 5000n + BigInt(b) },
      ),
    },
  });
  const middle = await store.lastPosition();
  const retried = batches.filter((b) => b % 10 === 0);
  await payout(store, 1, { type: 'RecordSigned', data: { attempts: retried.map((b) => attempt(1, b, `1-${b}-b`)) } });
  // Half of the second attempts confirmed, the rest still awaiting their outcome.
  await payout(store, 1, {
    type: 'RecordOutcomes',
    data: {
      outcomes: retried.filter((b) => b % 40 === 0).map((b) => ({ signature: signature(`1-${b}-b`), status: 'succeeded' as const, slot: 9n, fee: 5000n })),
    },
  });
  return middle;
}

async function settledEpochs(store: EventStore): Promise<void> {
  // Epoch 2: web2, marked paid in the books.
  await payout(store, 2, { type: 'PlanSettlement', data: plan(2, 'web2', 40) });
  await payout(store, 2, { type: 'CompleteSettlement' });
  // Epoch 3: hybrid, every batch confirmed, settled.
  await payout(store, 3, { type: 'PlanSettlement', data: plan(3, 'hybrid', 45) });
  const three = (await load(store, payoutDecider, 3)).state.batches.map((_, b) => b);
  await payout(store, 3, { type: 'RecordSigned', data: { attempts: three.map((b) => attempt(3, b, `3-${b}`)) } });
  await payout(store, 3, {
    type: 'RecordOutcomes',
    data: { outcomes: three.map((b) => ({ signature: signature(`3-${b}`), status: 'succeeded' as const, slot: 3n, fee: 5000n })) },
  });
  await payout(store, 3, { type: 'CompleteSettlement' });
}

/** Epoch 4: web3, its distributor funded, claims observed and sponsored, clawed back and carried. Epoch 5: web3, a clawback expired. */
async function web3Epochs(store: EventStore): Promise<void> {
  const terms = { startVestingTs: '1000', endVestingTs: '1001', clawbackStartTs: '90000' };
  for (const epoch of [4, 5]) {
    await payout(store, epoch, { type: 'PlanSettlement', data: plan(epoch, 'web3', 12) });
    await payout(store, epoch, { type: 'RecordSigned', data: { attempts: [attempt(epoch, 0, `${epoch}-d`, terms)] } });
    await payout(store, epoch, {
      type: 'RecordOutcomes',
      data: { outcomes: [{ signature: signature(`${epoch}-d`), status: 'succeeded', slot: 40n, fee: 10_000n }] },
    });
    await payout(store, epoch, { type: 'CompleteSettlement' });
  }
  const sponsored = (w: number, tag: string) => ({
    attempt: {
      epoch: 4,
      wallet: wallet(w),
      amount: '1000003',
      signature: signature(tag),
      blockhash: 'B'.repeat(44),
      lastValidBlockHeight: '50',
      wire: 'AAAA',
      sponsor: 'P'.padEnd(44, '6'),
      rentLamports: '2930160',
    },
    minimum: '0',
    claimedOnChain: false,
  });
  await claims(store, 4, { type: 'SignSponsoredClaim', data: sponsored(1, 'sp1') });
  await claims(store, 4, {
    type: 'RecordSponsoredOutcome',
    data: { wallet: wallet(1), signature: signature('sp1'), status: 'succeeded', slot: 41n, fee: 10_000n },
  });
  await claims(store, 4, { type: 'SignSponsoredClaim', data: sponsored(2, 'sp2') });
  await claims(store, 4, {
    type: 'RecordSponsoredOutcome',
    data: { wallet: wallet(2), signature: signature('sp2'), status: 'failed', slot: 42n, fee: 10_000n, error: 'x' },
  });
  await claims(store, 4, { type: 'SignSponsoredClaim', data: sponsored(3, 'sp3') });
  await claims(store, 4, { type: 'RecordSponsoredOutcome', data: { wallet: wallet(3), signature: signature('sp3'), status: 'expired', blockHeight: 51n } });
  await claims(store, 4, { type: 'SignSponsoredClaim', data: sponsored(3, 'sp3b') });
  const sighting = (w: number, feePayer: string, tag: string) => ({
    epoch: 4,
    wallet: wallet(w),
    amount: '1000003',
    claimStatus: `C${w}`.padEnd(44, '7'),
    signature: signature(tag),
    slot: String(60 + w),
    feePayer,
    fee: '5000',
    rentLamports: '1559040',
    leafAmount: '1000003',
  });
  await claims(store, 4, {
    type: 'ObserveClaims',
    data: { sightings: [sighting(1, 'P'.padEnd(44, '6'), 'sp1'), sighting(5, wallet(5), 'own5'), sighting(6, wallet(6), 'own6')] },
  });
  // Seen without the chain telling who paid: not counted as paid by the claimant.
  await claims(store, 4, { type: 'ObserveClaims', data: { sightings: [{ ...sighting(7, '', ''), feePayer: undefined, fee: undefined, signature: '' }] } });

  const window = (epoch: number) => ({ epoch, distributor: { address: `D${epoch}`.padEnd(44, '2'), clawbackStartTs: '90000' }, chainNow: 90_001n });
  const clawbackAttempt = (tag: string) => ({
    signature: signature(tag),
    blockhash: 'B'.repeat(44),
    lastValidBlockHeight: '70',
    wire: 'AAAA',
    vaultBefore: '9000027',
    claimedBefore: '3000009',
  });
  await clawback(store, 4, { type: 'SignClawback', data: { window: window(4), attempt: clawbackAttempt('cb4a') } });
  await clawback(store, 4, { type: 'RecordClawbackOutcome', data: { signature: signature('cb4a'), status: 'failed', slot: 80n, fee: 5000n, error: 'boom' } });
  await clawback(store, 4, { type: 'SignClawback', data: { window: window(4), attempt: clawbackAttempt('cb4b') } });
  await clawback(store, 4, {
    type: 'RecordClawbackOutcome',
    data: {
      signature: signature('cb4b'),
      status: 'succeeded',
      slot: 81n,
      fee: 5000n,
      vaultAfter: 0n,
      claimedAfter: 3000009n,
      unclaimed: [0, 2, 3, 4, 8, 9, 10, 11].map((w) => ({ wallet: wallet(w), amount: '1000003' })),
    },
  });
  await clawback(store, 4, { type: 'ApplyUnclaimedPolicy', data: { epoch: 4, policy: 'carry' } });
  await clawback(store, 5, { type: 'SignClawback', data: { window: window(5), attempt: clawbackAttempt('cb5') } });
  await clawback(store, 5, { type: 'RecordClawbackOutcome', data: { signature: signature('cb5'), status: 'expired', blockHeight: 71n } });
}

/** Every table of a schema, rows sorted: two schemas with equal dumps hold the same read model. */
async function dump(pool: Pool, schema: string): Promise<Record<string, string[]>> {
  const { rows: tables } = await pool.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
    [schema],
  );
  const result: Record<string, string[]> = {};
  for (const { table_name: table } of tables) {
    const { rows } = await pool.query(`SELECT to_jsonb(t) AS row FROM ${schema}.${table} t`);
    result[table] = rows.map((r) => JSON.stringify(r.row)).sort();
  }
  return result;
}

/** The projection's own apply over every event up to `position` in log order, in batches of `batch`, into a new schema. */
async function freshBuild(pool: Pool, store: EventStore, projection: Projection, position: bigint, batch: number): Promise<string> {
  const schema = `fresh_${randomUUID().slice(0, 8)}`;
  const client = await pool.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}, public`);
    await client.query(projection.tables);
    let events: RecordedEvent[] = [];
    const flush = async () => {
      await client.query('BEGIN');
      await projection.apply(
        events.filter((e) => projection.eventTypes.has(e.type)),
        { sql: client, history: store, copy: (table, columns, rows) => copyRows(client, table, columns, rows), copyOut: (query) => copyOut(client, query) },
      );
      await client.query('COMMIT');
      events = [];
    };
    for await (const recorded of store.readAll()) {
      if (recorded.position > position) break;
      events.push(recorded);
      if (events.length === batch) await flush();
    }
    await flush();
    await client.query('SET search_path TO public');
  } finally {
    client.release();
  }
  return schema;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('payouts read model', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;
  let reader: ProjectionReader;
  let middle: bigint;
  const EPOCHS = [1, 2, 3, 4, 5];

  const state = async () => (await db.pool.query('SELECT * FROM projection_state WHERE name = $1', [PAYOUTS])).rows[0];
  const liveSchema = async () => projectionSchema(PAYOUTS, (await state()).generation);
  /** What `GET /epochs/{n}/settlement` answered before the read model: the streams replayed. */
  const replayedSettlement = (epoch: number) => new SettleEpoch(store, null as never, null as never).view(epoch);
  const replayedClawback = async (epoch: number) => describeClawback(epoch, (await load(store, clawbackDecider, epoch)).state);

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore(db.pool);
    reader = new ProjectionReader(db.pool);
    middle = await hybridInProgress(store);
    await settledEpochs(store);
    // An event of a handled type in a stream that is not the read model's: left alone.
    await store.append('audit-9', [
      { id: randomUUID(), type: 'EpochSettled', data: { epoch: 99 }, metadata: { actor: 't', correlationId: 'c', causationId: 'c' } },
    ]);
    await web3Epochs(store);
    // Small batches: the three categories are read side by side, each filling its read many times over.
    runner = new ProjectionRunner({
      pool: db.pool,
      connection: { connectionString: db.url },
      store,
      projections: [payoutsProjection],
      instanceId: 'payouts-test',
      batchSize: 7,
      idleMs: 10,
      takeOverMs: 50,
    });
    runner.start();
    await runner.waitFor();
  }, 180_000);
  afterAll(async () => {
    await runner?.stop();
    await store?.close();
    await db?.drop();
  });

  it('answers every epoch’s settlement and clawback byte for byte as replaying its streams does, with its position', async () => {
    const views = new SettlementViews(store, reader, runner);
    const log = await store.lastPosition();
    for (const epoch of EPOCHS) {
      const { view, positions } = await views.settlement(epoch);
      expect(JSON.stringify(view)).toBe(JSON.stringify(await replayedSettlement(epoch)));
      expect(positions).toEqual({ projection: log, log });
    }
    expect((await views.settlement(1)).view).toMatchObject({
      status: 'in_progress',
      transactions: { planned: 300, confirmed: 278, awaiting: 22, failed: 0, expired: 0 },
    });
    expect((await views.settlement(4)).view.cost.claims).toEqual({ claims: 4, sponsoredClaims: 1, claimantLamports: '3128080', sponsorLamports: '2950160' });
    await expect(views.settlement(6)).rejects.toMatchObject({ kind: 'not_found', problems: [{ field: 'epoch' }] });

    const clawbacks = new ClawbackViews(store, reader, runner);
    for (const epoch of [4, 5]) expect(JSON.stringify((await clawbacks.clawback(epoch)).view)).toBe(JSON.stringify(await replayedClawback(epoch)));
    expect((await clawbacks.clawback(4)).view).toMatchObject({ status: 'clawed_back', attempts: 2, unclaimed: { count: 8 }, policy: 'carry' });
    await expect(clawbacks.clawback(3)).rejects.toMatchObject({ kind: 'not_found', problems: [{ field: 'epoch' }] });
  });

  it('lists an epoch’s claims as its stream says: totals, and each wallet seen, sponsored or not', async () => {
    const folded = (await load(store, epochClaimsDecider, 4)).state;
    const costs = claimCosts(folded);
    const sponsoredBy = sponsoredSignatures(folded);
    const wallets = Array.from({ length: 12 }, (_, i) => wallet(i));
    const { value } = await payoutsQueries.claimListing(reader, 4, wallets);
    const observed = [...folded.observed.values()];
    expect(value!.observed).toEqual({ count: observed.length, amount: observed.reduce((sum, claim) => sum + BigInt(claim.amount), 0n).toString() });
    expect(value!.sponsored).toEqual({ count: costs.sponsoredClaims, sponsorLamports: costs.sponsorLamports.toString() });
    expect(value!.claims.sort((a, b) => a.wallet.localeCompare(b.wallet))).toEqual(
      observed
        .map((claim) => ({ wallet: claim.wallet, slot: claim.slot, signature: claim.signature, sponsored: sponsoredBy.has(claim.signature) }))
        .sort((a, b) => a.wallet.localeCompare(b.wallet)),
    );
  });

  it(`answers an epoch of ${HYBRID_BATCHES} batches with one query of the read model and no read of its streams`, async () => {
    const streamsRead: string[] = [];
    const counted = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'readStream')
          return (stream: string, options?: object) => {
            streamsRead.push(stream);
            return target.readStream(stream, options);
          };
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    let queries = 0;
    const countingReader = {
      query: (...args: Parameters<ProjectionReader['query']>) => {
        queries++;
        return reader.query(...args);
      },
    } as unknown as ProjectionReader;
    const { view } = await new SettlementViews(counted, countingReader, runner).settlement(1);
    expect(view.batches).toHaveLength(HYBRID_BATCHES);
    expect(queries).toBe(1);
    expect(streamsRead.filter((stream) => !stream.startsWith('network-'))).toEqual([]);
  });

  it('rebuilds into a new generation that answers the same, and equals a fresh build of the log', async () => {
    const views = new SettlementViews(store, reader, runner);
    const before = await Promise.all(EPOCHS.map(async (epoch) => JSON.stringify((await views.settlement(epoch)).view)));
    const generation = (await state()).generation;
    await runner.request(PAYOUTS, { action: 'rebuild' });
    await until(async () => {
      const row = await state();
      return row.generation > generation && row.building_generation === null && row.status === 'running';
    });
    expect(await Promise.all(EPOCHS.map(async (epoch) => JSON.stringify((await views.settlement(epoch)).view)))).toEqual(before);
    const fresh = await freshBuild(db.pool, store, payoutsProjection, await store.lastPosition(), 500);
    expect(await dump(db.pool, await liveSchema())).toEqual(await dump(db.pool, fresh));
  });

  it('rewinds to a position: answers as of it without waiting, says so in its position, equals a fresh build there, and resumes', async () => {
    await runner.request(PAYOUTS, { action: 'rewind', toPosition: middle });
    await until(async () => {
      const row = await state();
      return row.status === 'paused' && row.building_generation === null && BigInt(row.position) === middle;
    });
    const fresh = await freshBuild(db.pool, store, payoutsProjection, middle, 3);
    expect(await dump(db.pool, await liveSchema())).toEqual(await dump(db.pool, fresh));

    // A paused projection is not waited for (a wait of a minute would fail this test's time limit).
    const views = new SettlementViews(store, reader, runner, 60_000);
    const started = Date.now();
    const { view, positions } = await views.settlement(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    const log = await store.lastPosition();
    expect(positions).toEqual({ projection: middle, log });
    // What the stream said at that position.
    let folded = initialPayout();
    for await (const event of store.readStream('payout-1')) {
      if (event.position <= middle) folded = evolvePayout(folded, { type: event.type, data: event.data } as PayoutEvent);
    }
    expect(JSON.stringify(view)).toBe(JSON.stringify(describePayout(folded, policyFor([], 1).solPriceInSynq)));
    expect(view.transactions).toMatchObject({ failed: 15, expired: 15, awaiting: 0 });
    await expect(views.settlement(2)).rejects.toMatchObject({ kind: 'not_found' });

    await runner.request(PAYOUTS, { action: 'resume' });
    await runner.waitFor();
    for (const epoch of EPOCHS) expect(JSON.stringify((await views.settlement(epoch)).view)).toBe(JSON.stringify(await replayedSettlement(epoch)));
  });
});
