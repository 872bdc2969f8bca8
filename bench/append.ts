/**
 * bench/append: events/s appended by our PostgreSQL store and by Emmett's (@event-driven-io/emmett-postgresql) on the
 * same server in the same run, for 1, 10 and 1,000 events per append with 1 and 8 writers; then our ordered readAll and
 * subscription catch-up. `npm run bench:append` (BENCH_SECONDS per configuration, default 4; BENCH_DATABASE_URL to use
 * another server instead of a fresh embedded one). Prints Markdown and writes bench/results/append-latest.md.
 */
import { createBenchDatabase } from './support';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres';
import { migrate } from '../src/database/migrator';
import type { EventToAppend } from '../src/event-store/event-store';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { MIGRATIONS_DIR, projectRoot } from '../src/project-root';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONFIGURATIONS = [
  { batch: 1, writers: 1 },
  { batch: 1, writers: 8 },
  { batch: 10, writers: 1 },
  { batch: 10, writers: 8 },
  { batch: 1000, writers: 1 },
  { batch: 1000, writers: 8 },
];
const APPENDS_PER_STREAM = 100;
const READ_TARGET = 500_000;

/** One writer's view of a store: append a batch to a stream at the revision it knows. */
type Appender = (stream: string, batch: number, revision: bigint | undefined) => Promise<bigint>;

interface Measurement {
  events: number;
  seconds: number;
}

function metricReport(i: number) {
  return {
    synqerId: `synqer-${i % 997}`,
    epoch: 42,
    periodStart: '2026-11-24T10:00:00Z',
    periodEnd: '2026-11-24T10:05:00Z',
    bytes: `${1_000_000 + i * 7919}`,
    sessions: 12 + (i % 5),
    uptimeSeconds: 300,
    qosBps: 9_500,
  };
}

