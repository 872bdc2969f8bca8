import type { CustomTypesConfig, Pool, PoolClient } from 'pg';
import {
  describeRevision,
  type AppendRequest,
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

// recorded_at as epoch milliseconds: node-postgres's timestamptz parser costs more than the rest of a row.
const COLUMNS = 'global_position, event_id, stream_name, stream_revision, event_type, data, metadata, (extract(epoch FROM recorded_at) * 1000)::float8';
/**
 * Row parsing owned by the store, not by node-postgres's process-wide parsers (which other libraries replace: one
 * in the benchmark's process swapped JSON parsing for a slower reviver). json as JSON.parse, float8 as a number,
 * everything else as text (positions become bigint in toRecordedEvent).
 */
const EVENT_ROW_TYPES = {
  getTypeParser: (oid: number) => (oid === 114 || oid === 3802 ? JSON.parse : oid === 701 ? Number : (text: string) => text),
} as unknown as CustomTypesConfig;
type EventRow = [string, string, string, string, string, JsonObject, EventMetadata, number];

/**
 * The PostgreSQL event store (migrations/001_event_store.sql): one `events` table, one `append_to_stream` function.
 * Reads page through the table by key, so no read holds more than two pages in memory.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgresql' as const;
  private readonly pageSize: number;
  private listener: Promise<PoolClient> | undefined;
  private appendSignal = 0;
  private knownWatermark = 0n;
  private notifying = false;
  private notifyAgain = false;
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
    const params = [stream, describeRevision(expected), JSON.stringify(events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })))];
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.appendRow('SELECT written, next_revision, last_position FROM append_to_stream($1, $2, $3::json)', params);
        if (result?.written) this.announceAppend();
        if (result) return result;
      } catch (error) {
        // Another append recorded one of these ids while this one ran: ask what it was.
        if (!isEventIdRace(error)) throw translateAppendError(error, stream, expected);
        try {
          const repeat = await this.appendRow('SELECT written, next_revision, last_position FROM append_repeat($1, $2, $3::json)', params);
          if (repeat) return repeat;
        } catch (repeatError) {
          throw translateAppendError(repeatError, stream, expected);
        }
      }
      // The racing append rolled back: this one may go through now.
      if (attempt >= 3) throw new Error(`append to ${stream} kept racing with another append of the same event ids`);
    }
  }

  /** One round trip and one commit for all of them (`append_many` in migrations/003). */
  async appendMany(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    const outcomes: (AppendResult | Error)[] = new Array(requests.length);
    const payload: { ordinal: number; stream: string; expected: string; events: unknown[] }[] = [];
    requests.forEach((request, ordinal) => {
      const expected = request.expectedRevision ?? 'any';
      try {
        validateAppend(request.stream, request.events, expected);
        payload.push({
          ordinal,
          stream: request.stream,
          expected: describeRevision(expected),
          events: request.events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })),
        });
      } catch (error) {
        outcomes[ordinal] = error as Error;
      }
    });
    if (payload.length === 0) return outcomes;
    const { rows } = await this.pool.query<{
      ordinal: number;
      written: boolean | null;
      next_revision: string | null;
      last_position: string | null;
      error_code: string | null;
      error_detail: string | null;
      error_constraint: string | null;
    }>('SELECT * FROM append_many($1::json)', [JSON.stringify(payload.map(({ stream, expected, events }) => ({ stream, expected, events })))]);
    let anyWritten = false;
    for (const row of rows) {
      const { ordinal } = payload[row.ordinal];
      const request = requests[ordinal];
      if (row.error_code === null) {
        outcomes[ordinal] = { written: row.written!, nextExpectedRevision: BigInt(row.next_revision!), position: BigInt(row.last_position!) };
        anyWritten ||= row.written === true;
      } else {
        const error = { code: row.error_code, detail: row.error_detail ?? undefined, constraint: row.error_constraint ?? undefined };
        // An id recorded by a concurrent append: the single append path knows how to answer that.
        outcomes[ordinal] = isEventIdRace(error)
          ? await this.append(request.stream, request.events, { expectedRevision: request.expectedRevision }).catch((e: Error) => e)
          : asError(translateAppendError(error, request.stream, request.expectedRevision ?? 'any'), error.code);
      }
    }
    if (anyWritten) this.announceAppend();
    return outcomes;
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
    // Read up to the watermark taken now: nothing at or below it can still appear.
    const upTo = (await this.watermark()).toString();
    const sql = `SELECT ${COLUMNS} FROM read_events($1, $3, $2, $4)`;
    const fetch = (from: bigint, limit: number) => {
      const rows = this.queryRows(sql, [from.toString(), limit, upTo, options.category ?? null]);
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

  /**
   * The last position of a committed event, waiting out appends in flight: an epoch's cut-off is taken from it, so it
   * must not be a stale watermark (which readers may use). Each try holds new appends back for at most 200 ms.
   */
  async lastPosition(): Promise<bigint> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await this.pool.query<{ watermark: string | null }>('SELECT events_watermark() AS watermark');
      if (rows[0].watermark !== null) {
        // A second statement: its snapshot is taken after the watermark waited, so it sees every append below it.
        const { rows: last } = await this.pool.query<{ position: string }>(
          'SELECT coalesce(max(global_position), 0) AS position FROM events WHERE global_position <= $1',
          [rows[0].watermark],
        );
        return BigInt(last[0].position);
      }
      if (Date.now() > deadline) throw new Error('an append has stayed in flight for 30 s: the last position cannot be known');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async countAfter(position: bigint): Promise<bigint> {
    const upTo = await this.watermark();
    const { rows } = await this.pool.query<{ count: string }>('SELECT count(*) AS count FROM events WHERE global_position > $1 AND global_position <= $2', [
      position.toString(),
      upTo.toString(),
    ]);
    return BigInt(rows[0].count);
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

  private async appendRow(sql: string, params: unknown[]): Promise<AppendResult | undefined> {
    const { rows } = await this.pool.query<{ written: boolean; next_revision: string; last_position: string }>(sql, params);
    const row = rows[0];
    return row && { written: row.written, nextExpectedRevision: BigInt(row.next_revision), position: BigInt(row.last_position) };
  }

  /**
   * The highest position at or below which every append has finished (`events_watermark()` in the migration); reads
   * never go past it. If an append stays in flight too long, the last watermark seen is still safe and is returned.
   */
  async watermark(): Promise<bigint> {
    const { rows } = await this.pool.query<{ watermark: string | null }>('SELECT events_watermark() AS watermark');
    const fresh = rows[0].watermark;
    if (fresh !== null && BigInt(fresh) > this.knownWatermark) this.knownWatermark = BigInt(fresh);
    return this.knownWatermark;
  }

  /**
   * Wakes this process's subscribers at once and others through NOTIFY. The NOTIFY is its own statement, after the
   * append committed: inside the append it would serialise every commit on the notification queue's lock. At most one
   * is in flight; appends meanwhile are covered by one more.
   */
  private announceAppend(): void {
    this.appendSignal++;
    this.wakeAll();
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    void this.pool
      .query(`NOTIFY ${NOTIFY_CHANNEL}`)
      .catch(() => undefined) // subscribers elsewhere still poll
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.announceAppend();
        }
      });
  }

  private async queryRows(sql: string, values: unknown[]): Promise<EventRow[]> {
    const result = await this.pool.query<EventRow>({ text: sql, values, rowMode: 'array', types: EVENT_ROW_TYPES });
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
    recordedAt: new Date(row[7]),
  };
}

function asError(value: unknown, code: string): Error {
  return value instanceof Error ? value : new Error(`append failed with ${code}`);
}

function isEventIdRace(error: unknown): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === 'events_event_id_unique';
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
