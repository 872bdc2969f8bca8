/**
 * bench/payout-view: `GET /epochs/{n}/settlement` of a hybrid epoch of 100,000 payouts (BENCH_PAYOUTS, or the first
 * argument), before and after the payouts read model (issue 17 item 8). `npm run bench:payout-view`.
 *
 * The epoch's payout stream is written as the payout executor records it when every recipient's token account is
 * created (bench/settle's first epoch): 8 transfers a transaction, 12,500 batches at 100,000 payouts, each attempt
 * signed (with its wire bytes, ~1,600 base64 characters) then confirmed, in appends of 128 events, then `EpochSettled`.
 * The events come from the domain's decide functions; nothing is sent to a chain. Then, on one fresh database:
 *
 * - before: the view as the route answered it until now, `SettleEpoch.view` (the stream replayed through its decider),
 *   and its JSON, BENCH_REPLAYS times (5);
 * - the payouts projection's catch-up over that stream (the engine started: its runner builds the read model);
 * - after: `SettlementViews.settlement` in process, and `GET /epochs/1/settlement` over HTTP (one connection, an
 *   auditor's key), BENCH_READS times each (50); a `SELECT 1` round trip on the same pool as the floor;
 * - the check: every answer is byte for byte the replay's JSON, or the bench fails.
 *
 * Prints Markdown and writes bench/results/payout-view-latest.md.
 */
import { Logger } from '@nestjs/common';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import {
  completeSettlement,
  evolvePayout,
  initialPayout,
  planSettlement,
  recordOutcomes,
  recordSigned,
  type PayoutEvent,
  type PayoutState,
} from '../domain/epoch-payout';
import { PAYOUTS, payoutsQueries } from '../projections/payouts';
import { createApiKey } from '../src/auth/api-keys';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { migrate } from '../src/database/migrator';
import { startEngine } from '../src/engine';
import type { EventToAppend } from '../src/event-store/event-store';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { ProjectionReader } from '../src/projections/projection-reader';
import { ProjectionRunner } from '../src/projections/projection-runner';
import { MIGRATIONS_DIR, projectRoot } from '../src/project-root';
import { SettleEpoch } from '../src/settlement/settle-epoch';
import { SettlementViews } from '../src/settlement/settlement-views';
import { createBenchDatabase } from './support';

const PAYOUT_COUNT = Number(process.argv[2] ?? process.env.BENCH_PAYOUTS ?? 100_000);
const TRANSFERS_PER_TRANSACTION = 8;
const APPEND = 128;
const REPLAYS = Number(process.env.BENCH_REPLAYS ?? 5);
const READS = Number(process.env.BENCH_READS ?? 50);
const META = { actor: 'bench', correlationId: 'bench-payout-view', causationId: 'bench-payout-view' };

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const load1 = () => loadavg()[0].toFixed(1);

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** Appends `events` to payout-1 in appends of APPEND, folding them into `state` as the executor's decisions do. */
async function record(store: PostgresEventStore, state: PayoutState, events: PayoutEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += APPEND) {
    const part = events.slice(i, i + APPEND);
    const toAppend: EventToAppend[] = part.map((event) => ({
      id: randomUUID(),
      type: event.type,
      data: event.data as unknown as EventToAppend['data'],
      metadata: META,
    }));
    await store.append('payout-1', toAppend);
    for (const event of part) evolvePayout(state, event);
  }
}

