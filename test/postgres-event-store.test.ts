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

  it('never lets a subscriber pass an append still in flight, even when later appends commit first', async () => {
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

    // A slow writer: its transaction appends (taking the next position), then stays open as if its client stalled.
    const slow = await db.pool.connect();
    await slow.query('BEGIN');
    const [slowEvent] = makeEvents(1);
    await slow.query('SELECT * FROM append_to_stream($1, $2, $3::json)', ['synqer-slow', 'any', JSON.stringify([slowEvent])]);

    // Writers that start later, on other streams, commit first: they are not held up...
    const fast = await Promise.all([store.append('synqer-fast', makeEvents(1)), store.append('synqer-fast2', makeEvents(1))]);
    expect(fast.map((r) => r.position).sort()).toEqual([before + 2n, before + 3n]);
    // ...but no reader sees past the open append.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received).toHaveLength(0);
    // The last position waits for the open append (an epoch's cut-off must not miss it).
    let lastPosition: bigint | undefined;
    const settled = store.lastPosition().then((p) => (lastPosition = p));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lastPosition).toBeUndefined();
    const visible: bigint[] = [];
    for await (const event of store.readAll({ after: before })) visible.push(event.position);
    expect(visible).toEqual([]);

    await slow.query('COMMIT');
    slow.release();
    await consuming;
    expect(await settled).toBe(before + 3n);

    expect(received[0].id).toBe(slowEvent.id);
    expect(received.map((e) => e.position)).toEqual([before + 1n, before + 2n, before + 3n]);
    expect(await store.lastPosition()).toBe(before + 3n);
  });

  it('holds appends to one stream in revision order while other streams go on', async () => {
    const slow = await db.pool.connect();
    await slow.query('BEGIN');
    await slow.query('SELECT * FROM append_to_stream($1, $2, $3::json)', ['stake-held', 'no_stream', JSON.stringify(makeEvents(1))]);
    let sameStreamDone = false;
    const sameStream = store.append('stake-held', makeEvents(1), { expectedRevision: 0n }).then((r) => {
      sameStreamDone = true;
      return r;
    });
    await store.append('stake-other', makeEvents(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sameStreamDone).toBe(false);
    await slow.query('COMMIT');
    slow.release();
    expect((await sameStream).nextExpectedRevision).toBe(1n);
    const positions: bigint[] = [];
    for await (const event of store.readStream('stake-held')) positions.push(event.position);
    expect(positions[1]).toBeGreaterThan(positions[0]);
  });

  it('settles concurrent appends of the same events: one writes, the retries write nothing, another stream is refused', async () => {
    const events = makeEvents(3);
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 6 }, () => store.append('burn-race', events)),
      store.append('burn-race-elsewhere', events),
    ]);
    const written = outcomes.filter((o) => o.status === 'fulfilled' && o.value.written);
    const repeats = outcomes.filter((o) => o.status === 'fulfilled' && !o.value.written);
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(written).toHaveLength(1);
    expect(written.length + repeats.length + refused.length).toBe(7);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'EventIdConflictError' });
    const ids: string[] = [];
    for await (const event of store.readAll()) if (events.some((e) => e.id === event.id)) ids.push(event.stream);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
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

  it('uses no position for an append refused for its expected revision', async () => {
    const first = await store.append('stake-gap', makeEvents(1), { expectedRevision: 'no_stream' });
    await expect(store.append('stake-gap', makeEvents(1), { expectedRevision: 'no_stream' })).rejects.toThrow('expected revision no_stream');
    const next = await store.append('stake-gap', makeEvents(1));
    expect(next.position).toBe(first.position + 1n);
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
