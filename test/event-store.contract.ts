import { randomBytes, randomUUID } from 'node:crypto';
import type { EventStore, EventToAppend, RecordedEvent, Subscription } from '../src/event-store/event-store';
import { EventIdConflictError, InvalidEventError, WrongExpectedRevisionError } from '../src/event-store/errors';

/**
 * The event store contract, run unchanged against every engine. Streams and categories get random names so the
 * suite also holds on a shared server that already has events (EventStoreDB): every global read starts from the
 * store's last position at the start of the test.
 */
export function eventStoreContract(engine: string, open: () => Promise<{ store: EventStore; close(): Promise<void> }>): void {
  describe(`event store contract: ${engine}`, () => {
    let store: EventStore;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => {
      await close();
    });

    describe('append', () => {
      it('records events with their envelope and consecutive revisions', async () => {
        const stream = streamName('synqer');
        const before = await store.lastPosition();
        const events = makeEvents(3);
        const result = await store.append(stream, events, { expectedRevision: 'no_stream' });

        expect(result).toEqual({ written: true, nextExpectedRevision: 2n, position: expect.any(BigInt) });
        const read = await collect(store.readStream(stream));
        expect(read.map((e) => e.revision)).toEqual([0n, 1n, 2n]);
        expect(read.map((e) => e.id)).toEqual(events.map((e) => e.id));
        expect(read[0]).toEqual({
          id: events[0].id,
          stream,
          revision: 0n,
          position: expect.any(BigInt),
          type: events[0].type,
          data: events[0].data,
          metadata: events[0].metadata,
          recordedAt: expect.any(Date),
        });
        expect(read[0].position).toBeGreaterThan(before);
        expect(read[2].position).toBe(result.position);
        expect(read[1].position).toBeGreaterThan(read[0].position);
        expect(await store.lastPosition()).toBeGreaterThanOrEqual(result.position);
      });

      it('counts the events after a position (the projection runner reports its lag with it)', async () => {
        const before = await store.lastPosition();
        const countBefore = await store.countAfter(before);
        await store.append(streamName('count'), makeEvents(4), { expectedRevision: 'no_stream' });
        expect(countBefore).toBe(0n);
        expect(await store.countAfter(before)).toBe(4n);
        expect(await store.countAfter(await store.lastPosition())).toBe(0n);
      });

      it('appends at an exact expected revision and refuses a stale one, writing nothing', async () => {
        const stream = streamName('epoch');
        await store.append(stream, makeEvents(2), { expectedRevision: 'no_stream' });
        const ok = await store.append(stream, makeEvents(1), { expectedRevision: 1n });
        expect(ok.nextExpectedRevision).toBe(2n);

        const stale = makeEvents(2);
        const error = await store.append(stream, stale, { expectedRevision: 1n }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedRevisionError);
        expect(error).toMatchObject({ stream, expected: 1n, actual: 2n });
        expect((error as Error).message).toContain(stream);
        expect(await count(store.readStream(stream))).toBe(3);
      });

      it('checks no_stream and stream_exists, naming the actual revision', async () => {
        const missing = streamName('stake');
        await expect(store.append(missing, makeEvents(1), { expectedRevision: 'stream_exists' })).rejects.toMatchObject({
          name: 'WrongExpectedRevisionError',
          stream: missing,
          expected: 'stream_exists',
          actual: 'no_stream',
        });
        await expect(store.append(missing, makeEvents(1), { expectedRevision: 0n })).rejects.toMatchObject({ actual: 'no_stream' });
        expect(await count(store.readStream(missing))).toBe(0);

        await store.append(missing, makeEvents(1), { expectedRevision: 'no_stream' });
        await expect(store.append(missing, makeEvents(1), { expectedRevision: 'no_stream' })).rejects.toMatchObject({
          expected: 'no_stream',
          actual: 0n,
        });
        const exists = await store.append(missing, makeEvents(1), { expectedRevision: 'stream_exists' });
        expect(exists.nextExpectedRevision).toBe(1n);
        const any = await store.append(missing, makeEvents(1), { expectedRevision: 'any' });
        expect(any.nextExpectedRevision).toBe(2n);
        const fresh = await store.append(streamName('stake'), makeEvents(1));
        expect(fresh.nextExpectedRevision).toBe(0n);
      });

      it('appends thousands of events in one call, atomically', async () => {
        const stream = streamName('metrics');
        const events = makeEvents(5_000);
        const result = await store.append(stream, events, { expectedRevision: 'no_stream' });
        expect(result.nextExpectedRevision).toBe(4_999n);

        let expectedRevision = 0n;
        let lastPosition = 0n;
        for await (const event of store.readStream(stream)) {
          expect(event.revision).toBe(expectedRevision);
          expect(event.id).toBe(events[Number(expectedRevision)].id);
          expect(event.position).toBeGreaterThan(lastPosition);
          lastPosition = event.position;
          expectedRevision++;
        }
        expect(expectedRevision).toBe(5_000n);
      });

      it('writes none of an append whose last event conflicts', async () => {
        const stream = streamName('purchase');
        const [taken] = makeEvents(1);
        await store.append(stream, [taken]);
        const before = await store.lastPosition();
        const batch = [...makeEvents(2), { ...taken, data: { amount: '999' } }];

        await expect(store.append(stream, batch)).rejects.toBeInstanceOf(EventIdConflictError);
        expect(await count(store.readStream(stream))).toBe(1);
        expect(await store.lastPosition()).toBe(before);
      });

      it('treats a retried append as a success that writes nothing', async () => {
        const stream = streamName('burn');
        const first = makeEvents(2);
        const second = makeEvents(3);
        await store.append(stream, first, { expectedRevision: 'no_stream' });
        const original = await store.append(stream, second, { expectedRevision: 1n });
        const before = await store.lastPosition();

        const retried = await store.append(stream, second, { expectedRevision: 1n });
        expect(retried).toEqual({ written: false, nextExpectedRevision: 4n, position: original.position });
        const retriedAny = await store.append(stream, second, { expectedRevision: 'any' });
        expect(retriedAny).toMatchObject({ written: false, nextExpectedRevision: 4n });
        const retriedFirst = await store.append(stream, first, { expectedRevision: 'no_stream' });
        expect(retriedFirst).toMatchObject({ written: false, nextExpectedRevision: 1n });

        expect(await count(store.readStream(stream))).toBe(5);
        expect(await store.lastPosition()).toBe(before);
      });

      it('refuses a reused event id with different content, writing nothing', async () => {
        const stream = streamName('slash');
        const [event] = makeEvents(1);
        await store.append(stream, [event], { expectedRevision: 'no_stream' });

        const changed = { ...event, data: { ...event.data, amount: '1' } };
        const error = await store.append(stream, [changed], { expectedRevision: 'no_stream' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(EventIdConflictError);
        expect(error).toMatchObject({ stream, eventId: event.id });
        await expect(store.append(stream, [{ ...event, type: 'SomethingElse' }])).rejects.toBeInstanceOf(EventIdConflictError);

        const [recorded] = await collect(store.readStream(stream));
        expect(recorded.data).toEqual(event.data);
        expect(await count(store.readStream(stream))).toBe(1);
      });

      it('appends to many streams in one call, each on its own terms', async () => {
        const [fresh, existing, stale] = [streamName('metrics'), streamName('metrics'), streamName('metrics')];
        await store.append(existing, makeEvents(2));
        await store.append(stale, makeEvents(1));
        const repeated = makeEvents(1);
        await store.append(existing, repeated, { expectedRevision: 1n });
        const outcomes = await store.appendMany([
          { stream: fresh, events: makeEvents(3), expectedRevision: 'no_stream' },
          { stream: stale, events: makeEvents(2), expectedRevision: 5n },
          { stream: existing, events: repeated, expectedRevision: 1n },
          { stream: existing, events: makeEvents(1), expectedRevision: 2n },
          { stream: fresh, events: [], expectedRevision: 'any' },
        ]);
        expect(outcomes[0]).toMatchObject({ written: true, nextExpectedRevision: 2n });
        expect(outcomes[1]).toBeInstanceOf(WrongExpectedRevisionError);
        expect(outcomes[1]).toMatchObject({ stream: stale, expected: 5n, actual: 0n });
        expect(outcomes[2]).toMatchObject({ written: false, nextExpectedRevision: 2n });
        expect(outcomes[3]).toMatchObject({ written: true, nextExpectedRevision: 3n });
        expect(outcomes[4]).toBeInstanceOf(InvalidEventError);
        expect(await count(store.readStream(fresh))).toBe(3);
        expect(await count(store.readStream(stale))).toBe(1);
        expect(await count(store.readStream(existing))).toBe(4);
      });

      it('refuses malformed appends, naming the field', async () => {
        const stream = streamName('bad');
        await expect(store.append(stream, [])).rejects.toMatchObject({ name: 'InvalidEventError', field: 'events' });
        await expect(store.append(stream, [{ ...makeEvents(1)[0], id: 'not-a-uuid' }])).rejects.toMatchObject({
          field: 'events[0].id',
        });
        const [event] = makeEvents(1);
        await expect(store.append(stream, [event, event])).rejects.toMatchObject({ field: 'events[1].id' });
        await expect(store.append('', makeEvents(1))).rejects.toBeInstanceOf(InvalidEventError);
        await expect(store.append(stream, makeEvents(1), { expectedRevision: -1n })).rejects.toMatchObject({ field: 'expectedRevision' });
        expect(await count(store.readStream(stream))).toBe(0);
      });
    });

    describe('reads', () => {
      it('reads a stream forwards and backwards, from a revision, with a maximum count', async () => {
        const stream = streamName('synqer');
        await store.append(stream, makeEvents(10), { expectedRevision: 'no_stream' });

        expect(await revisions(store.readStream(stream, { fromRevision: 4n, maxCount: 3 }))).toEqual([4n, 5n, 6n]);
        expect(await revisions(store.readStream(stream, { direction: 'backwards', maxCount: 3 }))).toEqual([9n, 8n, 7n]);
        expect(await revisions(store.readStream(stream, { direction: 'backwards', fromRevision: 2n }))).toEqual([2n, 1n, 0n]);
        expect(await revisions(store.readStream(stream, { fromRevision: 8n }))).toEqual([8n, 9n]);
        expect(await count(store.readStream(streamName('nobody')))).toBe(0);
      });

      it('reads all events after a position in commit order, and by category', async () => {
        const before = await store.lastPosition();
        const category = `c${randomBytes(4).toString('hex')}`;
        await store.append(`${category}-1`, makeEvents(2));
        await store.append(streamName('other'), makeEvents(2));
        await store.append(`${category}-2`, makeEvents(2));
        await store.append(`${category}x-3`, makeEvents(1));

        const all = await collect(store.readAll({ after: before }));
        expect(all.length).toBeGreaterThanOrEqual(7);
        assertIncreasing(all);
        expect(all.every((e) => e.position > before)).toBe(true);

        const inCategory = await collect(store.readAll({ after: before, category }));
        expect(inCategory.map((e) => `${e.stream}@${e.revision}`)).toEqual([`${category}-1@0`, `${category}-1@1`, `${category}-2@0`, `${category}-2@1`]);
        const afterSecond = await collect(store.readAll({ after: inCategory[1].position, category, maxCount: 1 }));
        expect(afterSecond.map((e) => e.id)).toEqual([inCategory[2].id]);
      });

      it('streams a large read page by page', async () => {
        const before = await store.lastPosition();
        const stream = streamName('bulk');
        await store.append(stream, makeEvents(4_500));
        let seen = 0;
        let last = before;
        for await (const event of store.readAll({ after: before })) {
          expect(event.position).toBeGreaterThan(last);
          last = event.position;
          if (event.stream === stream) seen++;
        }
        expect(seen).toBe(4_500);
        expect(await count(store.readStream(stream, { direction: 'backwards' }))).toBe(4_500);
      });
    });

    describe('subscribeToAll', () => {
      it('catches up, then delivers live events once each, in order', async () => {
        const before = await store.lastPosition();
        const stream = streamName('live');
        await store.append(stream, makeEvents(10));
        const subscription = store.subscribeToAll({ after: before });
        const received = take(subscription, (events) => events.filter((e) => e.stream === stream).length === 20);
        await store.append(stream, makeEvents(5));
        await store.append(stream, makeEvents(5));

        const events = (await received).filter((e) => e.stream === stream);
        expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i)));
        assertIncreasing(await received);
      });

      it('resumes from a checkpoint without skipping or repeating', async () => {
        const before = await store.lastPosition();
        const stream = streamName('resume');
        await store.append(stream, makeEvents(12));

        const first = await take(store.subscribeToAll({ after: before }), (events) => events.length === 7);
        const checkpoint = first[6].position;
        await store.append(stream, makeEvents(3));
        const rest = await take(store.subscribeToAll({ after: checkpoint }), (events) => events.filter((e) => e.stream === stream).length === 8);

        const ids = [...first, ...rest].filter((e) => e.stream === stream).map((e) => e.revision);
        expect(ids).toEqual(Array.from({ length: 15 }, (_, i) => BigInt(i)));
      });

      it('delivers every event of 8 concurrent writers exactly once, in position order', async () => {
        const before = await store.lastPosition();
        const tag = randomBytes(4).toString('hex');
        const writers = 8;
        const appendsPerWriter = 40;
        const subscription = store.subscribeToAll({ after: before });
        let expected = 0;
        const plans = Array.from({ length: writers }, (_, w) => Array.from({ length: appendsPerWriter }, (_, a) => makeEvents(1 + ((w + a) % 4))));
        for (const plan of plans) for (const events of plan) expected += events.length;
        const received = take(subscription, (events) => events.filter((e) => e.stream.startsWith(`w${tag}`)).length >= expected);

        await Promise.all(
          plans.map(async (plan, w) => {
            let revision: bigint | 'no_stream' = 'no_stream';
            for (const events of plan) {
              const result = await store.append(`w${tag}-${w}`, events, { expectedRevision: revision });
              revision = result.nextExpectedRevision;
            }
          }),
        );

        const delivered = (await received).filter((e) => e.stream.startsWith(`w${tag}`));
        expect(delivered).toHaveLength(expected);
        expect(new Set(delivered.map((e) => e.id)).size).toBe(expected);
        assertIncreasing(delivered);
        for (let w = 0; w < writers; w++) {
          const revisionsOfWriter = delivered.filter((e) => e.stream === `w${tag}-${w}`).map((e) => e.revision);
          expect(revisionsOfWriter).toEqual(Array.from({ length: revisionsOfWriter.length }, (_, i) => BigInt(i)));
        }
        const stored = await collect(store.readAll({ after: before }));
        expect(stored.filter((e) => e.stream.startsWith(`w${tag}`)).map((e) => e.id)).toEqual(delivered.map((e) => e.id));
      });

      it('ends iteration when closed', async () => {
        const subscription = store.subscribeToAll({ after: await store.lastPosition() });
        const iteration = collect(subscription);
        await new Promise((resolve) => setTimeout(resolve, 50));
        await subscription.close();
        await expect(iteration).resolves.toEqual(expect.any(Array));
      });
    });
  });
}

