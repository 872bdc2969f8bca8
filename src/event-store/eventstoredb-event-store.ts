import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type ResolvedEvent,
} from '@eventstore/db-client';
import {
  categoryOf,
  type AppendRequest,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type JsonObject,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from './event-store';
import { EventIdConflictError, WrongExpectedRevisionError } from './errors';
import { validateAppend } from './validate-append';

type ClientEvent = NonNullable<ResolvedEvent['event']>;

/**
 * The same contract on EventStoreDB / KurrentDB through `@eventstore/db-client`. Global positions are commit positions,
 * categories the `<category>-` stream-name prefix. Not yet run against a server (none can run on our machines): the
 * contract suite decides. The doubt to check first: we assume every event of a multi-event append has its own commit
 * position; if a server gives the events of one append a shared commit position, "after P" would skip the siblings of
 * the event at P, and positions would have to pair commit and prepare.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly client: EventStoreDBClient;

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  async append(stream: string, events: readonly EventToAppend[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    validateAppend(stream, events, expected);
    // EventStoreDB answers a repeated append by event id alone; the contract also refuses a reused id with other
    // content, so look at where these events would already be before writing.
    const repeat = await this.findRepeat(stream, events, expected);
    if (repeat) return repeat;
    try {
      const result = await this.client.appendToStream(
        stream,
        events.map((event) => jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata })),
        { expectedRevision: toClientRevision(expected) },
      );
      return { written: true, nextExpectedRevision: result.nextExpectedRevision, position: result.position?.commit ?? (await this.lastPosition()) };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        throw new WrongExpectedRevisionError(stream, expected, error.actualVersion === NO_STREAM ? 'no_stream' : BigInt(error.actualVersion));
      }
      throw error;
    }
  }

  /** EventStoreDB has no multi-stream append: one append after another, same outcomes. */
  async appendMany(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    const outcomes: (AppendResult | Error)[] = [];
    for (const request of requests) {
      outcomes.push(await this.append(request.stream, request.events, { expectedRevision: request.expectedRevision }).catch((error: Error) => error));
    }
    return outcomes;
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    try {
      for await (const resolved of this.client.readStream(stream, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: options.fromRevision ?? (backwards ? END : START),
        ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
      })) {
        if (resolved.event) yield toRecordedEvent(resolved.event, resolved.commitPosition);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw error;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const after = options.after ?? 0n;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    // v6 has no server-side filter on reads of $all: system events and other categories are dropped here.
    const read = this.client.readAll({
      direction: FORWARDS,
      fromPosition: after > 0n ? { commit: after, prepare: after } : START,
    });
    try {
      for await (const resolved of read) {
        const event = deliverable(resolved, after, options.category);
        if (!event) continue;
        yield event;
        if (--remaining <= 0) return;
      }
    } finally {
      read.destroy();
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    const after = options.after ?? 0n;
    const subscription = this.client.subscribeToAll({
      fromPosition: after > 0n ? { commit: after, prepare: after } : START,
      filter: options.category ? streamNameFilter({ prefixes: [`${options.category}-`] }) : excludeSystemEvents(),
    });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await subscription.unsubscribe();
    };
    return {
      close,
      async *[Symbol.asyncIterator]() {
        try {
          for await (const resolved of subscription) {
            const event = deliverable(resolved, after, options.category);
            if (event) yield event;
          }
        } finally {
          await close();
        }
      },
    };
  }

  async lastPosition(): Promise<bigint> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 100 });
    try {
      for await (const resolved of read) {
        if (resolved.event && !resolved.event.streamId.startsWith('$') && !resolved.event.type.startsWith('$')) {
          return resolved.event.position.commit;
        }
      }
    } finally {
      read.destroy();
    }
    return 0n;
  }

  /** EventStoreDB keeps no count: this reads the events after `position` (user events only). */
  async countAfter(position: bigint): Promise<bigint> {
    let count = 0n;
    for await (const _event of this.readAll({ after: position })) count++;
    return count;
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** An exact repeat of an earlier append is a success that writes nothing; a partial or altered one is a conflict. */
  private async findRepeat(stream: string, events: readonly EventToAppend[], expected: ExpectedRevision): Promise<AppendResult | undefined> {
    const first = expected === 'no_stream' ? 0n : typeof expected === 'bigint' ? expected + 1n : undefined;
    const window =
      first === undefined
        ? (await collect(this.readStream(stream, { direction: 'backwards', maxCount: events.length }))).reverse()
        : await collect(this.readStream(stream, { fromRevision: first, maxCount: events.length }));
    const recorded = new Map(window.map((event) => [event.id, event]));
    const known = events.filter((event) => recorded.has(event.id.toLowerCase()));
    if (known.length === 0) return undefined;
    for (const event of known) {
      const existing = recorded.get(event.id.toLowerCase())!;
      if (existing.type !== event.type || !jsonEqual(existing.data, event.data)) {
        throw new EventIdConflictError(stream, event.id, `is already recorded with other content (${stream} revision ${existing.revision})`);
      }
    }
    const aligned = known.length === events.length && window.length === events.length && window.every((event, i) => event.id === events[i].id.toLowerCase());
    if (!aligned) throw new EventIdConflictError(stream, known[0].id, 'is already recorded, but this append does not repeat that earlier append exactly');
    const last = window[window.length - 1];
    return { written: false, nextExpectedRevision: last.revision, position: last.position };
  }
}

function toClientRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (typeof expected === 'bigint') return expected;
  return expected === 'no_stream' ? NO_STREAM : expected === 'stream_exists' ? STREAM_EXISTS : ANY;
}

/** Our envelope for a client event, or undefined for system events, other categories and positions already seen. */
function deliverable(resolved: AllStreamResolvedEvent, after: bigint, category: string | undefined): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event || event.streamId.startsWith('$') || event.type.startsWith('$')) return undefined;
  if (category !== undefined && categoryOf(event.streamId) !== category) return undefined;
  const recorded = toRecordedEvent(event, resolved.commitPosition);
  return recorded.position > after ? recorded : undefined;
}

function toRecordedEvent(event: ClientEvent, commitPosition: bigint | undefined): RecordedEvent {
  return {
    id: event.id,
    stream: event.streamId,
    revision: event.revision,
    position: event.position?.commit ?? commitPosition ?? -1n,
    type: event.type,
    data: event.data as JsonObject,
    metadata: event.metadata as EventMetadata,
    recordedAt: event.created instanceof Date ? event.created : new Date(event.created),
  };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Structural JSON equality, blind to object key order (as PostgreSQL's jsonb comparison is). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return keysA.length === keysB.length && keysA.every((key) => jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
