/**
 * The synthetic log of bench/epoch, written fast enough to iterate on: rows made here and streamed with COPY into the
 * events table with its indexes dropped (rebuilt once, sorted, at the end), and kept as a template database when the
 * bench is given a data folder of its own (BENCH_DATA_DIR), so the next run copies files instead of writing the log.
 *
 * The rows are exactly what appends write: positions from one counter (the sequence is moved past them), consecutive
 * stream revisions, the same streams, types and data as the INSERT ... SELECT this replaced (which wrote 25,700
 * events/s here: 11.1 million in 432 s).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Client, Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { base58Encode } from '../domain/values';
import { migrate } from '../src/database/migrator';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { MIGRATIONS_DIR, projectRoot } from '../src/project-root';

/** Reports per synqer (ten one-minute rounds by default; fewer for the close at several million synqers). */
export const REPORTS_PER_SYNQER = Number(process.env.BENCH_REPORTS ?? 10);
export const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;
const METADATA = '{"actor":"bench","correlationId":"bench-epoch","causationId":"bench-epoch"}';
/** Bumped whenever the rows written change, so a kept template of another shape is never reused. */
const LOG_SHAPE = 2;
const REGIONS = ['eu-west', 'us-east', 'ap-south'];

/** A distinct, valid wallet per synqer, the same on every run. */
export function walletOf(i: number): string {
  const bytes = new Uint8Array(32);
  let x = (i + 1) * 2654435761;
  for (let j = 0; j < 32; j++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    bytes[j] = x & 0xff;
  }
  bytes[0] = i & 0xff;
  bytes[1] = (i >> 8) & 0xff;
  bytes[2] = (i >> 16) & 0xff;
  return base58Encode(bytes);
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/** The log's rows after the first two events, in global order, as COPY text lines (no value holds a tab, newline or backslash). */
function* logRows(synqers: number, firstPosition: bigint): Generator<string> {
  let position = firstPosition;
  const row = (stream: string, category: string, revision: number, type: string, data: string) =>
    `${position++}\t${randomUUID()}\t${stream}\t${category}\t${revision}\t${type}\t${data}\t${METADATA}\n`;
  for (let i = 0; i < synqers; i++) {
    const w = walletOf(i);
    yield row(
      `synqer-s${i}`,
      'synqer',
      0,
      'SynqerRegistered',
      `{"synqerId":"s${i}","payoutWallet":"${w}","reportingKey":"${w}","region":"${REGIONS[i % 3]}","labels":{}}`,
    );
  }
  // A tenth of the synqers stake, in sizes up to twice the boost's target.
  for (let i = 0; i < synqers; i += 10) {
    const amount = `${((BigInt(i) * 7919n) % 20000n) + 1n}000000`;
    yield row(`stake-s${i}`, 'stake', 0, 'StakeDeposited', `{"synqerId":"s${i}","depositId":"d${i}","amount":"${amount}"}`);
  }
  // Ten rounds of one-minute reports, every synqer once a round, as they would arrive.
  for (let round = 0; round < REPORTS_PER_SYNQER; round++) {
    const periodStart = iso(EPOCH_START + round * 60);
    const periodEnd = iso(EPOCH_START + round * 60 + 60);
    for (let i = 0; i < synqers; i++) {
      const bytes = ((BigInt(i) * 7919n + BigInt(round) * 104729n) % 50000000n) + 1000n;
      const uptime = i % 50 === 0 ? 10 : 60 - (i % 7);
      yield row(
        `metrics-s${i}-1`,
        'metrics',
        round,
        'MetricReportAccepted',
        `{"reportId":"r${round}-${i}","synqerId":"s${i}","epoch":1,"periodStart":"${periodStart}","periodEnd":"${periodEnd}",` +
          `"bytes":"${bytes}","sessions":${1 + ((i + round) % 40)},"uptimeSeconds":${uptime},"qosBps":${5000 + ((i * 37 + round) % 5000)},"signature":"bench"}`,
      );
    }
  }
}

/** Lines joined into chunks of about 256 KiB: one stream write per chunk, not per row. */
function* chunked(lines: Iterable<string>): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= 262_144) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * Writes the epoch's log into a migrated, empty database: TreasuryFunded and EpochOpened through the store (the close
 * reads them as written), then the registrations, stakes and reports with COPY. The events table's indexes and unique
 * constraints are dropped for the load and rebuilt after it, as a restore does; the rebuild checks them all again.
 */
