import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startEngine, type RunningEngine } from '../src/engine';
import { PROJECTIONS } from '../src/projections/projections';
import { createTestDatabase, type TestDatabase } from './support/database';

/**
 * Several engine processes on one database (docs/scaling.md): each ingests, but a projection is applied by one of them
 * at a time (its session advisory lock, the lease), and one started with SYNQ_PROJECTIONS=off never applies any.
 */

// The projection runner's lock namespace (src/projections/projection-runner.ts).
const PROJECTION_LOCKS = 735813;

describe('engines on one database', () => {
  let db: TestDatabase;
  const engines: RunningEngine[] = [];
  const dataDirs: string[] = [];

  const start = async (projections: 'on' | 'off') => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-engines-'));
    dataDirs.push(dataDir);
    const engine = await startEngine(
      { databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir, projections },
      new Logger('engines-test'),
      {
        frameworkLogs: false,
      },
    );
    engines.push(engine);
    return engine;
  };

  /** Projection locks held in this database, by backend pid. */
  const lockHolders = async () => {
    const { rows } = await db.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [PROJECTION_LOCKS],
    );
    return rows.map((row) => row.pid);
  };
  const owners = async () => (await db.pool.query<{ owner: string | null }>('SELECT owner FROM projection_state ORDER BY name')).rows.map((r) => r.owner);
  const positions = async () => (await db.pool.query<{ position: string }>('SELECT position FROM projection_state ORDER BY name')).rows.map((r) => r.position);
  const appendSomething = (engine: RunningEngine) =>
    engine.eventStore.append(`enginetest-${randomUUID().slice(0, 8)}`, [
      { id: randomUUID(), type: 'SomethingNoProjectionReads', data: {}, metadata: { actor: 'test', correlationId: 'c', causationId: 'c' } },
    ]);
  const until = async (condition: () => Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const engine of engines.splice(0).reverse()) await engine.stop().catch(() => undefined);
    await db.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('apply each projection in one engine at a time; an engine with SYNQ_PROJECTIONS=off never applies one', async () => {
    const first = await start('on');
    await until(async () => (await lockHolders()).length === PROJECTIONS.length);
    const second = await start('on');
    const ingestOnly = await start('off');
    await appendSomething(second);
    await appendSomething(ingestOnly);
    const head = await first.eventStore.lastPosition();
    await until(async () => (await positions()).every((p) => BigInt(p) >= head));

    // One lock per projection, not one per engine, all held by one session each, and one owner recorded.
    const holders = await lockHolders();
    expect(holders).toHaveLength(PROJECTIONS.length);
    const owner = (await owners())[0];
    expect(owner).not.toBeNull();
    expect(await owners()).toEqual(PROJECTIONS.map(() => owner));

    // The first stops: the second takes the projections over (the ingest-only one does not compete for them).
    await first.stop();
    await until(async () => (await lockHolders()).length === PROJECTIONS.length && (await owners()).every((o) => o !== owner));
    await appendSomething(ingestOnly);
    const later = await ingestOnly.eventStore.lastPosition();
    await until(async () => (await positions()).every((p) => BigInt(p) >= later));

    // With only the ingest-only engine left, nothing holds a projection and nothing is applied.
    await second.stop();
    await until(async () => (await lockHolders()).length === 0);
    const before = await positions();
    await appendSomething(ingestOnly);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await lockHolders()).toHaveLength(0);
    expect(await positions()).toEqual(before);
  }, 120_000);
});
