import { describeRevision, type ExpectedRevision } from './event-store';

/** The stream was not where the writer expected it: nothing was written. */
export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's last revision, or `no_stream`. */
    readonly actual: bigint | 'no_stream',
  ) {
    super(`stream ${stream}: expected revision ${describeRevision(expected)}, actual ${describeRevision(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** An event id already recorded with other content or at another place: nothing was written. */
export class EventIdConflictError extends Error {
  constructor(
    readonly stream: string,
    readonly eventId: string,
    readonly reason: string,
  ) {
    super(`stream ${stream}: event id ${eventId} ${reason}`);
    this.name = 'EventIdConflictError';
  }
}

/** The append itself is malformed (no events, bad id, non-object data): nothing was written. */
export class InvalidEventError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InvalidEventError';
  }
}
