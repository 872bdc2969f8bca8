import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { base58Encode } from '../domain/values';
import { createApiKey } from '../src/auth/api-keys';
import { startEngine, type RunningEngine } from '../src/engine';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import { ClaimsCache, EpochClaims } from '../src/epochs/claims-cache';
import { ProjectionReader } from '../src/projections/projection-reader';
import { settlementQueries } from '../projections/settlement';
import type { EventToAppend } from '../src/event-store/event-store';
import { jitoVerify } from './support/jito-verify';
import { createTestDatabase, type TestDatabase } from './support/database';

const SYNQERS = 2_100; // 2,100 leaves: levels of 2100, 1050, 525 (odd), 263 (odd), ... chunks of 1,024 cross at 1024 and 2048
const meta = { actor: 'test', correlationId: 'c', causationId: 'c' };
const event = (type: string, data: Record<string, unknown>): EventToAppend => ({ id: randomUUID(), type, data: data as EventToAppend['data'], metadata: meta });
const wallet = (i: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, j) => (j < 2 ? (i >> (8 * j)) & 0xff : (i * 31 + j * 17) % 256)));

describe('proofs of a distribution larger than a stored chunk', () => {
  let db: TestDatabase;
  let engine: RunningEngine;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    engine = await startEngine(
      { databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir: '/nonexistent-not-used' },
      new Logger('proofs'),
      { frameworkLogs: false },
    );
    const store = engine.eventStore;
    await store.append('network-ledger', [
      event('TreasuryFunded', { amount: '1000000000000', reference: 'seed' }),
      event('EpochOpened', { epoch: 1, start: '2026-01-01T00:00:00Z', end: '2026-01-01T01:00:00Z', rewardPool: '987654321987' }),
    ]);
    for (let from = 0; from < SYNQERS; from += 300) {
      await store.appendMany(
        Array.from({ length: Math.min(300, SYNQERS - from) }, (_, k) => {
          const i = from + k;
          return {
            stream: `synqer-p${i}`,
            events: [event('SynqerRegistered', { synqerId: `p${i}`, payoutWallet: wallet(i), reportingKey: wallet(i), region: 'eu', labels: {} })],
          };
        }),
      );
      await store.appendMany(
        Array.from({ length: Math.min(300, SYNQERS - from) }, (_, k) => {
          const i = from + k;
          return {
            stream: `metrics-p${i}-1`,
            events: [
              event('MetricReportAccepted', {
                reportId: `r${i}`,
                synqerId: `p${i}`,
                epoch: 1,
                periodStart: '2026-01-01T00:00:00Z',
                periodEnd: '2026-01-01T01:00:00Z',
                bytes: String(1_000 + ((i * 7919) % 100_000)),
                sessions: 1 + (i % 9),
                uptimeSeconds: 3600,
                qosBps: 9_000,
                signature: 'not-checked-by-projections',
              }),
            ],
          };
        }),
      );
    }
    await engine.app.get(EpochClosePipeline).close(1, { actor: 'test', correlationId: 'c' });
  }, 120_000);
  afterAll(async () => {
    await engine.stop();
    await db.drop();
  });

  it('serves a proof that verifies for the first, last, chunk-crossing and self-paired leaves and a sample between', async () => {
    const key = (await createApiKey(engine, 'auditor')).key;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const get = async (path: string): Promise<any> => (await fetch(`${engine.url}${path}`, { headers: { authorization: `Bearer ${key}` } })).json();
    const distribution = await get('/epochs/1/distribution');
    expect(distribution).toMatchObject({ leafCount: SYNQERS, total: '987654321987' });
    const { rows } = await engine.database.pool.query<{ generation: number }>(`SELECT generation FROM projection_state WHERE name = 'settlement'`);
    const leaves = await engine.database.pool.query<{ wallet: string; leaf_index: number; amount: string }>(
      `SELECT wallet, leaf_index, amount FROM projection_settlement_g${rows[0].generation}.distribution_leaves WHERE epoch = 1 ORDER BY leaf_index`,
    );
    const indexes = new Set([0, 1, 1022, 1023, 1024, 1025, 2047, 2048, 2049, SYNQERS - 2, SYNQERS - 1]);
    for (let i = 3; i < SYNQERS; i += 97) indexes.add(i);
    let total = 0n;
    for (const leaf of leaves.rows) total += BigInt(leaf.amount);
    expect(total).toBe(987_654_321_987n);
    const answers = new Map<number, unknown>();
    // Before the epoch is in memory, Nest's route answers from the database; once it is, src/epochs/proof-fast-path.ts
    // answers ahead of Nest: the same headers (but Cache-Control) and the same bytes.
    const headersOf = (response: Response) =>
      [...response.headers.entries()].filter(([name]) => !['date', 'cache-control', 'x-correlation-id', 'keep-alive', 'connection'].includes(name)).sort();
    const first = await fetch(`${engine.url}/epochs/1/distribution/${leaves.rows[5].wallet}`, { headers: { authorization: `Bearer ${key}` } });
    const firstBody = await first.text();
    expect(first.headers.get('cache-control')).toBe('no-store');
    for (const index of indexes) {
      const leaf = leaves.rows[index];
      const claim = await get(`/epochs/1/distribution/${leaf.wallet}`);
      expect(claim).toMatchObject({ index, amount: leaf.amount, root: distribution.root });
      expect(claim.proof).toHaveLength(Math.ceil(Math.log2(SYNQERS)));
      expect(jitoVerify(leaf.wallet, BigInt(leaf.amount), claim.proof, distribution.root)).toBe(true);
      expect(jitoVerify(leaf.wallet, BigInt(leaf.amount) - 1n, claim.proof, distribution.root)).toBe(false);
      answers.set(index, claim);
    }

    // The first claim asked for loads the epoch into memory; from then on claims are answered from there: the same
    // answers even once the stored tree levels are gone from the database.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await engine.database.pool.query(`DELETE FROM projection_settlement_g${rows[0].generation}.distribution_nodes WHERE epoch = 1`);
    for (const index of indexes) expect(await get(`/epochs/1/distribution/${leaves.rows[index].wallet}`)).toEqual(answers.get(index));
    const fast = await fetch(`${engine.url}/epochs/1/distribution/${leaves.rows[5].wallet}`, { headers: { authorization: `Bearer ${key}` } });
    expect(await fast.text()).toBe(firstBody);
    expect(headersOf(fast)).toEqual(headersOf(first));
    expect(fast.headers.get('x-correlation-id')).toMatch(/\S/);
    // What the fast path does not answer goes on to Nest's route, refused as before: no key, a bad wallet, a bad epoch.
    expect((await fetch(`${engine.url}/epochs/1/distribution/${leaves.rows[5].wallet}`)).status).toBe(401);
    const badWallet = await fetch(`${engine.url}/epochs/1/distribution/not-a-wallet`, { headers: { authorization: `Bearer ${key}` } });
    expect(badWallet.status).toBe(422);
    expect(await badWallet.json()).toMatchObject({ problems: [{ field: 'wallet' }] });
    const badEpoch = await fetch(`${engine.url}/epochs/0/distribution/${leaves.rows[5].wallet}`, { headers: { authorization: `Bearer ${key}` } });
    expect(badEpoch.status).toBe(422);
    const unknown = await fetch(`${engine.url}/epochs/1/distribution/${base58Encode(new Uint8Array(32).fill(7))}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(unknown.status).toBe(404);
    // A proof of a recorded distribution never changes: cacheable for good by its caller; a refusal is not.
    const cached = await fetch(`${engine.url}/epochs/1/distribution/${leaves.rows[0].wallet}`, { headers: { authorization: `Bearer ${key}` } });
    expect(cached.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(unknown.headers.get('cache-control')).toBe('no-store');
  });

  it('keeps epochs in memory within a bound of bytes, the least recently asked going first; one larger than the bound is never loaded', async () => {
    // Epochs 2 and 3 (the first test removed epoch 1's stored levels): the same wallets, other figures.
    for (const epoch of [2, 3]) {
      const start = `2026-01-01T0${epoch - 1}:00:00Z`;
      const end = `2026-01-01T0${epoch}:00:00Z`;
      await engine.eventStore.append('network-ledger', [event('EpochOpened', { epoch, start, end, rewardPool: `${epoch}23456789012` })]);
      for (let from = 0; from < SYNQERS; from += 300) {
        await engine.eventStore.appendMany(
          Array.from({ length: Math.min(300, SYNQERS - from) }, (_, k) => {
            const i = from + k;
            return {
              stream: `metrics-p${i}-${epoch}`,
              events: [
                event('MetricReportAccepted', {
                  reportId: `r${epoch}-${i}`,
                  synqerId: `p${i}`,
                  epoch,
                  periodStart: start,
                  periodEnd: end,
                  bytes: String(5_000 + ((i * 104_729 * epoch) % 90_000)),
                  sessions: 1 + (i % 7),
                  uptimeSeconds: 3600,
                  qosBps: 9_000,
                  signature: 'not-checked-by-projections',
                }),
              ],
            };
          }),
        );
      }
      await engine.app.get(EpochClosePipeline).close(epoch, { actor: 'test', correlationId: 'c' });
    }
    const reader = engine.app.get(ProjectionReader);
    const wallets = [wallet(0), wallet(SYNQERS - 1)];
    /** The claim as the database path builds it (settlementQueries.claimProof), to compare the cache's with. */
    const fromDatabase = async (epoch: number, w: string) => {
      const rows = await settlementQueries.claimProof(reader, epoch, w);
      return {
        index: rows[0].leaf_index,
        amount: rows[0].amount,
        root: rows[0].root,
        proof: rows.flatMap((row) => (row.level === null ? [] : [row.node!.toString('hex')])),
      };
    };

    const [A, B] = [2, 3];
    const unbounded = new ClaimsCache(reader);
    await unbounded.warm(A);
    const one = unbounded.bytes;
    expect(one).toBeGreaterThan(SYNQERS * 40);
    expect(one).toBeLessThanOrEqual(EpochClaims.estimate(SYNQERS));

    // Room for one epoch: asking for the other evicts it.
    const single = new ClaimsCache(reader, Math.floor(one * 1.5));
    await single.warm(A);
    expect(single.epochs).toEqual([A]);
    const answer = single.claim(A, wallets[0]);
    expect(answer).toEqual(await fromDatabase(A, wallets[0]));
    await single.warm(B);
    expect(single.epochs).toEqual([B]);
    expect(single.bytes).toBeLessThanOrEqual(single.maxBytes);
    expect(single.claim(A, wallets[0])).toBeUndefined(); // not in memory: the database answers, loading starts
    await single.warm(A);
    expect(single.epochs).toEqual([A]);
    expect(single.claim(A, wallets[0])).toEqual(answer);

    // Room for two: kept both, the one asked last is the most recent.
    const double = new ClaimsCache(reader, one * 2 + 1024);
    await double.warm(A);
    await double.warm(B);
    expect(double.claim(A, wallets[1])).toEqual(await fromDatabase(A, wallets[1]));
    expect(double.epochs).toEqual([B, A]);
    // The same answers as the database path gives, byte for byte.
    for (const epoch of [A, B]) for (const w of wallets) expect(double.claim(epoch, w)).toEqual(await fromDatabase(epoch, w));

    // Smaller than one epoch: never loaded, every claim from the database.
    const small = new ClaimsCache(reader, one - 1);
    await small.warm(A);
    expect(small.claim(A, wallets[0])).toBeUndefined();
    await small.warm(A);
    expect(small.epochs).toEqual([]);
    expect(small.bytes).toBe(0);
  });
});