export function makeEvents(n: number): EventToAppend[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    type: i % 2 === 0 ? 'MetricReportAccepted' : 'StakeDeposited',
    data: { index: i, amount: `${1_000_000 + i}`, nested: { region: 'eu-west', labels: ['a', 'b'] } },
    metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'contract-test' },
  }));
}

function streamName(category: string): string {
  return `${category}-${randomBytes(6).toString('hex')}`;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function count<T>(iterable: AsyncIterable<T>): Promise<number> {
  return (await collect(iterable)).length;
}

async function revisions(iterable: AsyncIterable<RecordedEvent>): Promise<bigint[]> {
  return (await collect(iterable)).map((e) => e.revision);
}

/** Reads a subscription until `done` says so (or 20 s pass), then closes it. */
async function take(subscription: Subscription, done: (events: RecordedEvent[]) => boolean): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  const timer = setTimeout(() => void subscription.close(), 20_000);
  try {
    for await (const event of subscription) {
      events.push(event);
      if (done(events)) break;
    }
  } finally {
    clearTimeout(timer);
    await subscription.close();
  }
  return events;
}

function assertIncreasing(events: RecordedEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    if (events[i].position <= events[i - 1].position) {
      throw new Error(`positions out of order at ${i}: ${events[i - 1].position} then ${events[i].position}`);
    }
  }
}
