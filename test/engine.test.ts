import { Logger } from '@nestjs/common';

Logger.overrideLogger(['error', 'warn']);
import { createApiKey } from '../src/auth/api-keys';
import { startEngine, type RunningEngine } from '../src/engine';
import { createTestDatabase, type TestDatabase } from './support/database';
import { makeEvents } from './event-store.contract';

describe('engine on an external PostgreSQL (DATABASE_URL)', () => {
  let db: TestDatabase;
  let engine: RunningEngine;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    engine = await startEngine(
      { databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir: '/nonexistent-not-used' },
      new Logger('engine-test'),
      { frameworkLogs: false },
    );
  });
  afterAll(async () => {
    await engine.stop();
    await db.drop();
  });

  it('migrates at start and reports health (in detail to a caller with a key)', async () => {
    // The key's creation is recorded (ApiKeyCreated): the first of three events.
    const { key } = await createApiKey(engine, 'auditor');
    // Events of a type no projection reads: the contract suite's made-up reports would fail the settlement projection
    // (a report of no registered synqer), which health would then rightly show, whenever it reads them in time.
    await engine.eventStore.append(
      'health-check-1',
      makeEvents(2).map((event) => ({ ...event, type: 'HealthCheckNoted' })),
    );
    const response = await fetch(`${engine.url}/health`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      database: { reachable: true, source: 'external', serverVersion: expect.stringMatching(/^\d+/) },
      eventStore: { kind: 'postgresql', lastPosition: '3' },
      migrations: {
        applied: expect.arrayContaining([
          { version: 1, name: 'event_store' },
          { version: 2, name: 'api_keys' },
        ]),
      },
      projections: expect.arrayContaining([
        {
          name: 'settlement',
          status: 'running',
          position: expect.stringMatching(/^\d+$/),
          lagEvents: expect.stringMatching(/^\d+$/),
          idleSeconds: expect.any(Number),
          stalled: false,
        },
        {
          name: 'developers',
          status: 'running',
          position: expect.stringMatching(/^\d+$/),
          lagEvents: expect.stringMatching(/^\d+$/),
          idleSeconds: expect.any(Number),
          stalled: false,
        },
      ]),
    });
  });

  it('answers 503 down when the database is gone', async () => {
    const second = await startEngine(
      { databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir: '/nonexistent-not-used' },
      new Logger('engine-test'),
      { frameworkLogs: false },
    );
    await second.database.pool.end();
    try {
      const response = await fetch(`${second.url}/health`);
      expect(response.status).toBe(503);
      // No key can be proven without the database: the caller learns only that the engine is down.
      expect(await response.json()).toEqual({ status: 'down' });
    } finally {
      await second.app.close();
    }
  });
});
