import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { CommandRejected, reject } from '../../domain/rejection';
import { base58Decode, idProblem } from '../../domain/values';

/**
 * Path parameters, checked before a controller reads anything: a bad one is a 422 problem+json naming the parameter
 * as the route names it (`id`, `epoch`, `wallet`, `name`), like every other refused input. Nest's own integer pipe
 * answered 400 without `problems`, and an id with a NUL reached PostgreSQL, which refused the query (500).
 * `test/parameters.unit.test.ts` keeps every `@Param` of the controllers going through one of these.
 */

function refuse(metadata: ArgumentMetadata, reason: string): never {
  throw new CommandRejected('invalid', [{ field: metadata.data ?? 'parameter', reason }]);
}

/** An id (synqer, developer, verification run, projection): 1 to 64 of `A-Za-z0-9_.:-`, as `Checks.id` takes it. */
@Injectable()
export class IdParam implements PipeTransform<unknown, string> {
  transform(value: unknown, metadata: ArgumentMetadata): string {
    const problem = idProblem(value);
    if (problem) refuse(metadata, problem);
    return value as string;
  }
}

/** The largest epoch number a command takes (`Checks.integer('epoch', ..., 1, 1_000_000_000)`). */
const MAX_EPOCH = 1_000_000_000;

/** An epoch number: a whole number from 1 to 1,000,000,000, in plain decimal. */
@Injectable()
export class EpochParam implements PipeTransform<unknown, number> {
  transform(value: unknown, metadata: ArgumentMetadata): number {
    if (typeof value !== 'string' || !/^[1-9]\d{0,9}$/.test(value) || Number(value) > MAX_EPOCH) {
      refuse(metadata, `must be a whole number from 1 to ${MAX_EPOCH}`);
    }
    return Number(value);
  }
}

/** A wallet: a base58 public key of 32 bytes. */
@Injectable()
export class PublicKeyParam implements PipeTransform<unknown, string> {
  transform(value: unknown, metadata: ArgumentMetadata): string {
    if (typeof value !== 'string' || base58Decode(value)?.length !== 32) refuse(metadata, 'must be a base58 public key of 32 bytes');
    return value;
  }
}

/** A page's `?limit=` or `?offset=`: a whole number from `min` to `max` (the fallback when absent), else 422 naming it. */
export function pageNumber(field: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) reject('invalid', field, `must be a whole number from ${min} to ${max}`);
  return number;
}
