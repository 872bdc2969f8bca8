/**
 * bench/epoch: synthetic epochs of 100,000 and 1,000,000 synqers with 10 reports each. Measures projection catch-up
 * (events/s), the epoch close (rewards, root, and the leaves and tree levels proofs are served from) with its peak
 * memory, proof lookups over HTTP (p50/p99/p999 on 8 connections), reading the log once (the audit's floor), the audit
 * (replay events/s and the whole audit), and, in the same run, the Merkle build alone three ways.
 * `npm run bench:epoch` (BENCH_SYNQERS=100000,1000000 by default). Prints Markdown and writes
 * bench/results/epoch-latest.md.
 *
 * The log is written by bench/epoch-log (COPY, rows exactly as appends write them): generating 11 million events
 * through the command path would measure ingestion, which bench/ingest does. To iterate: BENCH_DATA_DIR keeps the
 * embedded server's folder, with the log and the caught-up projections as template databases (BENCH_DATABASE_URL
 * does the same on another server); BENCH_PARTS picks the measures (catchup,close,proofs,readall,audit,merkle): without
 * catchup, a kept caught-up template of the same code is copied (BENCH_REUSE_CAUGHT=1: of any code); BENCH_REPORTS
 * sets the reports per synqer.
 */
import {
  anyCaughtTemplate,
  databaseUrl,
  databaseWithLog,
  dropDatabase,
  dropStaleTemplates,
  fromTemplate,
  keepAsTemplate,
  projectionCodeDigest,
  REPORTS_PER_SYNQER,
} from './epoch-log';
import { Logger } from '@nestjs/common';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool } from 'pg';
import { observeCloseParts, settlementQueries, type ClosePart } from '../projections/settlement';
import { Audit } from '../src/audit/audit';
import { createApiKey } from '../src/auth/api-keys';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startEngine } from '../src/engine';
import { ClaimsCache } from '../src/epochs/claims-cache';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { ProjectionReader } from '../src/projections/projection-reader';
import { PROJECTIONS } from '../src/projections/projections';
import { projectRoot } from '../src/project-root';
import { floorRoot, markdownTable, measureMerkleBuilds } from './merkle-build';

const SIZES = (process.env.BENCH_SYNQERS ?? '100000,1000000').split(',').map(Number);
const PROOF_REQUESTS = Number(process.env.BENCH_PROOFS ?? 4_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
/** What to measure after catch-up (which always runs, or comes from a kept caught-up template): all by default. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'catchup,close,proofs,readall,audit,merkle').split(','));
/** A data folder the bench keeps between runs: the log and the caught-up projections are kept there as templates. */
const KEEP_DIR = process.env.BENCH_DATA_DIR;
/** Another server instead of an embedded one (templates are kept there, and shared by whoever uses it). */
const SERVER_URL = process.env.BENCH_DATABASE_URL;
const KEEP = KEEP_DIR !== undefined || SERVER_URL !== undefined;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const now = () => Number(process.hrtime.bigint()) / 1e9;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** The highest RSS and heap seen while `work` runs (sampled every 50 ms), in bytes, with its result. */
async function withPeakMemory<T>(work: () => Promise<T>): Promise<{ result: T; peakRss: number; peakHeap: number }> {
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 50);
  try {
    const result = await work();
    return { result, peakRss, peakHeap };
  } finally {
    clearInterval(sampler);
  }
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

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * The close in parts: the pipeline's steps (EpochClosed recorded; then the settlement projection's work, in its own
 * parts, and the wait for it; recording the rewards; recording the distribution and waiting for the projection to
 * check it). The step times are wall seconds only (cpuSeconds -1).
 */
