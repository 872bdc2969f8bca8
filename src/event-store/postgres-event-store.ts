import type { Pool, PoolClient } from 'pg';
import {
  describeRevision,
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

const NOTIFY_CHANNEL = 'synq_events';
const MAX_REVISION = 9_223_372_036_854_775_807n;
/** How long a caught-up subscriber waits for a notification before it looks again anyway. */
const IDLE_POLL_MS = 1_000;

const COLUMNS = 'global_position, event_id, stream_name, stream_revision, event_type, data, metadata, recorded_at';
type EventRow = [string, string, string, string, string, JsonObject, EventMetadata, Date];

/**
 * The PostgreSQL event store (migrations/001_event_store.sql): one `events` table, one `append_to_stream` function.
 * Reads page through the table by key, so no read holds more than two pages in memory.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgresql' as const;
  private readonly pageSize: number;
  private listener: Promise<PoolClient> | undefined;
  private appendSignal = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly pool: Pool,
    options: { pageSize?: number } = {},
  ) {
    this.pageSize = options.pageSize ?? 2_000;
  }

  async append(stream: string, events: readonly EventToAppend[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    validateAppend(stream, events, expected);
    const payload = JSON.stringify(events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })));
    try {
      const { rows } = await this.pool.query<{ written: boolean; next_revision: string; last_position: string }>(
        'SELECT written, next_revision, last_position FROM append_to_stream($1, $2, $3::jsonb)',
        [stream, describeRevision(expected), payload],
      );
      const row = rows[0];
      return { written: row.written, nextExpectedRevision: BigInt(row.next_revision), position: BigInt(row.last_position) };
    } catch (error) {
      throw translateAppendError(error, stream, expected);
    }
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let from = options.fromRevision ?? (backwards ? MAX_REVISION : 0n);
    const sql = backwards
      ? `SELECT ${COLUMNS} FROM events WHERE stream_name = $1 AND stream_revision <= $2 ORDER BY stream_revision DESC LIMIT $3`
      : `SELECT ${COLUMNS} FROM events WHERE stream_name = $1 AND stream_revision >= $2 ORDER BY stream_revision LIMIT $3`;
    while (remaining > 0) {
      const limit = Math.min(this.pageSize, remaining);
      const rows = await this.queryRows(sql, [stream, from.toString(), limit]);
      for (const row of rows) yield toRecordedEvent(row);
      if (rows.length < limit) return;
      remaining -= rows.length;
      const last = BigInt(rows[rows.length - 1][3]);
      if (backwards && last === 0n) return;
      from = backwards ? last - 1n : last + 1n;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let after = options.after ?? 0n;
    const byCategory = options.category !== undefined;
    const sql = byCategory
      ? `SELECT ${COLUMNS} FROM events WHERE stream_category = $3 AND global_position > $1 ORDER BY global_position LIMIT $2`
      : `SELECT ${COLUMNS} FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2`;
    const fetch = (from: bigint, limit: number) => {
      const rows = this.queryRows(sql, byCategory ? [from.toString(), limit, options.category] : [from.toString(), limit]);
      rows.catch(() => undefined); // a prefetched page the reader never asks for must not become an unhandled rejection
      return rows;
    };

    let page = fetch(after, Math.min(this.pageSize, remaining));
    while (remaining > 0) {
      const limit = Math.min(this.pageSize, remaining);
      const rows = await page;
      if (rows.length === 0) return;
      remaining -= rows.length;
      after = BigInt(rows[rows.length - 1][0]);
      // Fetch the next page while this one is consumed; a short page means we reached the head.
      const more = rows.length === limit && remaining > 0;
      if (more) page = fetch(after, Math.min(this.pageSize, remaining));
      for (const row of rows) yield toRecordedEvent(row);
      if (!more) return;
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    return new PostgresSubscription(this, options);
  }

  async lastPosition(): Promise<bigint> {
    const { rows } = await this.pool.query<{ position: string }>('SELECT coalesce(max(global_position), 0) AS position FROM events');
    return BigInt(rows[0].position);
  }

  async close(): Promise<void> {
    for (const wake of this.waiters) wake();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      const client = await listener.catch(() => undefined);
      client?.release(true);
    }
  }

  /** A number that changes whenever an append may have committed; read before looking, compare before sleeping. */
  appendCounter(): number {
    return this.appendSignal;
  }

  /** Resolves on the next append notification, or after `timeoutMs`. */
  async waitForAppend(timeoutMs: number): Promise<void> {
    await this.ensureListening().catch(() => undefined); // without LISTEN the timeout still polls
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Wakes waiters: used by subscriptions being closed. */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private ensureListening(): Promise<PoolClient> {
    if (!this.listener) {
      const listener = (async () => {
        const client = await this.pool.connect();
        client.on('notification', () => {
          this.appendSignal++;
          this.wakeAll();
        });
        client.on('error', () => {
          if (this.listener === listener) this.listener = undefined;
          client.release(true);
        });
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        return client;
      })();
      listener.catch(() => {
        if (this.listener === listener) this.listener = undefined;
      });
      this.listener = listener;
    }
    return this.listener;
  }

  private async queryRows(sql: string, values: unknown[]): Promise<EventRow[]> {
    const result = await this.pool.query<EventRow>({ text: sql, values, rowMode: 'array' });
    return result.rows;
  }
}

/** Catch-up by paging `readAll` from the checkpoint, then live: woken by NOTIFY, with a slow poll as a safety net. */
class PostgresSubscription implements Subscription {
  private closed = false;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly options: SubscribeOptions,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    let checkpoint = this.options.after ?? 0n;
    while (!this.closed) {
      const seen = this.store.appendCounter();
      let delivered = false;
      for await (const event of this.store.readAll({ after: checkpoint, category: this.options.category })) {
        if (this.closed) return;
        checkpoint = event.position;
        delivered = true;
        yield event;
      }
      // Sleep only if nothing was delivered and no append was announced while we were reading.
      if (!delivered && seen === this.store.appendCounter() && !this.closed) {
        await this.store.waitForAppend(IDLE_POLL_MS);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.store.wakeAll();
  }
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    position: BigInt(row[0]),
    id: row[1],
    stream: row[2],
    revision: BigInt(row[3]),
    type: row[4],
    data: row[5],
    metadata: row[6],
    recordedAt: row[7],
  };
}

function translateAppendError(error: unknown, stream: string, expected: ExpectedRevision): unknown {
  const pgError = error as { code?: string; detail?: string };
  if (pgError.code === 'SQ001' && pgError.detail) {
    const detail = JSON.parse(pgError.detail) as { actual: string };
    return new WrongExpectedRevisionError(stream, expected, detail.actual === 'no_stream' ? 'no_stream' : BigInt(detail.actual));
  }
  if (pgError.code === 'SQ002' && pgError.detail) {
    const detail = JSON.parse(pgError.detail) as { eventId: string; reason: string };
    return new EventIdConflictError(stream, detail.eventId, detail.reason);
  }
  return error;
}