export async function writeEpochLog(url: string, synqers: number): Promise<void> {
  const pool = new Pool({ connectionString: url, max: 2 });
  const store = new PostgresEventStore(pool);
  try {
    const meta = { actor: 'bench', correlationId: 'bench-epoch', causationId: 'bench-epoch' };
    await store.append('network-ledger', [
      { id: randomUUID(), type: 'TreasuryFunded', data: { amount: '1000000000000000', reference: 'bench' }, metadata: meta },
      {
        id: randomUUID(),
        type: 'EpochOpened',
        data: { epoch: 1, start: iso(EPOCH_START), end: iso(EPOCH_START + 600), rewardPool: '100000000000000' },
        metadata: meta,
      },
    ]);
    const first = (await store.lastPosition()) + 1n;
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('SET synchronous_commit = off');
      await client.query('BEGIN');
      await client.query(`ALTER TABLE events DROP CONSTRAINT events_pkey, DROP CONSTRAINT events_event_id_unique,
                            DROP CONSTRAINT events_stream_revision_unique`);
      await client.query('DROP INDEX events_category_position');
      await pipeline(
        Readable.from(chunked(logRows(synqers, first))),
        client.query(copyFrom('COPY events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata) FROM STDIN')),
      );
      await client.query("SET maintenance_work_mem = '1GB'");
      await client.query(`ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (global_position),
                            ADD CONSTRAINT events_event_id_unique UNIQUE (event_id),
                            ADD CONSTRAINT events_stream_revision_unique UNIQUE (stream_name, stream_revision)`);
      await client.query('CREATE INDEX events_category_position ON events (stream_category, global_position)');
      await client.query(`SELECT setval('events_global_position_seq', (SELECT max(global_position) FROM events))`);
      await client.query('COMMIT');
      await client.query('ANALYZE events');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await client.end();
    }
  } finally {
    await store.close();
    await pool.end();
  }
}

/** A digest of what decides the log's shape: the migrations and this writer. */
function logShapeDigest(): string {
  const hash = createHash('sha256').update(`shape ${LOG_SHAPE}\n`);
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) hash.update(file).update(readFileSync(path.join(MIGRATIONS_DIR, file)));
  return hash.digest('hex').slice(0, 10);
}

/** A digest of the log and of the code that projects it: a caught-up template is reused only by the same code. */
export function projectionCodeDigest(): string {
  const hash = createHash('sha256').update(logShapeDigest());
  for (const dir of ['domain', 'projections', path.join('src', 'projections')]) {
    const root = path.join(projectRoot(), dir);
    for (const file of readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .sort())
      hash.update(file).update(readFileSync(path.join(root, file)));
  }
  return hash.digest('hex').slice(0, 10);
}

/** Keeps database `name` (no one connected) as template `template` for later runs, unless one is there already. */
export async function keepAsTemplate(serverUrl: string, name: string, template: string): Promise<void> {
  await admin(serverUrl, async (c) => {
    if ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount === 1) return;
    await c.query(`CREATE DATABASE ${template} TEMPLATE ${name} STRATEGY FILE_COPY`);
  });
}

/** The caught-up template of this size, of any projection code (BENCH_REUSE_CAUGHT: for work on the close alone). */
export async function anyCaughtTemplate(serverUrl: string, synqers: number): Promise<string | undefined> {
  const { rows } = await admin(serverUrl, (c) =>
    c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY oid DESC LIMIT 1', [
      `tpl_caught_${synqers}x${REPORTS_PER_SYNQER}_%`,
    ]),
  );
  return rows[0]?.datname;
}

/** A fresh database `name` copied from `template`, or null when there is no such template. */
export async function fromTemplate(serverUrl: string, name: string, template: string): Promise<string | null> {
  return admin(serverUrl, async (c) => {
    if ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount !== 1) return null;
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`);
    return databaseUrl(serverUrl, name);
  });
}

async function admin<T>(serverUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A fresh database `name` holding the migrated schema and the log of `synqers` synqers. With `keep` (a data folder the
 * bench owns), the log is written once into a template database and later runs copy it (CREATE DATABASE ... TEMPLATE,
 * a file copy); without, it is written each time. Returns the URL and how the log got there.
 */
export async function databaseWithLog(
  serverUrl: string,
  name: string,
  synqers: number,
  keep: boolean,
): Promise<{ url: string; written: boolean; seconds: number }> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const template = `tpl_epoch_${synqers}x${REPORTS_PER_SYNQER}_${logShapeDigest()}`;
  await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  if (keep) {
    const exists = await admin(serverUrl, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount === 1);
    if (exists) {
      await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`));
      return { url: databaseUrl(serverUrl, name), written: false, seconds: seconds() };
    }
  }
  const target = keep ? template : name;
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${target}`));
  const url = databaseUrl(serverUrl, target);
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    await migrate(pool, MIGRATIONS_DIR, () => undefined);
  } finally {
    await pool.end();
  }
  await writeEpochLog(url, synqers);
  const writtenIn = seconds();
  if (keep) await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`));
  return { url: databaseUrl(serverUrl, name), written: true, seconds: writtenIn };
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Kept templates of other shapes are dropped, so a kept data folder does not fill the disk. */
export async function dropStaleTemplates(serverUrl: string): Promise<void> {
  const digest = logShapeDigest();
  const caught = projectionCodeDigest();
  const { rows } = await admin(serverUrl, (c) => c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'tpl_%'"));
  for (const { datname } of rows) {
    if (!datname.endsWith(`_${digest}`) && !datname.endsWith(`_${caught}`))
      await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`));
  }
}

export const benchResultsDir = () => path.join(projectRoot(), 'bench', 'results');
