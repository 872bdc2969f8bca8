import { Client, type ClientConfig, type Pool } from 'pg';
import { projectionSchema, type Projection, type ProjectionContext } from '../../projections/projection';
import { copyOut, copyRows } from './copy-rows';
import type { EventStore, RecordedEvent } from '../event-store/event-store';

export type ProjectionRequest = { action: 'rebuild' } | { action: 'rewind'; toPosition: bigint } | { action: 'resume' };

export interface ProjectionStatus {
  name: string;
  version: number;
  generation: number;
  status: 'running' | 'paused' | 'failed' | 'rebuilding';
  /** Every event at or below it is applied to the tables readers use. */
  position: bigint;
  lagEvents: bigint;
  /** Age of the oldest event not yet applied; 0 when caught up. */
  lagSeconds: number;
  failure?: { position: bigint; eventId: string; error: string };
  building?: { generation: number; position: bigint; until: bigint | null; target: bigint | null; then: 'running' | 'paused' };
  pendingRequest?: string;
  owner: string | null;
  /**
   * The watchdog: behind the log, not paused, and its state (its position, or its build's) has not changed for
   * `stallAfterSeconds`: failed, or held by an instance that no longer makes progress. Never set for a paused projection.
   */
  stalled: boolean;
  /** Seconds since its state last changed (a batch applied, a request taken up, a failure recorded). */
  idleSeconds: number;
}

interface StateRow {
  name: string;
  version: number;
  generation: number;
  position: string;
  status: ProjectionStatus['status'];
  failed_position: string | null;
  failed_event_id: string | null;
  error: string | null;
  request: { action: string; toPosition?: string } | null;
  building_generation: number | null;
  building_position: string | null;
  building_until: string | null;
  building_then: 'running' | 'paused' | null;
  building_version: number | null;
  building_target: string | null;
  owner: string | null;
  /** Seconds since updated_at, by the database's clock (only in `status`). */
  idle_seconds?: number;
}

export interface ProjectionRunnerOptions {
  /** For status and requests; each projection's processor holds a connection of its own (its advisory lock). */
  pool: Pool;
  connection: ClientConfig;
  store: EventStore;
  projections: readonly Projection[];
  /** Names this engine instance in `owner`. */
  instanceId: string;
  batchSize?: number;
  idleMs?: number;
  /** How often an instance that is not processing a projection tries to take it over. */
  takeOverMs?: number;
  /** The watchdog: a projection behind the log whose state has not changed for this long is `stalled` (default 60). */
  stallAfterSeconds?: number;
  log?: (line: string) => void;
}

export const DEFAULT_STALL_AFTER_SECONDS = 60;

// Session advisory locks: (namespace, hashtext(name)). Another namespace than the event store's and the migrator's keys.
const LOCK_NAMESPACE = 735813;

/**
 * Feeds each projection from the event log in batches. Any number of engine instances may run one: each projection is
 * processed by whichever instance holds its advisory lock (a session lock, released when that instance's connection
 * dies, so another takes over). Within the lock, a batch's changes and the checkpoint commit in one transaction.
 */
