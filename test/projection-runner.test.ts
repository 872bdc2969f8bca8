import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Pool } from 'pg';
import { projectionSchema, type Projection } from '../projections/projection';
import { settlementProjection } from '../projections/settlement';
import { base58Encode } from '../domain/values';
import type { EventToAppend, RecordedEvent } from '../src/event-store/event-store';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { copyOut, copyRows } from '../src/projections/copy-rows';
import { ProjectionRunner } from '../src/projections/projection-runner';
import { PROJECTIONS } from '../src/projections/projections';
import { createTestDatabase, type TestDatabase } from './support/database';

const SYNQERS = 12;
const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;
const wallet = (i: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, j) => (i * 13 + j * 7 + 1) % 256));
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const meta = { actor: 'test', correlationId: 'c', causationId: 'c' };
const event = (type: string, data: Record<string, unknown>): EventToAppend => ({ id: randomUUID(), type, data: data as EventToAppend['data'], metadata: meta });

/** Synqers, epoch 1 (two hours), reports of one minute each, appended ten to a stream at a time. */
async function appendNetwork(store: PostgresEventStore, reportsPerSynqer: number, epoch = 1, firstMinute = 0, open = true): Promise<void> {
  if (epoch === 1) {
    for (let i = 0; i < SYNQERS; i++) {
      await store.append(`synqer-s${i}`, [
        event('SynqerRegistered', { synqerId: `s${i}`, payoutWallet: wallet(i % 10), reportingKey: wallet(100 + i), region: 'eu', labels: {} }),
      ]);
    }
  }
  if (open) {
    await store.append('network-ledger', [
      event('EpochOpened', { epoch, start: instant(EPOCH_START + (epoch - 1) * 7200), end: instant(EPOCH_START + epoch * 7200), rewardPool: '1000000007' }),
    ]);
  }
  for (let minute = firstMinute; minute < firstMinute + reportsPerSynqer; minute += 10) {
    for (let i = 0; i < SYNQERS; i++) {
      const reports = Array.from({ length: 10 }, (_, k) => {
        const start = EPOCH_START + (epoch - 1) * 7200 + (minute + k) * 60;
        return event('MetricReportAccepted', {
          reportId: `e${epoch}-s${i}-${minute + k}`,
          synqerId: `s${i}`,
          epoch,
          periodStart: instant(start),
          periodEnd: instant(start + 60),
          bytes: String(1_000 + i * 977 + (minute + k) * 13),
          sessions: 1 + ((i + minute + k) % 7),
          uptimeSeconds: 60 - (i % 3),
          qosBps: 7_000 + i * 100,
          signature: 'not-checked-by-projections',
        });
      });
      await store.append(`metrics-s${i}-${epoch}`, reports);
    }
  }
}

async function liveSchema(pool: Pool, name: string): Promise<string> {
  const { rows } = await pool.query<{ generation: number }>('SELECT generation FROM projection_state WHERE name = $1', [name]);
  return projectionSchema(name, rows[0].generation);
}

/** Every table of a projection's schema, rows sorted: two schemas with equal dumps hold the same read model. */
async function dump(pool: Pool, schema: string): Promise<Record<string, unknown[]>> {
  const { rows: tables } = await pool.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
    [schema],
  );
  const result: Record<string, unknown[]> = {};
  for (const { table_name: table } of tables) {
    const { rows } = await pool.query(`SELECT to_jsonb(t) AS row FROM ${schema}.${table} t`);
    result[table] = rows.map((r) => JSON.stringify(r.row)).sort();
  }
  return result;
}

