/**
 * The event store contract both engines (PostgreSQL and EventStoreDB) fulfil; `test/event-store.contract.ts` is its
 * executable form. Positions and revisions are `bigint` in code and decimal strings in JSON.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Who did what and why, recorded with every event. */
export interface EventMetadata extends JsonObject {
  correlationId: string;
  causationId: string;
  actor: string;
}

/** An event as a writer proposes it. */
export interface EventToAppend {
  /** uuid chosen by the writer: appending the same id again at the same place is a no-op. */
  id: string;
  type: string;
  data: JsonObject;
  metadata: EventMetadata;
}

/** An event as the store recorded it. */
export interface RecordedEvent {
  id: string;
  stream: string;
  /** 0-based position within its stream. */
  revision: bigint;
  /** Position in the store's global commit order; strictly increasing in delivery order. */
  position: bigint;
  type: string;
  data: JsonObject;
  metadata: EventMetadata;
  recordedAt: Date;
}

/** `any`: no check; `no_stream`: the stream must not exist; `stream_exists`: it must; a bigint: its last revision must be exactly this. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export interface AppendResult {
  /** The stream's last revision after the append (pass it as the next expected revision). */
  nextExpectedRevision: bigint;
  /** Global position of the last event of this append. */
  position: bigint;
  /** False when every event was already there (an idempotent retry): nothing was written. */
  written: boolean;
}

export interface AppendRequest {
  stream: string;
  events: readonly EventToAppend[];
  expectedRevision?: ExpectedRevision;
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** Inclusive; defaults to the start (forwards) or the end (backwards). */
  fromRevision?: bigint;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive checkpoint: only events with a greater position. Defaults to the beginning. */
  after?: bigint;
  /** Only streams of this category: the stream name's part before the first `-` (`metrics` for `metrics-42`). */
  category?: string;
  maxCount?: number;
}

export interface SubscribeOptions {
  /** Exclusive checkpoint, as in `readAll`: a restarted subscriber passes the last position it processed. */
  after?: bigint;
  category?: string;
}

/** Catch-up then live delivery; iterate it, and close it when done (iteration then ends). */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

export type EventStoreKind = 'postgresql' | 'eventstoredb';

export interface EventStore {
  readonly kind: EventStoreKind;
  /** Appends all events atomically or none. Throws `WrongExpectedRevisionError`, `EventIdConflictError` or `InvalidEventError`. */
  append(stream: string, events: readonly EventToAppend[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult>;
  /**
   * Appends to several streams, each on its own terms: one outcome per request, in order, either its result or the
   * error that append alone would have thrown (it then wrote nothing). Not atomic across streams.
   */
  appendMany(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]>;
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  subscribeToAll(options?: SubscribeOptions): Subscription;
  /** Global position of the last committed event, 0n when the store is empty. */
  lastPosition(): Promise<bigint>;
  /** How many events have a global position above `position` (positions can have holes: this counts events). */
  countAfter(position: bigint): Promise<bigint>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');

/** The stream's category: `metrics-42` belongs to `metrics`. */
export function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash === -1 ? stream : stream.slice(0, dash);
}

export function describeRevision(revision: ExpectedRevision | bigint | 'no_stream'): string {
  return typeof revision === 'bigint' ? revision.toString() : revision;
}
