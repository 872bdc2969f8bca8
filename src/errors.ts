import { CommandRejected, type Problem, type RejectionKind } from '../domain/rejection';

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

/**
 * The status each kind is answered with: by the HTTP filter, and in a failed job (src/jobs). `unavailable`: the chain
 * (or the embedded chain's owner) or a projection cannot serve now; the request may succeed later.
 */
export const STATUS_BY_KIND: Record<ErrorKind, number> = { invalid: 422, not_found: 404, conflict: 409, unavailable: 503 };

export const PROBLEM_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

/** An error as `application/problem+json` (RFC 9457) says it. */
export interface ProblemDocument {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  problems?: Problem[];
}

export function problemDocument(status: number, detail: string, problems: Problem[] = []): ProblemDocument {
  return { type: 'about:blank', title: PROBLEM_TITLES[status] ?? 'Error', status, detail, ...(problems.length > 0 ? { problems } : {}) };
}

/**
 * The problem an error of work done off a request (a job) is answered with, as the HTTP filter would have answered it:
 * refused commands and the engine's kinded errors by their kind, anything else a 500 that says nothing of its cause.
 */
export function problemOf(error: unknown): ProblemDocument {
  if (error instanceof CommandRejected || error instanceof KindedError) return problemDocument(STATUS_BY_KIND[error.kind], error.message, error.problems);
  return problemDocument(500, 'the engine failed to handle this request; it is logged');
}