/** A fresh build stopped at `position`, by the projection's own apply over the events up to it, in batches of `batch`. */
async function freshBuild(pool: Pool, store: PostgresEventStore, projection: Projection, position: bigint, batch: number): Promise<string> {
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

async function state(pool: Pool, name: string) {
  const { rows } = await pool.query('SELECT * FROM projection_state WHERE name = $1', [name]);
  return rows[0];
}

async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('projection runner', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const runners: ProjectionRunner[] = [];
  const newRunner = (instanceId: string, batchSize = 100) => {
    const runner = new ProjectionRunner({
      pool: db.pool,
      connection: { connectionString: db.url },
      store,
      projections: PROJECTIONS,
      instanceId,
      batchSize,
      idleMs: 10,
      takeOverMs: 50,
    });
    runners.push(runner);
    return runner;
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore(db.pool);
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
    await store.close();
    await db.drop();
  });

  it('counts every report exactly once when its process is killed mid-batch again and again', async () => {
    await appendNetwork(store, 600);
    const last = await store.lastPosition();
    const child = (): ChildProcess =>
      spawn(process.execPath, [path.join(__dirname, '..', 'dist', 'test', 'support', 'projection-child.js')], {
        env: { ...process.env, DATABASE_URL: db.url, BATCH_SIZE: '37' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const killedAt: bigint[] = [];
    for (let round = 1; round <= 5; round++) {
      const before = BigInt((await state(db.pool, 'settlement'))?.position ?? 0);
      const running = child();
      // Killed once it has gone a random way past where the last one stopped, so always in the middle of its work.
      const threshold = before + BigInt(Math.floor((Number(last - before) * (0.1 + Math.random() * 0.15)) / 1));
      await until(async () => BigInt((await state(db.pool, 'settlement'))?.position ?? 0) >= threshold);
      running.kill('SIGKILL');
      await new Promise((resolve) => running.once('exit', resolve));
      killedAt.push(BigInt((await state(db.pool, 'settlement')).position));
    }
    expect(killedAt.filter((p) => p > 0n && p < last).length).toBe(5);
    expect([...killedAt].sort((a, b) => (a < b ? -1 : 1))).toEqual(killedAt);

    const last1 = child();
    await until(async () => BigInt((await state(db.pool, 'settlement')).position) === last && BigInt((await state(db.pool, 'developers')).position) === last);
    last1.kill('SIGTERM');
    await new Promise((resolve) => last1.once('exit', resolve));

    // The totals are exactly the sums of the reports appended, computed here from the log.
    const expected = new Map<string, { bytes: bigint; reports: number }>();
    for await (const recorded of store.readAll({ category: 'metrics' })) {
      const data = recorded.data as { synqerId: string; bytes: string };
      const entry = expected.get(data.synqerId) ?? { bytes: 0n, reports: 0 };
      expected.set(data.synqerId, { bytes: entry.bytes + BigInt(data.bytes), reports: entry.reports + 1 });
    }
    const schema = await liveSchema(db.pool, 'settlement');
    const { rows } = await db.pool.query<{ synqer_id: string; bytes: string; reports: number }>(
      `SELECT synqer_id, bytes, reports FROM ${schema}.metric_totals`,
    );
    expect(rows).toHaveLength(SYNQERS);
    for (const row of rows) expect({ bytes: BigInt(row.bytes), reports: row.reports }).toEqual(expected.get(row.synqer_id));
    // And the tables equal a fresh build's, whatever the batches were.
    const fresh = await freshBuild(db.pool, store, settlementProjection, last, 1000);
    expect(await dump(db.pool, schema)).toEqual(await dump(db.pool, fresh));
  }, 120_000);

  it('lets one instance process each projection at a time, and another take over when it stops', async () => {
    await appendNetwork(store, 20);
    const a = newRunner('instance-a');
    a.start();
    await a.waitFor();
    const b = newRunner('instance-b');
    b.start();
    await appendNetwork(store, 20, 2);
    await b.waitFor();
    // Exactly one session holds each projection's lock (in this database: other test files run their own), and it is a's.
    const { rows: locks } = await db.pool.query(`SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND classid = 735813 AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect(locks[0].held).toBe(PROJECTIONS.length);
    for (const projection of PROJECTIONS) expect((await state(db.pool, projection.name)).owner).toBe('instance-a');

    await a.stop();
    await appendNetwork(store, 20, 3);
    await b.waitFor({ timeoutMs: 10_000 });
    for (const projection of PROJECTIONS) expect((await state(db.pool, projection.name)).owner).toBe('instance-b');
    const schema = await liveSchema(db.pool, 'settlement');
    const { rows } = await db.pool.query(
      `SELECT epoch, count(*)::int AS synqers, sum(reports)::int AS reports FROM ${schema}.metric_totals GROUP BY epoch ORDER BY epoch`,
    );
    expect(rows).toEqual([1, 2, 3].map((epoch) => ({ epoch, synqers: SYNQERS, reports: SYNQERS * 20 })));
  });

  it('rewinds to a position: the tables become what a fresh build stopped there gives, pause, and resume to the head', async () => {
    await appendNetwork(store, 60);
    const middle = await store.lastPosition();
    // Epoch 1 closes with a cut-off before its last reports (they lost the race): they must not count.
    const lateReports = await store.lastPosition();
    await appendNetwork(store, 0, 2);
    await store.append('metrics-s0-1', [
      event('MetricReportAccepted', {
        reportId: 'late',
        synqerId: 's0',
        epoch: 1,
        periodStart: instant(EPOCH_START + 7000),
        periodEnd: instant(EPOCH_START + 7060),
        bytes: '999999999',
        sessions: 5,
        uptimeSeconds: 60,
        qosBps: 10_000,
        signature: 'x',
      }),
    ]);
    await store.append('network-ledger', [event('EpochClosed', { epoch: 1, cutOffPosition: lateReports.toString() })]);
    const closed = await store.lastPosition();
    await appendNetwork(store, 30, 2, 0, false);
    const runner = newRunner('rewinder', 64);
    runner.start();
    await runner.waitFor();
    const liveBefore = await liveSchema(db.pool, 'settlement');
    const { rows: epoch1 } = await db.pool.query(`SELECT status, paid, root, leaf_count FROM ${liveBefore}.epochs WHERE epoch = 1`);
    expect(epoch1[0]).toMatchObject({ status: 'closed', paid: '1000000007' });
    expect(epoch1[0].leaf_count).toBeGreaterThan(0);
    const { rows: late } = await db.pool.query(`SELECT bytes FROM ${liveBefore}.metric_totals WHERE epoch = 1 AND synqer_id = 's0'`);
    expect(BigInt(late[0].bytes)).toBeLessThan(999_999_999n);

    for (const position of [middle, closed - 1n, closed]) {
      await runner.request('settlement', { action: 'rewind', toPosition: position });
      await until(async () => {
        const row = await state(db.pool, 'settlement');
        return row.status === 'paused' && row.building_generation === null && BigInt(row.position) === position;
      });
      const fresh = await freshBuild(db.pool, store, settlementProjection, position, 7);
      expect(await dump(db.pool, await liveSchema(db.pool, 'settlement'))).toEqual(await dump(db.pool, fresh));
    }
    // Paused: new events wait until it is resumed, then it goes on to the head.
    await appendNetwork(store, 10, 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(BigInt((await state(db.pool, 'settlement')).position)).toBe(closed);
    await runner.request('settlement', { action: 'resume' });
    await runner.waitFor();
    const fresh = await freshBuild(db.pool, store, settlementProjection, await store.lastPosition(), 500);
    expect(await dump(db.pool, await liveSchema(db.pool, 'settlement'))).toEqual(await dump(db.pool, fresh));
  });

  it('stops a projection at an event it cannot apply, keeps what came before, and reports where and why', async () => {
    await appendNetwork(store, 10);
    // Policy version 1 twice: the second insert breaks the policies table's key.
    const policy = {
      version: 1,
      effectiveFromEpoch: 2,
      weightBytesBps: 5_000,
      weightSessionsBps: 5_000,
      minUptimeBps: 0,
      minQosBps: 0,
      stakeBoostMaxBps: 0,
      stakeTarget: '1',
      creditsPerToken: '1',
      unstakeCooldownEpochs: 1,
      maxPoolPerEpoch: '1',
    };
    await store.append('network-ledger', [event('PolicyAdopted', policy)]);
    await store.append('network-ledger', [event('PolicyAdopted', policy)]);
    const bad = await store.lastPosition();
    await appendNetwork(store, 10, 2);
    const runner = newRunner('failing', 1000);
    runner.start();
    await expect(runner.waitFor({ timeoutMs: 10_000 })).rejects.toThrow(`projection settlement failed at position ${bad}`);
    const statuses = await runner.status();
    const [settlement, developers] = ['settlement', 'developers'].map((name) => statuses.find((status) => status.name === name)!);
    expect(settlement).toMatchObject({
      name: 'settlement',
      status: 'failed',
      position: bad - 1n,
      failure: { position: bad, error: expect.stringContaining('PolicyAdopted') },
    });
    expect(settlement.lagEvents).toBeGreaterThan(0n);
    // The other projection goes on.
    expect(developers).toMatchObject({ name: 'developers', status: 'running', position: await store.lastPosition() });
  });
});