export class ProjectionRunner {
  private readonly processors: ProjectionProcessor[];
  private running = false;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.processors = options.projections.map((projection) => new ProjectionProcessor(projection, options));
  }

  get projections(): readonly Projection[] {
    return this.options.projections;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const processor of this.processors) processor.start();
  }

  /** Stops processing and releases every lock (another instance takes over). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.processors.map((processor) => processor.stop()));
  }

  /** New events were appended: wake the idle processors now rather than at their next poll. */
  nudge(): void {
    for (const processor of this.processors) processor.nudge();
  }

  /** Asks whichever instance processes `name` to rebuild, rewind or resume it; answers once the request is recorded. */
  async request(name: string, request: ProjectionRequest): Promise<void> {
    const projection = this.projection(name);
    const body = request.action === 'rewind' ? { action: 'rewind', toPosition: request.toPosition.toString() } : { action: request.action };
    const { rowCount } = await this.options.pool.query('UPDATE projection_state SET request = $2, updated_at = now() WHERE name = $1', [
      projection.name,
      JSON.stringify(body),
    ]);
    if (rowCount !== 1) throw new Error(`projection ${name} has not been started yet: start the engine first`);
    this.nudge();
  }

  async status(): Promise<ProjectionStatus[]> {
    const { rows } = await this.options.pool.query<StateRow>(
      'SELECT *, extract(epoch FROM now() - updated_at)::float8 AS idle_seconds FROM projection_state ORDER BY name',
    );
    const stallAfter = this.options.stallAfterSeconds ?? DEFAULT_STALL_AFTER_SECONDS;
    const byName = new Map(rows.map((row) => [row.name, row]));
    return Promise.all(
      this.options.projections.map(async (projection) => {
        const row = byName.get(projection.name);
        if (!row) {
          const lagEvents = await this.options.store.countAfter(0n);
          return {
            name: projection.name,
            version: projection.version,
            generation: 0,
            status: 'running' as const,
            position: 0n,
            lagEvents,
            lagSeconds: await this.lagSeconds(0n),
            owner: null,
            stalled: false,
            idleSeconds: 0,
          };
        }
        const status = describe(row, await this.options.store.countAfter(BigInt(row.position)), await this.lagSeconds(BigInt(row.position)));
        // Behind for that long (its oldest event not applied is that old) and no progress for that long: an event just
        // recorded after a quiet hour is not a stall.
        status.stalled = status.status !== 'paused' && status.lagEvents > 0n && Math.min(status.idleSeconds, status.lagSeconds) >= stallAfter;
        return status;
      }),
    );
  }

  /**
   * Resolves once every projection (or the named ones) has applied all events up to `position` (default: the last one
   * recorded now) to the tables readers use. Throws if one of them fails or is paused before it gets there.
   */
  async waitFor(options: { position?: bigint; names?: readonly string[]; timeoutMs?: number } = {}): Promise<void> {
    const target = options.position ?? (await this.options.store.lastPosition());
    const names = new Set(options.names ?? this.options.projections.map((p) => p.name));
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const { rows } = await this.options.pool.query<StateRow>('SELECT * FROM projection_state WHERE name = ANY($1)', [[...names]]);
      const behind = [...names].filter((name) => {
        const row = rows.find((r) => r.name === name);
        return !row || BigInt(row.position) < target || row.building_generation !== null;
      });
      if (behind.length === 0) return;
      for (const name of behind) {
        const row = rows.find((r) => r.name === name);
        if (row?.status === 'failed') throw new Error(`projection ${name} failed at position ${row.failed_position}: ${row.error}`);
        if (row?.status === 'paused' && row.building_generation === null && !row.request)
          throw new Error(`projection ${name} is paused at position ${row.position}`);
      }
      if (Date.now() > deadline) throw new Error(`projections ${behind.join(', ')} have not reached position ${target} in time`);
      this.nudge();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private projection(name: string): Projection {
    const projection = this.options.projections.find((p) => p.name === name);
    if (!projection)
      throw new UnknownProjectionError(
        name,
        this.options.projections.map((p) => p.name),
      );
    return projection;
  }

  private async lagSeconds(position: bigint): Promise<number> {
    for await (const next of this.options.store.readAll({ after: position, maxCount: 1 })) {
      return Math.max(0, (Date.now() - next.recordedAt.getTime()) / 1000);
    }
    return 0;
  }
}

export class UnknownProjectionError extends Error {
  constructor(
    readonly projectionName: string,
    readonly known: string[],
  ) {
    super(`no projection is named ${projectionName} (known: ${known.join(', ')})`);
  }
}

function describe(row: StateRow, lagEvents: bigint, lagSeconds: number): ProjectionStatus {
  return {
    name: row.name,
    version: row.version,
    generation: row.generation,
    status: row.status,
    position: BigInt(row.position),
    lagEvents,
    lagSeconds: lagEvents === 0n ? 0 : lagSeconds,
    ...(row.failed_position !== null ? { failure: { position: BigInt(row.failed_position), eventId: row.failed_event_id ?? '', error: row.error ?? '' } } : {}),
    ...(row.building_generation !== null
      ? {
          building: {
            generation: row.building_generation,
            position: BigInt(row.building_position ?? '0'),
            until: row.building_until === null ? null : BigInt(row.building_until),
            target: row.building_target === null ? null : BigInt(row.building_target),
            then: row.building_then ?? 'running',
          },
        }
      : {}),
    ...(row.request ? { pendingRequest: row.request.action } : {}),
    owner: row.owner,
    stalled: false,
    idleSeconds: Math.max(0, row.idle_seconds ?? 0),
  };
}

interface Batch {
  events: RecordedEvent[];
  /** As many events as asked for: there may be more. */
  full: boolean;
  /** For a read of named categories: every event of them up to it was seen (the log's last position when it was read, at most). */
  head: bigint | null;
}

