import type { Problem, RejectionKind } from '../domain/rejection';

/**
 * What kind of failure an error is, for whoever answers for it (the HTTP filter maps kinds to statuses):
 * the rejection kinds of domain/rejection.ts (invalid, not_found, conflict), and
 * - unavailable: something the engine needs (the chain, a projection still being built) cannot serve now; the same
 *   request may succeed later.
 */
export type ErrorKind = RejectionKind | 'unavailable';

/**
 * An error of the engine's that says its kind and the field it concerns, so no layer needs to know another's error
 * classes to answer for them. CommandRejected (domain/rejection.ts, which imports nothing of src/) has the same
 * `kind` and `problems`.
 */
export abstract class KindedError extends Error {
  abstract get kind(): ErrorKind;
  /** The field the problem names: what could not be served. */
  abstract get field(): string;

  get problems(): Problem[] {
    return [{ field: this.field, reason: this.message }];
  }
}
