import { AsyncLocalStorage } from 'node:async_hooks';
import { hash } from 'node:crypto';
import type { Decider, DomainEvent } from '../../domain/decider';
import { CommandRejected } from '../../domain/rejection';
import { WrongExpectedRevisionError } from '../event-store/errors';
import { isStreamName } from '../event-store/validate-append';
import { KeyedQueue } from './keyed-queue';
import type { EventMetadata, EventStore, ExpectedRevision, JsonObject } from '../event-store/event-store';

/**
 * The one way the command side reads and writes a stream of the books: through its decider (domain/decider.ts).
 * - `load`: the stream read from the start, with the revision read (what an append then expects);
 * - `loadLatest`: a singleton stream's state now, read incrementally and kept per store;
 * - `FoldedStreamCache`: states kept between commands, least recently used dropped, each a guess checked by the append;
 * - `decideAndAppend`: load, decide, append at the revision loaded, again on a concurrent write.
 */

export type { DomainEvent };

/** Who asked, and in answer to what: recorded with every event the command produces. */
export interface CommandMetadata {
  actor: string;
  correlationId: string;
  /** Id of the command (its idempotency key where it has one): the events' causation. */
  commandId: string;
}

export interface Loaded<S> {
  state: S;
  revision: ExpectedRevision;
}

/** Replays a stream from its start through the decider's `evolve`. A singleton stream's id is `undefined`. */
export async function load<S, E extends DomainEvent, C, Id>(store: EventStore, decider: Decider<S, E, C, Id>, id: Id): Promise<Loaded<S>> {
  return read(store, decider, decider.streamOf(id));
}

async function read<S, E extends DomainEvent, C, Id>(store: EventStore, decider: Decider<S, E, C, Id>, stream: string): Promise<Loaded<S>> {
  let state = decider.initial();
  let revision: ExpectedRevision = 'no_stream';
  // A name no append can take (an id with a NUL or a lone surrogate, which PostgreSQL would refuse to compare) holds
  // nothing: the decider then refuses the id, naming its field, instead of the store failing on the query.
  if (!isStreamName(stream)) return { state, revision };
  for await (const event of store.readStream(stream)) {
    state = decider.evolve(state, recorded<E>(event));
    revision = event.revision;
  }
  return { state, revision };
}

/**
 * A recorded event as a decider's `evolve` sees it: its type and data, and the global position it was recorded at (the
 * network ledger's cut-offs are the positions of its `EpochClosed` events).
 */
function recorded<E extends DomainEvent>(event: { type: string; data: object; position: bigint }): E {
  return { type: event.type, data: event.data, position: event.position } as unknown as E;
}

/**
 * A stream folded up to and including the first event `through` selects, else in full: the state a command's answer
 * is read from, so that repeating a command (same id, same content) answers what it answered the first time.
 */
export async function loadThrough<S, E extends DomainEvent, C, Id>(
  store: EventStore,
  decider: Decider<S, E, C, Id>,
  id: Id,
  through: (event: { type: string; data: Record<string, unknown> }) => boolean,
): Promise<S> {
  let state = decider.initial();
  const stream = decider.streamOf(id);
  if (!isStreamName(stream)) return state;
  for await (const event of store.readStream(stream)) {
    state = decider.evolve(state, recorded<E>(event));
    if (through({ type: event.type, data: event.data as Record<string, unknown> })) break;
  }
  return state;
}

/** Each singleton stream as last read from each store. The states are never changed (`evolvesInPlace` is refused), so callers may share them. */
const lastRead = new WeakMap<EventStore, Map<string, { state: unknown; revision: bigint }>>();

/**
 * A singleton stream (the network ledger) after every event recorded so far: only events recorded since the last call
 * on this store are read.
 */
export async function loadLatest<S, E extends DomainEvent, C>(store: EventStore, decider: Decider<S, E, C, void>): Promise<S> {
  if (decider.evolvesInPlace)
    throw new Error('loadLatest shares the states it keeps: a decider whose evolve changes its state in place cannot be loaded this way');
  const stream = decider.streamOf();
  let streams = lastRead.get(store);
  if (!streams) lastRead.set(store, (streams = new Map()));
  const known = streams.get(stream) as { state: S; revision: bigint } | undefined;
  let state = known?.state ?? decider.initial();
  let revision = known?.revision ?? -1n;
  for await (const event of store.readStream(stream, { fromRevision: revision + 1n })) {
    state = decider.evolve(state, recorded<E>(event));
    revision = event.revision;
  }
  // Concurrent callers may finish out of order: keep the furthest read.
  if (revision > (streams.get(stream)?.revision ?? -1n)) streams.set(stream, { state, revision });
  return state;
}

/**
 * Loaded states kept between commands, each with the revision it was loaded at. A state is only a guess: the append
 * that follows a decision names that exact revision, so a stale entry (another process wrote) fails the append, is
 * dropped and loaded again. Least recently used entries go first. Entries are keyed by stream name.
 *
 * Bounded twice: at most `capacity` streams, and, when `weigh` is given, at most `maxWeight` in all (a state that
 * grows with its stream, such as a synqer's reports of an epoch, is weighed each time it is set: a bound in streams
 * alone lets 50,000 streams of thousands of reports each hold gigabytes).
 */
export class FoldedStreamCache<S, E extends DomainEvent, C, Id> {
  private readonly entries = new Map<string, Loaded<S> & { weight: number }>();
  private weight = 0;

  constructor(
    private readonly decider: Decider<S, E, C, Id>,
    private readonly capacity: number,
    private readonly bound: { weigh: (state: S) => number; maxWeight: number } | undefined = undefined,
  ) {}

