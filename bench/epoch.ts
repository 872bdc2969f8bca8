/**
 * bench/epoch: synthetic epochs of 100,000 and 1,000,000 synqers with 10 reports each. Measures projection catch-up
 * (events/s), the epoch close (rewards, root, and the leaves and tree levels proofs are served from), the audit replay
 * (events/s), proof lookups over HTTP (p50/p99 on 8 connections), and, in the same run, the Merkle build alone three
 * ways. `npm run bench:epoch` (BENCH_SYNQERS=100000,1000000 by default). Prints Markdown and writes
 * bench/results/epoch-latest.md.
 *
 * The log is written with INSERT ... SELECT straight into the events table (rows exactly as appends write them:
 * positions from the sequence, consecutive stream revisions): generating 11 million events through the command path
 * would measure ingestion, which bench/ingest does.
 */
import { createBenchDatabase, SYNQER_REGISTRATIONS_SQL } from './support';
import { Logger } from '@nestjs/common';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool } from 'pg';
import { randomUUID } from 'node:crypto';
import { base58Encode } from '../domain/values';
import { settlementQueries } from '../projections/settlement';
import { Audit } from '../src/audit/audit';
import { createApiKey } from '../src/auth/api-keys';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { migrate } from '../src/database/migrator';
import { startEngine } from '../src/engine';
import { ClaimsCache } from '../src/epochs/claims-cache';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { ProjectionReader } from '../src/projections/projection-reader';
import { MIGRATIONS_DIR, projectRoot } from '../src/project-root';
import { markdownTable, measureMerkleBuilds } from './merkle-build';

