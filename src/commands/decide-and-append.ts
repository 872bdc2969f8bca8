import { hash } from 'node:crypto';
import type { EventMetadata, EventStore, ExpectedRevision, JsonObject } from '../event-store/event-store';
import { WrongExpectedRevisionError } from '../event-store/errors';
import { CommandRejected } from '../../domain/rejection';

export interface DomainEvent {
  type: string;
  data: object;
}

/** Who asked, and in answer to what: recorded with every event the command produces. */
export interface CommandMetadata {
  actor: string;
  correlationId: string;
  /** Id of the command (its idempotency key where it has one): the events' causation. */
  commandId: string;
}

export interface Folded<S> {
  state: S;
  revision: ExpectedRevision;
}

/** Replays a stream through `evolve`. */
export async function fold<S, E extends DomainEvent>(store: EventStore, stream: string, initial: S, evolve: (state: S, event: E) => S): Promise<Folded<S>> {
  let state = initial;
  let revision: ExpectedRevision = 'no_stream';
  for await (const event of store.readStream(stream)) {
    state = evolve(state, { type: event.type, data: event.data } as E);
    revision = event.revision;
  }
  return { state, revision };
}

/**
 * The command side's one loop: fold the stream, decide, append at the exact revision that was folded. A concurrent
 * writer makes the append fail; then it folds and decides again, so the decision always sees what is recorded.
 * Event ids derive from the command id, so a command retried after a lost answer writes nothing twice.
 */
export async function decideAndAppend<S, E extends DomainEvent>(
  store: EventStore,
  stream: string,
  initial: S,
  evolve: (state: S, event: E) => S,
  decide: (state: S) => E[] | Promise<E[]>,
  metadata: CommandMetadata,
): Promise<{ events: E[]; position?: bigint }> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { state, revision } = await fold(store, stream, initial, evolve);
    const events = await decide(state);
    if (events.length === 0) return { events };
    try {
      const result = await store.append(stream, toEnvelopes(stream, events, metadata), { expectedRevision: revision });
      return { events, position: result.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
    }
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