  /** Streams kept now. */
  get size(): number {
    return this.entries.size;
  }

  /** What the kept states weigh together (0 without `weigh`). */
  get totalWeight(): number {
    return this.weight;
  }

  /** The state kept for the stream, else the stream read in full (kept only once `set` says it was appended to). */
  async load(store: EventStore, id: Id): Promise<Loaded<S>> {
    const stream = this.decider.streamOf(id);
    return this.get(stream) ?? (await read(store, this.decider, stream));
  }

  private get(stream: string): Loaded<S> | undefined {
    const entry = this.entries.get(stream);
    if (entry) {
      this.entries.delete(stream);
      this.entries.set(stream, entry);
    }
    return entry;
  }

  set(stream: string, state: S, revision: bigint | 'no_stream'): void {
    this.delete(stream);
    const weight = this.bound?.weigh(state) ?? 0;
    this.entries.set(stream, { state, revision, weight });
    this.weight += weight;
    while (this.entries.size > this.capacity || (this.bound && this.weight > this.bound.maxWeight && this.entries.size > 0)) {
      this.delete(this.entries.keys().next().value!);
    }
  }

  delete(stream: string): void {
    const entry = this.entries.get(stream);
    if (!entry) return;
    this.weight -= entry.weight;
    this.entries.delete(stream);
  }

  /** Drops every stream `drop` names (streams that no command will extend again, say). */
  deleteWhere(drop: (stream: string) => boolean): void {
    for (const stream of [...this.entries.keys()]) if (drop(stream)) this.delete(stream);
  }
}

/**
 * A decider's command as its caller states it: without the fields `K` that the command's handler fills in from the
 * books when it decides (the last opened epoch, the rate in force, the cut-off). What the command bus carries.
 */
export type Requested<C extends { type: string; data: object }, K extends PropertyKey> = C extends unknown
  ? { type: C['type']; data: Omit<C['data'], K> }
  : never;

/** Same-stream commands of this process, queued per store: they run one after another instead of racing. */
const streamQueues = new WeakMap<EventStore, KeyedQueue>();
/** The streams whose turn the current async context holds. */
const queuedStreams = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * How a command retries when another process wrote its stream meanwhile: up to `attempts` decisions, sleeping between
 * them a random time in [0, min(capMs, baseMs * 2^attempt)) (exponential backoff, full jitter), and never beyond
 * `budgetMs` in all.
 */
export const CONFLICT_RETRY = { attempts: 60, baseMs: 2, capMs: 100, budgetMs: 10_000 };

/**
 * The command side's one loop: load the stream, decide, append at the exact revision that was loaded. Commands on one
 * stream in this process queue (KeyedQueue), so they never conflict with each other; a writer in another process
 * makes the append fail, and then the command loads and decides again after a jittered backoff (`CONFLICT_RETRY`),
 * so the decision always sees what is recorded and a good command is refused only for what the books say. Event ids
 * derive from the command id, so a command retried after a lost answer writes nothing twice.
 */
export async function decideAndAppend<S, E extends DomainEvent, C, Id>(
  store: EventStore,
  decider: Decider<S, E, C, Id>,
  id: Id,
  decide: (state: S) => E[] | Promise<E[]>,
  metadata: CommandMetadata,
): Promise<{ events: E[]; position?: bigint }> {
  const stream = decider.streamOf(id);
  const held = queuedStreams.getStore();
  // A decision made inside another on the same stream would wait for itself: it runs in the outer one's turn.
  if (held?.has(stream)) return decideAndAppendNow(store, decider, stream, decide, metadata);
  let queue = streamQueues.get(store);
  if (!queue) streamQueues.set(store, (queue = new KeyedQueue()));
  return queue.run(stream, () => queuedStreams.run(new Set(held).add(stream), () => decideAndAppendNow(store, decider, stream, decide, metadata)));
}

async function decideAndAppendNow<S, E extends DomainEvent, C, Id>(
  store: EventStore,
  decider: Decider<S, E, C, Id>,
  stream: string,
  decide: (state: S) => E[] | Promise<E[]>,
  metadata: CommandMetadata,
): Promise<{ events: E[]; position?: bigint }> {
  const { attempts, baseMs, capMs, budgetMs } = CONFLICT_RETRY;
  const deadline = Date.now() + budgetMs;
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await read(store, decider, stream);
    const events = await decide(state);
    if (events.length === 0) return { events };
    try {
      const result = await store.append(stream, toEnvelopes(stream, events, metadata), { expectedRevision: revision });
      return { events, position: result.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
    }
    const pause = Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
    if (attempt >= attempts || Date.now() + pause > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  throw new CommandRejected('conflict', [{ field: 'stream', reason: `${stream} kept changing while this command was decided; try again` }]);
}

export function toEnvelopes(stream: string, events: readonly DomainEvent[], metadata: CommandMetadata) {
  const eventMetadata: EventMetadata = { actor: metadata.actor, correlationId: metadata.correlationId, causationId: metadata.commandId };
  return events.map((event, i) => ({
    id: deterministicId(`${stream}\n${metadata.commandId}\n${i}\n${event.type}`),
    type: event.type,
    data: event.data as JsonObject,
    metadata: eventMetadata,
  }));
}

/** A uuid (version 8, name-based with SHA-256) derived from `name`. */
export function deterministicId(name: string): string {
  const digest = hash('sha256', name, 'buffer');
  digest[6] = (digest[6] & 0x0f) | 0x80;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