function metadata() {
  return { correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench' };
}

function ourEvents(n: number): EventToAppend[] {
  return Array.from({ length: n }, (_, i) => ({ id: randomUUID(), type: 'MetricReportAccepted', data: metricReport(i), metadata: metadata() }));
}

/** Runs `writers` loops for SECONDS, each appending `batch` events per call to its own streams. */
async function measure(append: Appender, batch: number, writers: number, label: string): Promise<Measurement> {
  const deadline = Date.now() + SECONDS * 1000;
  const started = process.hrtime.bigint();
  const counts = await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let appended = 0;
      let calls = 0;
      let revision: bigint | undefined;
      let stream = `${label}-${w}-${randomUUID()}`;
      while (Date.now() < deadline) {
        if (calls > 0 && calls % APPENDS_PER_STREAM === 0) {
          stream = `${label}-${w}-${randomUUID()}`;
          revision = undefined;
        }
        revision = await append(stream, batch, revision);
        appended += batch;
        calls++;
      }
      return appended;
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { events: counts.reduce((a, b) => a + b, 0), seconds };
}

/** Seconds to read the whole log in order, checking that positions rise and nothing is missing. */
async function timeReadAll(store: PostgresEventStore, total: number): Promise<number> {
  const started = process.hrtime.bigint();
  let read = 0;
  let last = 0n;
  for await (const event of store.readAll()) {
    if (event.position <= last) throw new Error(`readAll out of order at ${event.position}`);
    last = event.position;
    read++;
  }
  if (read !== total) throw new Error(`readAll delivered ${read} of ${total} events`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const rate = (m: Measurement) => m.events / m.seconds;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  let embedded: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let serverUrl = process.env.BENCH_DATABASE_URL;
  if (!serverUrl) {
    dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-'));
    chmodSync(dataDir, 0o755);
    embedded = await startEmbeddedPostgres({ dataDir, databaseName: 'bench' });
    serverUrl = embedded.url;
  }
  try {
    await run(serverUrl, embedded ? 'embedded-postgres' : 'BENCH_DATABASE_URL');
  } finally {
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function run(serverUrl: string, serverSource: string): Promise<void> {
  // Ours.
  const oursUrl = await createBenchDatabase(serverUrl, 'bench_ours');
  const pool = new Pool({ connectionString: oursUrl, max: 10 });
  await migrate(pool, MIGRATIONS_DIR);
  const store = new PostgresEventStore(pool);
  const ours: Appender = async (stream, batch, revision) =>
    (await store.append(stream, ourEvents(batch), { expectedRevision: revision ?? 'no_stream' })).nextExpectedRevision;

  // Emmett, on its own fresh database on the same server.
  const emmettUrl = await createBenchDatabase(serverUrl, 'bench_emmett');
  const { getPostgreSQLEventStore } = await import('@event-driven-io/emmett-postgresql');
  const { STREAM_DOES_NOT_EXIST } = await import('@event-driven-io/emmett');
  const emmett = getPostgreSQLEventStore(emmettUrl, { schema: { autoMigration: 'None' } });
  await emmett.schema.migrate();
  const theirs: Appender = async (stream, batch, revision) => {
    const events = Array.from({ length: batch }, (_, i) => ({ type: 'MetricReportAccepted', data: metricReport(i), metadata: metadata() }));
    const result = await emmett.appendToStream(stream, events, { expectedStreamVersion: revision ?? STREAM_DOES_NOT_EXIST });
    return result.nextExpectedStreamVersion;
  };

  // Warm both up (connections, plans) before measuring.
  await measure(ours, 10, 8, 'warm');
  await measure(theirs, 10, 8, 'warm');

  const rows: { batch: number; writers: number; ours: number; emmett: number }[] = [];
  for (const { batch, writers } of CONFIGURATIONS) {
    const o = await measure(ours, batch, writers, `ours-b${batch}-w${writers}`);
    const e = await measure(theirs, batch, writers, `emmett-b${batch}-w${writers}`);
    rows.push({ batch, writers, ours: rate(o), emmett: rate(e) });
    process.stderr.write(`batch ${batch}, ${writers} writer(s): ours ${fmt(rate(o))} events/s, Emmett ${fmt(rate(e))} events/s\n`);
  }
  await emmett.close();

  // Enough events for the read measurements.
  let total = Number(await store.lastPosition());
  while (total < READ_TARGET) {
    await store.append(`topup-${randomUUID()}`, ourEvents(1000));
    total += 1000;
  }
  total = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0].n);

  // First read right after the appends: PostgreSQL also sets hint bits on every new page (and autovacuum may run).
  const firstReadSeconds = await timeReadAll(store, total);
  // Then the settled table, as a projection rebuild or an audit replay would find it.
  await pool.query('VACUUM (ANALYZE) events');
  const readSeconds = await timeReadAll(store, total);

  const started = process.hrtime.bigint();
  const subscription = store.subscribeToAll();
  let caughtUp = 0;
  let lastDelivered = 0n;
  for await (const event of subscription) {
    if (event.position <= lastDelivered) throw new Error(`subscription repeated or reordered at ${event.position}`);
    lastDelivered = event.position;
    caughtUp++;
    if (caughtUp === total) break;
  }
  await subscription.close();
  const catchUpSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  const { rows: version } = await pool.query<{ server_version: string }>('SHOW server_version');
  await store.close();
  await pool.end();

  const bestEmmett = rows.reduce((best, row) => (row.emmett > best.emmett ? row : best));
  const bestOursBatched = Math.max(...rows.filter((r) => r.batch === 1000).map((r) => r.ours));
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const lines = [
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
      `PostgreSQL ${version[0].server_version} (${serverSource}); Node ${process.version}; ${SECONDS} s per configuration.`,
    `Command: \`npm run bench:append\``,
    '',
    '| events per append | writers | ours (events/s) | Emmett (events/s) | ours / Emmett |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.batch} | ${r.writers} | ${fmt(r.ours)} | ${fmt(r.emmett)} | ${(r.ours / r.emmett).toFixed(2)} |`),
    '',
    `Emmett's best configuration: ${fmt(bestEmmett.emmett)} events/s (${bestEmmett.batch} per append, ${bestEmmett.writers} writers); ` +
      `our best at 1,000 per append: ${fmt(bestOursBatched)} events/s = ${(bestOursBatched / bestEmmett.emmett).toFixed(2)}x.`,
    '',
    '| read | events | events/s |',
    '| --- | ---: | ---: |',
    `| readAll, whole log in order, first read after the appends | ${fmt(total)} | ${fmt(total / firstReadSeconds)} |`,
    `| readAll, whole log in order, after VACUUM (ANALYZE) | ${fmt(total)} | ${fmt(total / readSeconds)} |`,
    `| subscribeToAll catch-up from 0 | ${fmt(total)} | ${fmt(total / catchUpSeconds)} |`,
  ];
  const markdown = lines.join('\n');
  process.stdout.write(`${markdown}\n`);
  const out = path.join(projectRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'append-latest.md'), `${markdown}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/append failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