/** Processes one projection in this instance while it holds the projection's lock. */
class ProjectionProcessor {
  private client: Client | undefined;
  private prefetched: { after: bigint; batch: Promise<Batch> } | undefined;
  private locked = false;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly batchSize: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly projection: Projection,
    private readonly options: ProjectionRunnerOptions,
  ) {
    this.batchSize = options.batchSize ?? 5_000;
    this.log = options.log ?? (() => undefined);
  }

  start(): void {
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge();
    await this.loop;
  }

  nudge(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.locked) {
          await this.takeLock();
          if (!this.locked) {
            await this.sleep(this.options.takeOverMs ?? 1_000);
            continue;
          }
        }
        const worked = await this.step();
        if (!worked) await this.sleep(this.options.idleMs ?? 100);
      } catch (error) {
        // A lost connection loses the lock too: start over (another instance may have taken it meanwhile).
        if (!this.stopped) this.log(`projection ${this.projection.name}: ${(error as Error).message}; reconnecting`);
        await this.disconnect();
        if (!this.stopped) await this.sleep(1_000);
      }
    }
    await this.disconnect();
  }

  private async takeLock(): Promise<void> {
    if (!this.client) {
      const client = new Client(this.options.connection);
      client.on('error', () => undefined); // surfaced by the next query
      await client.connect();
      this.client = client;
    }
    const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [
      LOCK_NAMESPACE,
      this.projection.name,
    ]);
    this.locked = rows[0].locked;
    if (this.locked) {
      await this.ensureFirstGeneration();
      await this.client.query('UPDATE projection_state SET owner = $2, updated_at = now() WHERE name = $1', [this.projection.name, this.options.instanceId]);
      this.log(`projection ${this.projection.name}: processed by ${this.options.instanceId}`);
    }
  }

  /** A projection met for the first time: its row, and generation 1's empty tables, in one transaction. */
  private async ensureFirstGeneration(): Promise<void> {
    const client = this.client!;
    await client.query('BEGIN');
    try {
      const { rowCount } = await client.query(
        `INSERT INTO projection_state (name, version, generation, position, status) VALUES ($1, $2, 1, 0, 'running') ON CONFLICT (name) DO NOTHING`,
        [this.projection.name, this.projection.version],
      );
      if (rowCount === 1) await this.createSchema(1);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.locked = false;
    if (client) await client.end().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One unit of work; false when there was nothing to do. */
  private async step(): Promise<boolean> {
    const client = this.client!;
    const { rows } = await client.query<StateRow>('SELECT * FROM projection_state WHERE name = $1', [this.projection.name]);
    const row = rows[0];
    if (row.request) {
      await this.carryOut(row);
      return true;
    }
    const building = row.building_generation !== null && row.building_version === this.projection.version;
    if (row.version !== this.projection.version && !building) {
      this.log(`projection ${this.projection.name}: version ${row.version} in the database, ${this.projection.version} in the code: rebuilding`);
      await this.startBuilding(row, null, 'running');
      return true;
    }
    if (row.status === 'failed') return false;
    if (building) return this.buildStep(row);
    if (row.status !== 'running') return false;
    const { moved, idle } = await this.applyBatch(projectionSchema(this.projection.name, row.generation), BigInt(row.position), null, 'live', row.generation);
    // Caught up with nothing of its own to apply: the checkpoint followed the head; wait (or a nudge) before reading again,
    // rather than reading the head again at once while other categories are appended to.
    return moved && !idle;
  }

  private async carryOut(row: StateRow): Promise<void> {
    const request = row.request!;
    const client = this.client!;
    if (request.action === 'rebuild') {
      this.log(`projection ${row.name}: rebuild requested`);
      await this.startBuilding(row, null, 'running');
    } else if (request.action === 'rewind') {
      this.log(`projection ${row.name}: rewind to position ${request.toPosition} requested`);
      await this.startBuilding(row, BigInt(request.toPosition!), 'paused');
    } else if (request.action === 'resume' && (row.status === 'paused' || row.status === 'failed')) {
      await client.query(
        `UPDATE projection_state SET status = CASE WHEN building_generation IS NULL THEN 'running' ELSE 'rebuilding' END,
           failed_position = NULL, failed_event_id = NULL, error = NULL, updated_at = now() WHERE name = $1`,
        [row.name],
      );
    }
    // Cleared once carried out (a crash before this repeats it, which is harmless); a newer request stays.
    await client.query('UPDATE projection_state SET request = NULL WHERE name = $1 AND request = $2::jsonb', [row.name, JSON.stringify(request)]);
  }

  /** A new generation in a fresh schema, filled from the start up to `until` (null: the head); readers keep the old one meanwhile. */
  private async startBuilding(row: StateRow, until: bigint | null, then: 'running' | 'paused'): Promise<void> {
    const client = this.client!;
    const generation = Math.max(row.generation, row.building_generation ?? 0) + 1;
    const target = until ?? (await this.options.store.lastPosition());
    await client.query('BEGIN');
    try {
      if (row.building_generation !== null) await client.query(`DROP SCHEMA IF EXISTS ${projectionSchema(row.name, row.building_generation)} CASCADE`);
      await this.createSchema(generation);
      await client.query(
        `UPDATE projection_state SET status = 'rebuilding', building_generation = $2, building_position = 0, building_until = $3, building_then = $4,
           building_version = $5, building_target = $6, failed_position = NULL, failed_event_id = NULL, error = NULL, updated_at = now() WHERE name = $1`,
        [row.name, generation, until?.toString() ?? null, then, this.projection.version, target.toString()],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async createSchema(generation: number): Promise<void> {
    const schema = projectionSchema(this.projection.name, generation);
    await this.client!.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await this.client!.query(`CREATE SCHEMA ${schema}`);
    await this.client!.query(`SET LOCAL search_path TO ${schema}, public`);
    await this.client!.query(this.projection.tables);
  }

  private async buildStep(row: StateRow): Promise<boolean> {
    const generation = row.building_generation!;
    const until = row.building_until === null ? null : BigInt(row.building_until);
    const schema = projectionSchema(row.name, generation);
    const { moved, reachedEnd } = await this.applyBatch(schema, BigInt(row.building_position ?? '0'), until, 'building', generation);
    if (reachedEnd) await this.swap(row, generation, until);
    return moved || reachedEnd;
  }

  /** The built generation replaces the live one in one transaction; the old tables are dropped with it. */
  private async swap(row: StateRow, generation: number, until: bigint | null): Promise<void> {
    const client = this.client!;
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<StateRow>('SELECT * FROM projection_state WHERE name = $1 FOR UPDATE', [row.name]);
      const current = rows[0];
      if (current.building_generation !== generation || current.status === 'failed') {
        await client.query('ROLLBACK');
        return;
      }
      if (current.generation > 0) await client.query(`DROP SCHEMA IF EXISTS ${projectionSchema(row.name, current.generation)} CASCADE`);
      await client.query(
        `UPDATE projection_state SET generation = building_generation, version = building_version, position = $2, status = building_then,
           building_generation = NULL, building_position = NULL, building_until = NULL, building_then = NULL, building_version = NULL,
           building_target = NULL, updated_at = now() WHERE name = $1`,
        [row.name, (until ?? BigInt(current.building_position ?? '0')).toString()],
      );
      await client.query('COMMIT');
      this.log(`projection ${row.name}: generation ${generation} is live${until !== null ? `, paused at position ${until}` : ''}`);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * Reads the events after `after` (up to `until` when set), applies the ones the projection handles and moves the
   * checkpoint, all in one transaction; `moved` says whether the checkpoint moved, `idle` that it moved to the head
   * with nothing to apply. An event that cannot be applied is found by applying them one at a time; the ones before it
   * are kept and the projection stops at it.
   */
  private async applyBatch(
    schema: string,
    after: bigint,
    until: bigint | null,
    target: 'live' | 'building',
    generation: number,
  ): Promise<{ moved: boolean; reachedEnd: boolean; idle?: boolean }> {
    const batch = await this.take(after);
    let events = batch.events;
    let beyond = false;
    if (until !== null) {
      const cut = events.findIndex((event) => event.position > until);
      if (cut >= 0 || (batch.head !== null && batch.head > until)) beyond = true;
      if (cut >= 0) events = events.slice(0, cut);
    }
    const reachedEnd = beyond || !batch.full;
    // Reading one category, a batch that is not full has seen everything up to the head it was read against.
    let to = events.length > 0 ? events[events.length - 1].position : after;
    if (!batch.full && batch.head !== null) {
      const head = until !== null && until < batch.head ? until : batch.head;
      if (head > to) to = head;
    }
    if (to === after) return { moved: false, reachedEnd };
    // The next batch is read while this one is applied.
    if (batch.full && !beyond) this.prefetch(to);
    const handled = events.filter((event) => this.projection.eventTypes.has(event.type));
    const client = this.client!;
    const context = this.context(client);
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL search_path TO ${schema}, public`);
      await this.projection.apply(handled, context);
      await this.checkpoint(target, generation, to);
      await client.query('COMMIT');
      return { moved: true, reachedEnd, idle: handled.length === 0 && !batch.full };
    } catch (error) {
      this.prefetched = undefined;
      await client.query('ROLLBACK').catch(() => undefined);
      if (!(await this.isolate(schema, events, after, target, generation))) throw error;
      return { moved: false, reachedEnd: false };
    }
  }

  /** The batch after `after`: the one read ahead if it starts there, else read now. */
  private take(after: bigint): Promise<Batch> {
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    return prefetched?.after === after ? prefetched.batch : this.read(after);
  }

  private prefetch(after: bigint): void {
    const batch = this.read(after);
    batch.catch(() => undefined); // a read ahead that is never taken must not be an unhandled rejection
    this.prefetched = { after, batch };
  }

  /** Up to a batch of events after `after`; only the projection's categories when it names them. */
  private async read(after: bigint): Promise<Batch> {
    const categories = this.projection.categories ?? [];
    if (categories.length > 1) return this.readCategories(after, categories);
    const category = categories.length === 1 ? categories[0] : undefined;
    const head = category === undefined ? null : await this.options.store.lastPosition();
    const events: RecordedEvent[] = [];
    let read = 0;
    for await (const event of this.options.store.readAll({ after, maxCount: this.batchSize, category })) {
      read++;
      if (head !== null && event.position > head) break;
      events.push(event);
    }
    return { events, full: read === this.batchSize && events.length === read, head };
  }

  /**
   * Several categories, each read up to the head as one category is. A category that filled its read may hold more
   * after its last event, so the batch stops there (the earliest such): everything up to that point has been seen.
   */
  private async readCategories(after: bigint, categories: readonly string[]): Promise<Batch> {
    const head = await this.options.store.lastPosition();
    let seenTo = head;
    let events: RecordedEvent[] = [];
    for (const category of categories) {
      let read = 0;
      for await (const event of this.options.store.readAll({ after, maxCount: this.batchSize, category })) {
        read++;
        if (event.position > head) break;
        events.push(event);
        if (read === this.batchSize && event.position < seenTo) seenTo = event.position;
      }
    }
    const full = seenTo < head;
    if (full) events = events.filter((event) => event.position <= seenTo);
    events.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
    return { events, full, head: seenTo };
  }

  /** Applies a failed batch one event at a time; records the failure at the first event that throws. False if none did. */
  private async isolate(schema: string, events: RecordedEvent[], after: bigint, target: 'live' | 'building', generation: number): Promise<boolean> {
    const client = this.client!;
    const context = this.context(client);
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL search_path TO ${schema}, public`);
      let good = after;
      for (const event of events) {
        if (this.projection.eventTypes.has(event.type)) {
          await client.query('SAVEPOINT one_event');
          try {
            await this.projection.apply([event], context);
            await client.query('RELEASE SAVEPOINT one_event');
          } catch (error) {
            await client.query('ROLLBACK TO SAVEPOINT one_event');
            await this.checkpoint(target, generation, good);
            await client.query(
              `UPDATE projection_state SET status = 'failed', failed_position = $2, failed_event_id = $3, error = $4, updated_at = now() WHERE name = $1`,
              [this.projection.name, event.position.toString(), event.id, `${event.type}: ${(error as Error).message}`],
            );
            await client.query('COMMIT');
            this.log(`projection ${this.projection.name}: failed at position ${event.position} (${event.type}): ${(error as Error).message}`);
            return true;
          }
        }
        good = event.position;
      }
      await client.query('ROLLBACK');
      return false;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private context(client: Client): ProjectionContext {
    return {
      sql: client,
      history: this.options.store,
      copy: (table, columns, rows) => copyRows(client, table, columns, rows),
      copyOut: (query) => copyOut(client, query),
    };
  }

  private async checkpoint(target: 'live' | 'building', generation: number, position: bigint): Promise<void> {
    const sql =
      target === 'live'
        ? 'UPDATE projection_state SET position = $3, updated_at = now() WHERE name = $1 AND generation = $2 AND building_generation IS NULL'
        : 'UPDATE projection_state SET building_position = $3, updated_at = now() WHERE name = $1 AND building_generation = $2';
    const { rowCount } = await this.client!.query(sql, [this.projection.name, generation, position.toString()]);
    // Someone changed the row under us (a rewind or rebuild began): this batch must not count.
    if (rowCount !== 1) throw new Error(`projection ${this.projection.name}: generation ${generation} is no longer the one being written`);
  }
}