function closeParts(started: number, steps: { step: string; at: number }[], projection: ClosePart[], ended: number): ClosePart[] {
  const at = (step: string) => steps.find((s) => s.step === step)?.at ?? ended;
  const inProjection = projection.reduce((total, part) => total + part.seconds, 0);
  return [
    { part: 'record EpochClosed', seconds: at('closed') - started, cpuSeconds: -1, databaseCpuSeconds: -1 },
    ...projection.map((part) => ({ ...part, part: `projection: ${part.part}` })),
    {
      part: 'projection commit, waits, record rewards',
      seconds: at('rewards_calculated') - at('closed') - inProjection,
      cpuSeconds: -1,
      databaseCpuSeconds: -1,
    },
    { part: 'record distribution, wait for its check', seconds: ended - at('rewards_calculated'), cpuSeconds: -1, databaseCpuSeconds: -1 },
  ];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

interface SizeResult {
  synqers: number;
  events: number;
  logSeconds: number;
  logWritten: boolean;
  catchUp?: number;
  catchUpSeconds?: number;
  closeSeconds?: number;
  closePeakRss?: number;
  closePeakHeap?: number;
  /** The close in parts: the settlement projection's (closeParts) and the pipeline's steps around it. */
  closeParts?: ClosePart[];
  closeLoad?: string;
  /** The floor loop over the close's own leaf hashes, in this run (and the root it gives, checked against the close's). */
  floorMerkleSeconds?: number;
  readAllSeconds?: number;
  audit?: number;
  auditSeconds?: number;
  p50?: number;
  p99?: number;
  p999?: number;
  proofLoad?: string;
  leaves?: number;
  root?: string;
  digest?: string;
}

async function waitForProjections(pool: Pool, last: bigint): Promise<void> {
  for (;;) {
    const { rows } = await pool.query<{ position: string }>('SELECT position FROM projection_state');
    if (rows.length >= PROJECTIONS.length && rows.every((r) => BigInt(r.position) >= last)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function runSize(serverUrl: string, synqers: number, dataDir: string): Promise<SizeResult> {
  const name = `epoch_${synqers}_${process.pid}`;
  const reuse = process.env.BENCH_REUSE_CAUGHT === '1' ? await anyCaughtTemplate(serverUrl, synqers) : undefined;
  const caughtTemplate = reuse ?? `tpl_caught_${synqers}x${REPORTS_PER_SYNQER}_${projectionCodeDigest()}`;
  let url = KEEP && !PARTS.has('catchup') ? await fromTemplate(serverUrl, name, caughtTemplate) : null;
  const fromCaught = url !== null;
  let logSeconds = 0;
  let logWritten = false;
  if (url === null) {
    log(`${fmt(synqers)} synqers: ${KEEP ? 'the log from its template, or written once' : 'writing the log'}`);
    const made = await databaseWithLog(serverUrl, name, synqers, KEEP);
    ({ url } = made);
    logSeconds = made.seconds;
    logWritten = made.written;
  } else log(`${fmt(synqers)} synqers: caught-up projections from template ${caughtTemplate}`);
  const pool = new Pool({ connectionString: url, max: 4 });
  const store = new PostgresEventStore(pool);
  const last = await store.lastPosition();
  const events = Number(await store.countAfter(0n));
  if (!fromCaught) log(`${fmt(events)} events ${logWritten ? 'written' : 'copied from the template'} in ${logSeconds.toFixed(1)} s`);
  const result: SizeResult = { synqers, events, logSeconds, logWritten };

  // Catch-up: the engine starts and its projection runner reads the whole log.
  const start = () => startEngine({ databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir }, new Logger('bench'), { frameworkLogs: false });
  const engine = await start();
  try {
    const started = now();
    await waitForProjections(pool, last);
    if (!fromCaught) {
      result.catchUpSeconds = now() - started;
      result.catchUp = events / result.catchUpSeconds;
      log(`catch-up: ${fmt(result.catchUp)} events/s (${result.catchUpSeconds.toFixed(1)} s)`);
      if (KEEP) {
        // Kept caught up, so that a run of the close alone (BENCH_PARTS without catchup) starts here.
        await engine.stop();
        await store.close();
        await pool.end();
        await keepAsTemplate(serverUrl, name, caughtTemplate);
        return runSizeAfterCatchUp(serverUrl, name, result, start);
      }
    }
    return await measureAfterCatchUp(engine, pool, store, result);
  } finally {
    await engine.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

async function runSizeAfterCatchUp(serverUrl: string, name: string, result: SizeResult, start: () => ReturnType<typeof startEngine>): Promise<SizeResult> {
  const pool = new Pool({ connectionString: databaseUrl(serverUrl, name), max: 4 });
  const store = new PostgresEventStore(pool);
  const engine = await start();
  try {
    await waitForProjections(pool, await store.lastPosition());
    return await measureAfterCatchUp(engine, pool, store, result);
  } finally {
    await engine.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

async function measureAfterCatchUp(
  engine: Awaited<ReturnType<typeof startEngine>>,
  pool: Pool,
  store: PostgresEventStore,
  result: SizeResult,
): Promise<SizeResult> {
  let started = now();
  const projectionParts: ClosePart[] = [];
  observeCloseParts((_epoch, parts) => projectionParts.push(...parts));
  const steps: { step: string; at: number }[] = [];
  const close = await withPeakMemory(() =>
    engine.app.get(EpochClosePipeline).close(1, { actor: 'bench', correlationId: 'bench-close' }, (step) => steps.push({ step, at: now() })),
  );
  result.closeSeconds = now() - started;
  observeCloseParts(undefined);
  result.closeLoad = loadavg();
  result.closePeakRss = close.peakRss;
  result.closePeakHeap = close.peakHeap;
  result.closeParts = closeParts(started, steps, projectionParts, started + result.closeSeconds);
  log(`close: ${result.closeSeconds.toFixed(1)} s (peak RSS ${mib(close.peakRss)} MiB, heap ${mib(close.peakHeap)} MiB, load ${result.closeLoad})`);
  const cpu = (seconds: number) => (seconds >= 0 ? `${seconds.toFixed(2)} s` : '-');
  for (const part of result.closeParts)
    log(`  ${part.part}: ${part.seconds.toFixed(2)} s (CPU: engine ${cpu(part.cpuSeconds)}, database ${cpu(part.databaseCpuSeconds)})`);
  const settled = await engine.app.get(EpochClosePipeline).settledEpoch(1);
  result.leaves = settled.leaf_count ?? 0;
  result.root = settled.root ?? undefined;
  result.digest = settled.digest ?? undefined;
  log(`root ${result.root}, digest ${result.digest}`);
  if (result.leaves > 0) {
    // The floor of the close's Merkle build: the plain loop over the close's own leaf hashes, checked to give its root.
    const leafHashes = (await settlementQueries.leafAmountsAndHashes(new ProjectionReader(pool), 1)).map((row) => row.leaf_hash);
    (globalThis as { gc?: () => void }).gc?.();
    const floorStarted = now();
    const floor = floorRoot(leafHashes).toString('hex');
    result.floorMerkleSeconds = now() - floorStarted;
    if (floor !== result.root) throw new Error(`the floor loop over the close's leaves gives root ${floor}, the close ${result.root}`);
    log(
      `floor Merkle build of the same ${fmt(result.leaves)} leaves: ${result.floorMerkleSeconds.toFixed(2)} s; close / floor ${(result.closeSeconds / result.floorMerkleSeconds).toFixed(1)}x`,
    );
  }

  if (PARTS.has('proofs')) {
    const key = (await createApiKey(engine, 'auditor')).key;
    const paid = (await settlementQueries.leaves(new ProjectionReader(pool), 1)).map((r) => r.wallet);
    if (paid.length === 0) throw new Error('nobody was paid');
    // Claims are answered from memory once an epoch's leaves and levels are loaded (the first claim asked for starts
    // that in the background): loaded first here, so that the lookups measure the steady state.
    started = now();
    await engine.app.get(ClaimsCache).warm(1);
    log(`claims of ${fmt(paid.length)} wallets loaded into memory in ${(now() - started).toFixed(1)} s`);
    const latencies = await proofLookups(engine.url, key, paid);
    result.proofLoad = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    latencies.sort((a, b) => a - b);
    result.p50 = percentile(latencies, 50);
    result.p99 = percentile(latencies, 99);
    result.p999 = percentile(latencies, 99.9);
    log(`proofs: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, p999 ${result.p999.toFixed(2)} ms (load ${result.proofLoad})`);
  }

  if (PARTS.has('readall')) {
    // The floor of the audit: reading the log once through the store, as the audit's replay reads it.
    started = now();
    let count = 0;
    for await (const event of store.readAll()) if (event) count++;
    result.readAllSeconds = now() - started;
    log(`readAll: ${fmt(count)} events in ${result.readAllSeconds.toFixed(1)} s (${fmt(count / result.readAllSeconds)} events/s)`);
  }

  if (PARTS.has('audit')) {
    // The audit: the replay of the log (its last progress report comes when the replay ends), then the comparisons.
    started = now();
    let replayed = started;
    const report = await new Audit(store, new ProjectionReader(pool)).run({ onProgress: () => (replayed = now()) });
    result.auditSeconds = now() - started;
    result.audit = report.eventsRead / (replayed - started);
    if (!report.ok || report.epochs[0]?.status !== 'match')
      throw new Error(`the audit did not match: ${JSON.stringify(report.epochs[0]?.mismatches?.slice(0, 3))}`);
    log(`audit: replay ${fmt(result.audit)} events/s, whole audit ${result.auditSeconds.toFixed(1)} s`);
  }
  return result;
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const dataDir = KEEP_DIR && !SERVER_URL ? path.resolve(KEEP_DIR) : mkdtempSync(path.join(tmpdir(), 'synq-bench-epoch-'));
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);
  const db = SERVER_URL ? { url: SERVER_URL, stop: async () => undefined } : await startEmbeddedPostgres({ dataDir, databaseName: 'bench' });
  const results: SizeResult[] = [];
  const merkle = [];
  try {
    if (KEEP_DIR && !SERVER_URL) await dropStaleTemplates(db.url);
    for (const synqers of SIZES) {
      results.push(await runSize(db.url, synqers, dataDir));
      // The working copy goes; the templates stay.
      await dropDatabase(db.url, `epoch_${synqers}_${process.pid}`);
      if (PARTS.has('merkle')) {
        log(`merkle builds of ${fmt(synqers)} leaves`);
        merkle.push(await measureMerkleBuilds(synqers));
      }
    }
  } finally {
    await db.stop();
    if (!KEEP_DIR || SERVER_URL) rmSync(dataDir, { recursive: true, force: true });
  }
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const cell = (v: number | undefined, digits = 1) => (v === undefined ? '-' : digits === 0 ? fmt(v) : v.toFixed(digits));
  const markdown = [
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL 18 (embedded); Node ${process.version}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end.`,
    `Command: \`BENCH_SYNQERS=${SIZES.join(',')}${REPORTS_PER_SYNQER !== 10 ? ` BENCH_REPORTS=${REPORTS_PER_SYNQER}` : ''}${process.env.BENCH_PARTS ? ` BENCH_PARTS=${process.env.BENCH_PARTS}` : ''} npm run bench:epoch\``,
    '',
    '| synqers | events | log (s) | catch-up (events/s) | close (s) | close peak RSS / heap (MiB) | readAll (s) | audit replay (events/s) | whole audit (s) | audit / readAll | proof p50 / p99 / p999 (ms) | leaves |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${fmt(r.synqers)} | ${fmt(r.events)} | ${r.logSeconds.toFixed(1)}${r.logWritten ? '' : ' (template)'} | ${cell(r.catchUp, 0)} | ${cell(r.closeSeconds)} | ` +
        `${r.closePeakRss === undefined ? '-' : `${mib(r.closePeakRss)} / ${mib(r.closePeakHeap ?? 0)}`} | ${cell(r.readAllSeconds)} | ${cell(r.audit, 0)} | ${cell(r.auditSeconds)} | ` +
        `${r.auditSeconds && r.readAllSeconds ? `${(r.auditSeconds / r.readAllSeconds).toFixed(2)}x` : '-'} | ` +
        `${r.p50 === undefined ? '-' : `${r.p50.toFixed(2)} / ${r.p99?.toFixed(2)} / ${r.p999?.toFixed(2)}`} | ${fmt(r.leaves ?? 0)} |`,
    ),
    '',
    ...results.map((r) => `${fmt(r.synqers)} synqers: root ${r.root}, rewards digest ${r.digest}.`),
    '',
    ...results.flatMap((r) => closePartsTable(r)),
    ...merkle.flatMap((m) => [markdownTable(m), '']),
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  const out = path.join(projectRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'epoch-latest.md'), `${markdown}\n`);
}

/** The close's parts as a Markdown table, with the close as a multiple of the floor Merkle build of its leaves. */
function closePartsTable(r: SizeResult): string[] {
  if (!r.closeParts || r.closeSeconds === undefined) return [];
  const floor = r.floorMerkleSeconds;
  return [
    `Close of ${fmt(r.synqers)} synqers (${fmt(r.leaves ?? 0)} leaves), load ${r.closeLoad}: ${r.closeSeconds.toFixed(1)} s` +
      (floor ? `, ${(r.closeSeconds / floor).toFixed(1)}x the floor Merkle build of its leaves (${floor.toFixed(2)} s, same run)` : '') +
      `; peak RSS ${mib(r.closePeakRss ?? 0)} MiB, heap ${mib(r.closePeakHeap ?? 0)} MiB.`,
    '',
    '| part | wall (s) | engine CPU (s) | database backend CPU (s) | wall x floor |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...r.closeParts.map(
      (p) =>
        `| ${p.part} | ${p.seconds.toFixed(2)} | ${p.cpuSeconds >= 0 ? p.cpuSeconds.toFixed(2) : '-'} | ${p.databaseCpuSeconds >= 0 ? p.databaseCpuSeconds.toFixed(2) : '-'} | ` +
        `${floor ? (p.seconds / floor).toFixed(1) : '-'} |`,
    ),
    '',
  ];
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/epoch failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
