import type { EventStore, RecordedEvent } from '../src/event-store/event-store';

/** A SQL connection inside the projection's transaction, its search_path set to the generation being written. */
export interface ProjectionSql {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query<R extends Record<string, any> = Record<string, any>>(text: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * Rows for `copy`: each an array of values, or `{ text }`, rows the caller wrote as COPY text itself (lines ending in a
 * newline, values escaped; a string or its UTF-8 bytes); from an async iterable when computing them should let the writes drain in between.
 */
export type CopyRows = Iterable<readonly unknown[] | { text: string | Buffer }> | AsyncIterable<readonly unknown[] | { text: string | Buffer }>;

export interface ProjectionContext {
  sql: ProjectionSql;
  /** Writes many rows at once (COPY) in the same transaction: for the tables a close fills with a row per synqer. */
  copy(table: string, columns: readonly string[], rows: CopyRows): Promise<void>;
  /** The rows of `query` as `COPY (query) TO STDOUT` writes them (text format), in chunks of bytes: for a close's million inputs. */
  copyOut(query: string): AsyncIterable<Buffer>;
  /** The event log, for a projection that must look back at a fixed, already recorded range. */
  history: EventStore;
}

/**
 * A read model: the events it handles, the tables it keeps (created empty in a fresh schema per generation) and how a
 * batch of events changes them. `apply` runs in the transaction that also moves the checkpoint; throwing stops the
 * projection at that event (status `failed`), it is never skipped.
 */
export interface Projection {
  readonly name: string;
  /** Raise it when the tables or the meaning of `apply` change: the runner rebuilds the projection from the start. */
  readonly version: number;
  readonly eventTypes: ReadonlySet<string>;
  /** The stream categories its events come from, when it names them: the runner then reads only those. */
  readonly categories?: readonly string[];
  /** DDL creating the tables, unqualified: the runner sets the schema. */
  readonly tables: string;
  apply(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void>;
}

/**
 * Reads a read model's live generation (src/projections/projection-reader.ts is the one the engine uses): `sql` receives
 * the live schema's name to qualify the tables with. Each read model's queries.ts takes one of these, so every read of
 * its tables is a function of that read model.
 */
export interface ReadModelSql {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query<R extends Record<string, any>>(projection: string, sql: (schema: string) => string, params?: unknown[]): Promise<R[]>;
}

/** The schema holding one generation of a projection's tables. */
export const projectionSchema = (name: string, generation: number) => `projection_${name.replace(/-/g, '_')}_g${generation}`;
