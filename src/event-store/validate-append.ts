import type { EventToAppend, ExpectedRevision } from './event-store';
import { InvalidEventError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

/** Whether an append could take this stream name: a name it could not can hold no events, and need not be read. */
export const isStreamName = (stream: string): boolean => STREAM_NAME.test(stream);

/** Checks an append before any engine sees it, so both engines refuse the same input the same way. */
export function validateAppend(stream: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision = 'any'): void {
  if (typeof expectedRevision === 'bigint' ? expectedRevision < 0n : !['any', 'no_stream', 'stream_exists'].includes(expectedRevision)) {
    throw new InvalidEventError('expectedRevision', 'must be any, no_stream, stream_exists or a revision >= 0');
  }
  if (!isStreamName(stream)) {
    throw new InvalidEventError('stream', 'must be 1 to 200 letters, digits, "_", ".", ":" or "-", starting with a letter or digit');
  }
  if (events.length === 0) throw new InvalidEventError('events', 'must hold at least one event');
  const seen = new Set<string>();
  events.forEach((event, i) => {
    if (typeof event.id !== 'string' || !UUID.test(event.id)) throw new InvalidEventError(`events[${i}].id`, 'must be a uuid');
    const id = event.id.toLowerCase();
    if (seen.has(id)) throw new InvalidEventError(`events[${i}].id`, `repeats the id ${id} within one append`);
    seen.add(id);
    if (typeof event.type !== 'string' || event.type.length === 0 || event.type.length > 200) {
      throw new InvalidEventError(`events[${i}].type`, 'must be a non-empty string of at most 200 characters');
    }
    if (!isPlainObject(event.data)) throw new InvalidEventError(`events[${i}].data`, 'must be a JSON object');
    if (!isPlainObject(event.metadata)) throw new InvalidEventError(`events[${i}].metadata`, 'must be a JSON object');
    for (const key of ['correlationId', 'causationId', 'actor'] as const) {
      if (typeof event.metadata[key] !== 'string' || event.metadata[key].length === 0) {
        throw new InvalidEventError(`events[${i}].metadata.${key}`, 'must be a non-empty string');
      }
    }
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