const SIZES = (process.env.BENCH_SYNQERS ?? '100000,1000000').split(',').map(Number);
const REPORTS_PER_SYNQER = 10;
const PROOF_REQUESTS = Number(process.env.BENCH_PROOFS ?? 4_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;
const METADATA = '{"actor":"bench","correlationId":"bench-epoch","causationId":"bench-epoch"}';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const now = () => Number(process.hrtime.bigint()) / 1e9;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** A distinct, valid wallet per synqer, the same on every run. */
function walletOf(i: number): string {
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

async function generate(pool: Pool, store: PostgresEventStore, synqers: number): Promise<string[]> {
  const meta = { actor: 'bench', correlationId: 'bench-epoch', causationId: 'bench-epoch' };
  await store.append('network-ledger', [
    { id: randomUUID(), type: 'TreasuryFunded', data: { amount: '1000000000000000', reference: 'bench' }, metadata: meta },
    {
      id: randomUUID(),
      type: 'EpochOpened',
      data: {
        epoch: 1,
        start: new Date(EPOCH_START * 1000).toISOString().replace('.000Z', 'Z'),
        end: new Date((EPOCH_START + 600) * 1000).toISOString().replace('.000Z', 'Z'),
        rewardPool: '100000000000000',
      },
      metadata: meta,
    },
  ]);
  const wallets = Array.from({ length: synqers }, (_, i) => walletOf(i));
  for (let from = 0; from < synqers; from += 100_000) {
    const chunk = wallets.slice(from, from + 100_000);
    await pool.query(SYNQER_REGISTRATIONS_SQL, [chunk, from, METADATA]);
  }
  // A tenth of the synqers stake, in sizes up to twice the boost's target.
  await pool.query(
    `INSERT INTO events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata)
     SELECT nextval('events_global_position_seq'), gen_random_uuid(), 'stake-s' || i, 'stake', 0, 'StakeDeposited',
            json_build_object('synqerId', 's' || i, 'depositId', 'd' || i, 'amount', ((i::bigint * 7919) % 20000 + 1)::text || '000000'), $2::json
       FROM generate_series(0, $1::int - 1, 10) AS i ORDER BY i`,
    [synqers, METADATA],
  );
  // Ten rounds of one-minute reports, every synqer once a round, as they would arrive.
  for (let round = 0; round < REPORTS_PER_SYNQER; round++) {
    for (let from = 0; from < synqers; from += 250_000) {
      await pool.query(
        `INSERT INTO events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata)
         SELECT nextval('events_global_position_seq'), gen_random_uuid(), 'metrics-s' || i || '-1', 'metrics', $1::int, 'MetricReportAccepted',
                json_build_object(
                  'reportId', 'r' || $1::int || '-' || i, 'synqerId', 's' || i, 'epoch', 1,
                  'periodStart', to_char(to_timestamp($2::bigint + $1::int * 60) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                  'periodEnd', to_char(to_timestamp($2::bigint + $1::int * 60 + 60) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                  'bytes', ((i::bigint * 7919 + $1::int * 104729) % 50000000 + 1000)::text,
                  'sessions', 1 + (i + $1::int) % 40,
                  'uptimeSeconds', CASE WHEN i % 50 = 0 THEN 10 ELSE 60 - i % 7 END,
                  'qosBps', 5000 + (i * 37 + $1::int) % 5000,
                  'signature', 'bench'),
                $5::json
           FROM generate_series($3::int, least($3::int + 250000, $4::int) - 1) AS i ORDER BY i`,
        [round, EPOCH_START, from, synqers, METADATA],
      );
    }
  }
  await pool.query('ANALYZE events');
  return wallets;
}

/**
 * GET /epochs/1/distribution/{wallet} for random paid wallets, 8 keep-alive connections, from a worker thread (so the
 * load generator does not share the engine's event loop; it still shares the machine's two cores). Latencies in ms.
 */
async function proofLookups(url: string, key: string, wallets: string[]): Promise<number[]> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    const { url, key, wallets, requests, connections } = workerData;
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const latencies = [];
    let next = 0;
    let seed = 42;
    const one = (wallet) => new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      http.get(url + '/epochs/1/distribution/' + wallet, { agent, headers: { authorization: 'Bearer ' + key } }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          const body = JSON.parse(Buffer.concat(chunks).toString());
          if (response.statusCode !== 200 || !Array.isArray(body.proof)) reject(new Error('proof lookup answered ' + response.statusCode));
          else resolve();
        });
      }).on('error', reject);
    });
    (async () => {
      await Promise.all(Array.from({ length: connections }, async () => {
        while (next++ < requests) {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          await one(wallets[seed % wallets.length]);
        }
      }));
      agent.destroy();
      parentPort.postMessage(latencies);
    })().catch((error) => { throw error; });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { url, key, wallets, requests: PROOF_REQUESTS, connections: CONNECTIONS } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function runSize(serverUrl: string, synqers: number, dataDir: string) {
  const name = `epoch_${synqers}`;
  const url = await createBenchDatabase(serverUrl, name);
  const pool = new Pool({ connectionString: url, max: 4 });
  await migrate(pool, MIGRATIONS_DIR, () => undefined);
  const store = new PostgresEventStore(pool);
  log(`${fmt(synqers)} synqers: writing the log`);
  let started = now();
  const wallets = await generate(pool, store, synqers);
  const last = await store.lastPosition();
  const events = Number(await store.countAfter(0n));
  log(`${fmt(events)} events written in ${(now() - started).toFixed(1)} s`);

  // Catch-up: the engine starts and its projection runner reads the whole log.
  const engine = await startEngine({ databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir }, new Logger('bench'), {
    frameworkLogs: false,
  });
  try {
    started = now();
    for (;;) {
      const { rows } = await pool.query<{ position: string }>('SELECT position FROM projection_state');
      if (rows.length === 2 && rows.every((r) => BigInt(r.position) >= last)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const catchUpSeconds = now() - started;
    log(`catch-up: ${fmt(events / catchUpSeconds)} events/s`);

    started = now();
    await engine.app.get(EpochClosePipeline).close(1, { actor: 'bench', correlationId: 'bench-close' });
    const closeSeconds = now() - started;
    log(`close: ${closeSeconds.toFixed(1)} s`);

    const key = (await createApiKey(engine, 'auditor')).key;
    const paid = (await settlementQueries.leaves(new ProjectionReader(pool), 1)).map((r) => r.wallet);
    if (paid.length === 0) throw new Error('nobody was paid');
    // Claims are answered from memory once an epoch's leaves and levels are loaded (the first claim asked for starts
    // that in the background): loaded first here, so that the lookups measure the steady state.
    started = now();
    await engine.app.get(ClaimsCache).warm(1);
    log(`claims of ${fmt(paid.length)} wallets loaded into memory in ${(now() - started).toFixed(1)} s`);
    const latencies = await proofLookups(engine.url, key, paid);
    latencies.sort((a, b) => a - b);

    // The audit: the replay of the log (its last progress report comes when the replay ends), then the comparisons.
    started = now();
    let replayed = started;
    const report = await new Audit(store, new ProjectionReader(pool)).run({ onProgress: () => (replayed = now()) });
    const auditSeconds = now() - started;
    const replaySeconds = replayed - started;
    if (!report.ok || report.epochs[0]?.status !== 'match')
      throw new Error(`the audit did not match: ${JSON.stringify(report.epochs[0]?.mismatches?.slice(0, 3))}`);
    log(`audit: replay ${fmt(report.eventsRead / replaySeconds)} events/s, whole audit ${auditSeconds.toFixed(1)} s`);

    const settled = await engine.app.get(EpochClosePipeline).settledEpoch(1);
    return {
      synqers,
      events,
      generated: wallets.length,
      catchUp: events / catchUpSeconds,
      catchUpSeconds,
      closeSeconds,
      audit: report.eventsRead / replaySeconds,
      auditSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      leaves: settled.leaf_count ?? 0,
      eligible: settled.eligible ?? 0,
    };
  } finally {
    await engine.stop();
    await store.close();
    await pool.end();
  }
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-epoch-'));
  chmodSync(dataDir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir, databaseName: 'bench' });
  const results = [];
  const merkle = [];
  try {
    for (const synqers of SIZES) {
      results.push(await runSize(db.url, synqers, dataDir));
      log(`merkle builds of ${fmt(synqers)} leaves`);
      merkle.push(await measureMerkleBuilds(synqers));
    }
  } finally {
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const markdown = [
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL 18 (embedded); Node ${process.version}.`,
    'Command: `npm run bench:epoch`',
    '',
    '| synqers | events | catch-up (events/s) | close (s) | audit replay (events/s) | whole audit (s) | proof p50 (ms) | proof p99 (ms) | leaves |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${fmt(r.synqers)} | ${fmt(r.events)} | ${fmt(r.catchUp)} | ${r.closeSeconds.toFixed(1)} | ${fmt(r.audit)} | ${r.auditSeconds.toFixed(1)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${fmt(r.leaves)} |`,
    ),
    '',
    ...merkle.flatMap((m) => [markdownTable(m), '']),
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  const out = path.join(projectRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'epoch-latest.md'), `${markdown}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/epoch failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
