import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../src/event-store/event-store';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { createTestDatabase, type TestDatabase } from './support/database';
import { eventStoreContract, makeEvents } from './event-store.contract';

eventStoreContract('PostgreSQL', async () => {
  const db = await createTestDatabase();
  const store = new PostgresEventStore(db.pool);
  return {
    store,
    async close() {
      await store.close();
      await db.drop();
    },
  };
});

describe('PostgreSQL event store specifics', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore(db.pool, { pageSize: 7 });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('hands out global positions in commit order: a writer that started first but commits last does not open a gap', async () => {
    await store.append('epoch-0', makeEvents(3));
    const before = await store.lastPosition();
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({ after: before });
    const consuming = (async () => {
      for await (const event of subscription) {
        received.push(event);
        if (received.length === 3) break;
      }
    })();

    // A slow writer: its transaction appends, then stays open (as if its client stalled before COMMIT).
    const slow = await db.pool.connect();
    await slow.query('BEGIN');
    const [slowEvent] = makeEvents(1);
    await slow.query('SELECT * FROM append_to_stream($1, $2, $3::jsonb)', ['synqer-slow', 'any', JSON.stringify([slowEvent])]);

    // Fast writers start later; they must queue behind it, not commit around it.
    let fastDone = false;
    const fast = Promise.all([store.append('synqer-fast', makeEvents(1)), store.append('synqer-fast2', makeEvents(1))]).then((r) => {
      fastDone = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fastDone).toBe(false);
    expect(received).toHaveLength(0);
    expect(await store.lastPosition()).toBe(before);

    await slow.query('COMMIT');
    slow.release();
    const results = await fast;
    await consuming;

    expect(received[0].id).toBe(slowEvent.id);
    expect(received.map((e) => e.position)).toEqual([before + 1n, before + 2n, before + 3n]);
    expect(results.map((r) => r.position).sort()).toEqual([before + 2n, before + 3n]);
  });

  it('refuses an event id already used in another stream (ids are unique across the store)', async () => {
    const [event] = makeEvents(1);
    await store.append('purchase-a', [event]);
    await expect(store.append('purchase-b', [...makeEvents(1), event])).rejects.toMatchObject({
      name: 'EventIdConflictError',
      eventId: event.id,
      reason: 'is already recorded in stream purchase-a',
    });
    const inB: string[] = [];
    for await (const recorded of store.readStream('purchase-b')) inB.push(recorded.id);
    expect(inB).toEqual([]);
  });

  it('keeps positions gap-free when an append fails', async () => {
    const first = await store.append('stake-gap', makeEvents(1), { expectedRevision: 'no_stream' });
    await expect(store.append('stake-gap', makeEvents(1), { expectedRevision: 'no_stream' })).rejects.toThrow('expected revision no_stream');
    const next = await store.append('stake-gap', makeEvents(1));
    expect(next.position).toBe(first.position + 1n);
  });

  it('records times that never go backwards along global positions', async () => {
    await Promise.all(Array.from({ length: 8 }, (_, w) => store.append(`synqer-clock${w}`, makeEvents(3))));
    const times: number[] = [];
    for await (const event of store.readAll()) times.push(event.recordedAt.getTime());
    expect(times.length).toBeGreaterThanOrEqual(24);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('refuses to update, delete or truncate recorded events', async () => {
    await store.append('synqer-immutable', makeEvents(1));
    await expect(db.pool.query(`UPDATE events SET data = '{}' WHERE stream_name = 'synqer-immutable'`)).rejects.toThrow('events are immutable');
    await expect(db.pool.query(`DELETE FROM events WHERE stream_name = 'synqer-immutable'`)).rejects.toThrow('events are immutable');
    await expect(db.pool.query('TRUNCATE events')).rejects.toThrow('events are immutable');
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE stream_name = 'synqer-immutable'`)).rows[0].n).toBe(1);
  });

  it('pages reads across many small pages without losing or repeating an event', async () => {
    const stream = `metrics-${randomUUID()}`;
    await store.append(stream, makeEvents(50));
    const forwards: bigint[] = [];
    for await (const event of store.readStream(stream)) forwards.push(event.revision);
    const backwards: bigint[] = [];
    for await (const event of store.readStream(stream, { direction: 'backwards' })) backwards.push(event.revision);
    const byCategory: string[] = [];
    for await (const event of store.readAll({ category: 'metrics' })) if (event.stream === stream) byCategory.push(event.id);

    expect(forwards).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
    expect(backwards).toEqual([...forwards].reverse());
    expect(byCategory).toHaveLength(50);
  });
});