/** The payout stream of a hybrid epoch of `payouts` leaves, every recipient's account created, settled. Its event count. */
async function writePayoutStream(store: PostgresEventStore, payouts: number): Promise<number> {
  const state = initialPayout();
  const plan = planSettlement(state, {
    epoch: 1,
    mode: 'hybrid',
    root: 'ab'.repeat(32),
    leafCount: payouts,
    total: String(payouts * 1_000_003),
    leaves: Array.from({ length: payouts }, () => ({ accountExists: false })),
    maxTransfersPerTransaction: TRANSFERS_PER_TRANSACTION,
  });
  await record(store, state, plan);
  const batches = state.batches.length;
  for (let first = 0; first < batches; first += APPEND) {
    const chunk = Array.from({ length: Math.min(APPEND, batches - first) }, (_, k) => first + k);
    const signed = recordSigned(
      state,
      chunk.map((batch) => ({
        epoch: 1,
        batch,
        signature: randomBytes(64).toString('base64url'),
        blockhash: randomBytes(32).toString('base64url'),
        lastValidBlockHeight: String(150 + batch),
        wire: randomBytes(1200).toString('base64'),
        rent: String(2_039_280 * TRANSFERS_PER_TRANSACTION),
      })),
    );
    await record(store, state, signed);
    const outcomes = recordOutcomes(
      state,
      chunk.map((batch) => ({ signature: state.batches[batch].current!.signature, status: 'succeeded' as const, slot: BigInt(batch), fee: 5000n })),
    );
    await record(store, state, outcomes);
  }
  await record(store, state, completeSettlement(state));
  return 2 + 2 * batches;
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-payout-view-'));
  chmodSync(dataDir, 0o755);
  const external = process.env.BENCH_DATABASE_URL;
  const embedded = external ? undefined : await startEmbeddedPostgres({ dataDir, databaseName: 'bench' });
  const url = await createBenchDatabase(external ?? embedded!.url, 'payout_view');
  const pool = new Pool({ connectionString: url, max: 4 });
  const lines: string[] = [];
  try {
    await migrate(pool, MIGRATIONS_DIR, () => undefined);
    const store = new PostgresEventStore(pool);
    log(`writing the payout stream of ${fmt(PAYOUT_COUNT)} payouts`);
    let started = now();
    const events = await writePayoutStream(store, PAYOUT_COUNT);
    const { rows: size } = await pool.query<{ bytes: string }>(`SELECT sum(pg_column_size(data))::text AS bytes FROM events WHERE stream_name = 'payout-1'`);
    log(`${fmt(events)} events (${(Number(size[0].bytes) / 2 ** 20).toFixed(1)} MiB of data) in ${((now() - started) / 1000).toFixed(1)} s, load ${load1()}`);

    // Before: the stream replayed on every call.
    const replayLoad = load1();
    const settleEpoch = new SettleEpoch(store, null as never, null as never);
    const replays: number[] = [];
    let expected = '';
    for (let i = 0; i < REPLAYS; i++) {
      started = now();
      expected = JSON.stringify(await settleEpoch.view(1));
      replays.push(now() - started);
    }
    log(`replay: p50 ${percentile(replays, 50).toFixed(1)} ms (${replays.map((ms) => ms.toFixed(0)).join(', ')}), load ${replayLoad}`);

    // The read model: the engine's runner builds it from the log.
    const engine = await startEngine({ databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir }, new Logger('bench'), {
      frameworkLogs: false,
    });
    try {
      const last = await store.lastPosition();
      started = now();
      for (;;) {
        const { rows } = await pool.query<{ position: string }>('SELECT position FROM projection_state WHERE name = $1', [PAYOUTS]);
        if (rows.length === 1 && BigInt(rows[0].position) >= last) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const catchUpMs = now() - started;
      log(`payouts projection caught up in ${(catchUpMs / 1000).toFixed(2)} s (${fmt(events / (catchUpMs / 1000))} events/s), load ${load1()}`);

      const reader = new ProjectionReader(pool);
      const views = new SettlementViews(store, reader, engine.app.get(ProjectionRunner));
      const inProcess: number[] = [];
      const queryOnly: number[] = [];
      const floor: number[] = [];
      const afterLoad = load1();
      for (let i = 0; i < READS; i++) {
        started = now();
        await pool.query('SELECT 1');
        floor.push(now() - started);
        started = now();
        const answer = JSON.stringify((await views.settlement(1)).view);
        inProcess.push(now() - started);
        if (answer !== expected) throw new Error('the read model answered other JSON than the replay');
        started = now();
        await payoutsQueries.payout(reader, 1);
        queryOnly.push(now() - started);
      }
      const key = (await createApiKey(engine, 'auditor')).key;
      const http: number[] = [];
      for (let i = 0; i < READS; i++) {
        started = now();
        const response = await fetch(`${engine.url}/epochs/1/settlement`, { headers: { authorization: `Bearer ${key}` } });
        const text = await response.text();
        http.push(now() - started);
        if (response.status !== 200 || text !== expected) throw new Error(`GET answered ${response.status}, not the replay's JSON`);
        // At the log's head (the key's creation is recorded after the stream): nothing of the stream is missing.
        if (BigInt(response.headers.get('x-projection-position') ?? '0') < last) throw new Error('the answer stands before the stream was written');
      }
      log(
        `read model: in process p50 ${percentile(inProcess, 50).toFixed(2)} ms (the query ${percentile(queryOnly, 50).toFixed(2)} ms), HTTP p50 ${percentile(http, 50).toFixed(2)} ms; SELECT 1 p50 ${percentile(floor, 50).toFixed(2)} ms; load ${afterLoad}`,
      );
      const replayP50 = percentile(replays, 50);
      lines.push(
        `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL 18 (${external ? 'BENCH_DATABASE_URL' : 'embedded'}); Node ${process.version}.`,
        `Command: \`npm run bench:payout-view\` (${fmt(PAYOUT_COUNT)} payouts). Load (1 min): ${replayLoad} during the replays, ${afterLoad} during the reads.`,
        '',
        '| payouts | batches | events in payout-1 | JSON (bytes) | replay p50 (ms) | read model in process p50 / p99 (ms) | of which the query p50 (ms) | GET over HTTP p50 / p99 (ms) | SELECT 1 p50 (ms) | replay / read model | catch-up of the stream (s, events/s) |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        `| ${fmt(PAYOUT_COUNT)} | ${fmt((events - 2) / 2)} | ${fmt(events)} | ${fmt(expected.length)} | ${replayP50.toFixed(0)} | ${percentile(inProcess, 50).toFixed(1)} / ${percentile(inProcess, 99).toFixed(1)} | ${percentile(queryOnly, 50).toFixed(1)} | ${percentile(http, 50).toFixed(1)} / ${percentile(http, 99).toFixed(1)} | ${percentile(floor, 50).toFixed(2)} | ${(replayP50 / percentile(inProcess, 50)).toFixed(0)}x | ${(catchUpMs / 1000).toFixed(2)} (${fmt(events / (catchUpMs / 1000))}) |`,
        '',
        `Every answer (${REPLAYS} replays, ${READS} reads in process, ${READS} over HTTP) was the same JSON, byte for byte.`,
      );
    } finally {
      await engine.stop();
    }
    await store.close();
  } finally {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const markdown = lines.join('\n');
  process.stdout.write(`${markdown}\n`);
  mkdirSync(path.join(projectRoot(), 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(projectRoot(), 'bench', 'results', 'payout-view-latest.md'), `${markdown}\n`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
