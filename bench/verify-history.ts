/**
 * bench/verify-history: what a replay-verification run costs as the history grows (issue 17 item 9). `npm run
 * bench:verify-history` (BENCH_EPOCHS=10,100 by default: the points measured; BENCH_SYNQERS=100 synqers per epoch;
 * BENCH_REPEATS=5 runs of each kind per point, the median reported).
 *
 * On a fresh database (of the embedded PostgreSQL this bench starts, or of BENCH_DATABASE_URL / DATABASE_URL) the
 * engine starts on the embedded chain; POST /chain/init, /treasury/fundings and /settlement/mode hybrid; the synqers
 * are registered with real ed25519 wallets (written straight into the events table, as bench/settle does); then epoch
 * after epoch is opened, reported (two reports per synqer, written the same way), closed by the close pipeline and
 * settled on chain by `PayoutExecutor.settle` (hybrid: SPL transfers, one or two transactions an epoch). No run is
 * made while the history is built. At each point (after 10 and after 100 settled epochs):
 *   - full: `ChainVerifier.run({ full: true })`, every epoch's transactions again (it also writes the checkpoints);
 *   - incremental, nothing new: `ChainVerifier.run()` right after;
 *   - incremental, one new epoch: one more epoch settled on top, then `ChainVerifier.run()` (what the run after a
 *     settlement costs).
 * Each timed with the machine's load average beside it, and counted in work that does not depend on the machine:
 * events read from the store, transactions and accounts asked of the chain, projection queries. Every run must be
 * clean and count the same checks as a full run of the same history (the bench fails otherwise, and says it checked).
 * The target: an incremental run costs the same at 100 epochs as at 10.
 *
 * Prints Markdown, writes bench/results/verify-history.json and bench/results/verify-history-latest.md.
 */
import { Logger } from '@nestjs/common';
import { Keypair } from '@solana/web3.js';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import type { VerificationRun } from '../domain/chain-verification';
import { createApiKey } from '../src/auth/api-keys';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { migrate } from '../src/database/migrator';
import { startEngine, type RunningEngine } from '../src/engine';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import type { EventStore, RecordedEvent } from '../src/event-store/event-store';
import { ProjectionReader } from '../src/projections/projection-reader';
import { MIGRATIONS_DIR, projectRoot } from '../src/project-root';
import { PayoutExecutor } from '../src/settlement/payout-executor';
import { ChainVerifier } from '../src/verification/chain-verifier';
import { createBenchDatabase, postgresCpuSeconds, SYNQER_REGISTRATIONS_SQL } from './support';

const POINTS = (process.env.BENCH_EPOCHS ?? '10,100').split(',').map(Number);
if (POINTS.some((n) => !Number.isInteger(n) || n < 1) || POINTS.some((n, i) => i > 0 && n <= POINTS[i - 1]))
  throw new Error(`BENCH_EPOCHS must be rising whole numbers, comma-separated: ${POINTS.join(',')}`);
const SYNQERS = Number(process.env.BENCH_SYNQERS ?? 100);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
const EPOCH_SECONDS = 600;
const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;
const REPORTS_PER_SYNQER = 2;
const REWARD_POOL = 1_000_000_000_000n;
const FUNDING = 1_000_000_000_000_000n;
const SUPPLY = 1_000_000_000_000_000n;
/** Advisory keys of the event store (migrations/001): appends hold the first shared; the second guards positions. */
const APPEND_LOCK = 7358112002;
const POSITION_LOCK: [number, number] = [735812, 0];
const METADATA = '{"actor":"bench","correlationId":"bench-verify-history","causationId":"bench-verify-history"}';

const now = () => Number(process.hrtime.bigint()) / 1e9;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Work a run did that does not depend on the machine. */
interface Work {
  eventsRead: number;
  chainCalls: number;
  transactionsAsked: number;
  accountsAsked: number;
  signatureListings: number;
  projectionQueries: number;
}

interface Measured {
  wallSeconds: number;
  engineCpuSeconds: number;
  postgresCpuSeconds: number | null;
  loadAverage: [number, number];
  work: Work;
  run: Pick<VerificationRun, 'runId' | 'discrepancyCount' | 'checked' | 'coverage'>;
}

interface Point {
  epochs: number;
  full: Measured[];
  unchanged: Measured[];
  /** After one more epoch settled on top (epochs + 1 in the history). */
  newEpoch: Measured;
}

/** Counts what the engine asks of the chain, the store and the projections (wrappers on the instances; nothing in src/ changes). */
class Counter {
  work: Work = Counter.zero();

  static zero(): Work {
    return { eventsRead: 0, chainCalls: 0, transactionsAsked: 0, accountsAsked: 0, signatureListings: 0, projectionQueries: 0 };
  }

  attach(engine: RunningEngine, reader: ProjectionReader): void {
    const chain = engine.chain as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of ['getAccount', 'getAccounts', 'getTransaction', 'getTransactions', 'signaturesForAddress', 'unixTimestamp']) {
      const original = chain[name].bind(engine.chain);
      chain[name] = (...args: unknown[]) => {
        this.work.chainCalls++;
        if (name === 'getTransactions') this.work.transactionsAsked += (args[0] as unknown[]).length;
        if (name === 'getTransaction') this.work.transactionsAsked++;
        if (name === 'getAccounts') this.work.accountsAsked += (args[0] as unknown[]).length;
        if (name === 'getAccount') this.work.accountsAsked++;
        if (name === 'signaturesForAddress') this.work.signatureListings++;
        return original(...args);
      };
    }
    const store = engine.eventStore as unknown as Record<string, (...args: unknown[]) => AsyncIterable<RecordedEvent>>;
    for (const name of ['readAll', 'readStream'] as const) {
      const original = (store[name] as EventStore['readAll']).bind(engine.eventStore) as (...a: unknown[]) => AsyncIterable<RecordedEvent>;
      const count = () => this.work.eventsRead++;
      store[name] = (...args: unknown[]) =>
        (async function* () {
          for await (const event of original(...args)) {
            count();
            yield event;
          }
        })();
    }
    const query = reader.query.bind(reader);
    reader.query = ((...args: Parameters<ProjectionReader['query']>) => {
      this.work.projectionQueries++;
      return query(...args);
    }) as ProjectionReader['query'];
  }

  take(): Work {
    const taken = this.work;
    this.work = Counter.zero();
    return taken;
  }
}

class Api {
  constructor(
    private readonly url: string,
    private readonly key: string,
  ) {}

  async call(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${route} answered ${response.status}: ${text.slice(0, 500)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }
}

/** Rows written straight into the events table as appends write them, under the append and position locks (as bench/settle). */
async function insertEvents(pool: Pool, statements: { sql: string; params: unknown[] }[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock_shared($1)', [APPEND_LOCK]);
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', POSITION_LOCK);
    for (const statement of statements) await client.query(statement.sql, statement.params);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Every synqer reports each half of the epoch, eligible (as bench/settle's reports). */
function reports(epoch: number, start: number) {
  const period = EPOCH_SECONDS / REPORTS_PER_SYNQER;
  return Array.from({ length: REPORTS_PER_SYNQER }, (_, round) => ({
    sql: `INSERT INTO events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata)
          SELECT nextval('events_global_position_seq'), gen_random_uuid(), 'metrics-s' || i || '-' || $1::int, 'metrics', $2::int, 'MetricReportAccepted',
                 json_build_object(
                   'reportId', 'r' || $1::int || '-' || $2::int || '-' || i, 'synqerId', 's' || i, 'epoch', $1::int,
                   'periodStart', to_char(to_timestamp($3::bigint) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'periodEnd', to_char(to_timestamp($3::bigint + $4::int) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'bytes', ((i::bigint * 7919 + $2::int * 104729 + $1::int * 31) % 50000000 + 1000)::text,
                   'sessions', 1 + (i + $2::int) % 40,
                   'uptimeSeconds', $4::int,
                   'qosBps', 7000 + (i * 37 + $2::int) % 3000,
                   'signature', 'bench'),
                 $6::json
            FROM generate_series(0, $5::int - 1) AS i ORDER BY i`,
    params: [epoch, round, start + round * period, period, SYNQERS, METADATA],
  }));
}

async function run(): Promise<{ points: Point[]; postgres: string; embedded: boolean }> {
  const pgDataDir = SERVER_URL ? undefined : mkdtempSync(path.join(tmpdir(), 'synq-bench-verify-history-'));
  if (pgDataDir) chmodSync(pgDataDir, 0o755);
  const embedded = pgDataDir ? await startEmbeddedPostgres({ dataDir: pgDataDir, databaseName: 'bench' }) : undefined;
  const pgDir = embedded ? path.dirname(embedded.dataDir) : undefined;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-verify-history-engine-'));
  let engine: RunningEngine | undefined;
  const url = await createBenchDatabase(SERVER_URL ?? embedded!.url, 'verify_history');
  const pool = new Pool({ connectionString: url, max: 2 });
  pool.on('error', (error) => log(`bench pool: ${error.message}`));
  try {
    await migrate(pool, MIGRATIONS_DIR, () => undefined);
    const postgres = (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    engine = await startEngine({ databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir }, new Logger('bench'), { frameworkLogs: false });
    engine.database.pool.on('error', (error) => log(`engine pool: ${error.message}`));
    const api = new Api(engine.url, (await createApiKey(engine, 'operator')).key);
    await api.call('POST', '/chain/init', { supply: SUPPLY.toString() });
    await api.call('POST', '/treasury/fundings', { amount: FUNDING.toString(), reference: 'bench-verify-history' });
    await api.call('POST', '/settlement/mode', { mode: 'hybrid', reason: 'bench/verify-history' });
    const wallets = Array.from({ length: SYNQERS }, () => Keypair.generate().publicKey.toBase58());
    await insertEvents(pool, [{ sql: SYNQER_REGISTRATIONS_SQL, params: [wallets, 0, METADATA] }]);

    const executor = engine.app.get(PayoutExecutor);
    const close = engine.app.get(EpochClosePipeline);
    const verifier = engine.app.get(ChainVerifier);
    const counter = new Counter();
    counter.attach(engine, engine.app.get(ProjectionReader));

    let settledEpochs = 0;
    const settleNext = async () => {
      const epoch = settledEpochs + 1;
      const start = EPOCH_START + (epoch - 1) * EPOCH_SECONDS;
      await api.call('POST', '/epochs', { epoch, start: instant(start), end: instant(start + EPOCH_SECONDS), rewardPool: REWARD_POOL.toString() });
      await insertEvents(pool, reports(epoch, start));
      await close.close(epoch, { actor: 'bench', correlationId: `bench-close-${epoch}` });
      const closed = await close.settledEpoch(epoch);
      if (closed.leaf_count !== SYNQERS) throw new Error(`epoch ${epoch} has ${closed.leaf_count} leaves, not ${SYNQERS}`);
      await executor.settle(epoch, { actor: 'bench', correlationId: `bench-settle-${epoch}`, commandId: `bench-settle-${epoch}-${randomUUID()}` });
      settledEpochs = epoch;
    };
    const measure = async (full: boolean): Promise<Measured> => {
      counter.take();
      const cpu = process.cpuUsage();
      const pg = postgresCpuSeconds(pgDir);
      const load = loadavg()[0];
      const started = now();
      const result = await verifier.run({ actor: 'bench', correlationId: `bench-verify-${randomUUID()}` }, { full });
      const wallSeconds = now() - started;
      const used = process.cpuUsage(cpu);
      const pgAfter = postgresCpuSeconds(pgDir);
      if (result.discrepancyCount > 0) throw new Error(`the run found ${result.discrepancyCount} discrepancies: ${JSON.stringify(result.byType)}`);
      return {
        wallSeconds,
        engineCpuSeconds: (used.user + used.system) / 1e6,
        postgresCpuSeconds: pg === null || pgAfter === null ? null : pgAfter - pg,
        loadAverage: [load, loadavg()[0]],
        work: counter.take(),
        run: { runId: result.runId, discrepancyCount: result.discrepancyCount, checked: result.checked, coverage: result.coverage },
      };
    };

    const points: Point[] = [];
    const built = now();
    for (const target of POINTS) {
      while (settledEpochs < target) {
        await settleNext();
        if (settledEpochs % 10 === 0) log(`${settledEpochs} epochs settled (${(now() - built).toFixed(0)} s)`);
      }
      const fulls: Measured[] = [];
      const unchanged: Measured[] = [];
      for (let i = 0; i < REPEATS; i++) fulls.push(await measure(true));
      for (let i = 0; i < REPEATS; i++) unchanged.push(await measure(false));
      await settleNext();
      const newEpoch = await measure(false);
      // Same history, same answer: the incremental runs count what a full run of the same history counts.
      const fullAfter = await measure(true);
      for (const m of unchanged)
        if (JSON.stringify(m.run.checked) !== JSON.stringify(fulls[0].run.checked))
          throw new Error(`an incremental run counted ${JSON.stringify(m.run.checked)}, the full run ${JSON.stringify(fulls[0].run.checked)}`);
      if (JSON.stringify(newEpoch.run.checked) !== JSON.stringify(fullAfter.run.checked))
        throw new Error(`the run after a new epoch counted ${JSON.stringify(newEpoch.run.checked)}, a full run ${JSON.stringify(fullAfter.run.checked)}`);
      if (newEpoch.run.coverage?.reverifiedEpochs.join(',') !== String(settledEpochs))
        throw new Error(`the run after epoch ${settledEpochs} verified again ${newEpoch.run.coverage?.reverifiedEpochs.join(',')}`);
      points.push({ epochs: target, full: fulls, unchanged, newEpoch });
      log(
        `${target} epochs: full ${median(fulls.map((m) => m.wallSeconds)).toFixed(3)} s, incremental ${median(unchanged.map((m) => m.wallSeconds)).toFixed(3)} s, ` +
          `after one new epoch ${newEpoch.wallSeconds.toFixed(3)} s (load ${loadavg()[0].toFixed(1)})`,
      );
    }
    return { points, postgres, embedded: embedded !== undefined };
  } finally {
    await engine?.stop();
    await pool.end();
    await embedded?.stop();
    if (pgDataDir) rmSync(pgDataDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function sourceState(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const changed = git('status', '--porcelain', '--', 'src', 'domain', 'projections', 'migrations').split('\n').filter(Boolean);
    return `commit ${git('rev-parse', '--short', 'HEAD')}${changed.length === 0 ? '' : ' with uncommitted changes'}`;
  } catch {
    return 'unknown (not a git work tree)';
  }
}

function markdown(points: Point[], header: string): string {
  const ms = (seconds: number) => `${(seconds * 1000).toFixed(0)} ms`;
  const loads = (ms: Measured[]) => `${Math.min(...ms.map((m) => m.loadAverage[0])).toFixed(1)}–${Math.max(...ms.map((m) => m.loadAverage[1])).toFixed(1)}`;
  const work = (w: Work) =>
    `${w.eventsRead} events, ${w.transactionsAsked} tx, ${w.accountsAsked} accounts, ${w.signatureListings} listings, ${w.projectionQueries} queries`;
  const lines = [
    header,
    '',
    `History of hybrid epochs of ${SYNQERS} synqers each; median of ${REPEATS} runs per kind (the run after a new epoch: one). Work counted from outside (wrappers on the chain gateway, the event store and the projection reader).`,
    '',
    '| settled epochs | run | wall (median) | engine CPU | PostgreSQL CPU | load avg (1 min) | work of one run | payouts checked |',
    '| ---: | --- | ---: | ---: | ---: | --- | --- | ---: |',
  ];
  for (const point of points) {
    const row = (label: string, measured: Measured[], epochs: number) => {
      const mid = [...measured].sort((a, b) => a.wallSeconds - b.wallSeconds)[Math.floor(measured.length / 2)];
      lines.push(
        `| ${epochs} | ${label} | ${ms(mid.wallSeconds)} | ${mid.engineCpuSeconds.toFixed(3)} s | ${mid.postgresCpuSeconds === null ? '-' : `${mid.postgresCpuSeconds.toFixed(2)} s`} | ${loads(measured)} | ${work(mid.work)} | ${mid.run.checked.payouts} |`,
      );
    };
    row('full', point.full, point.epochs);
    row('incremental, nothing new', point.unchanged, point.epochs);
    row('incremental, one new epoch', [point.newEpoch], point.epochs + 1);
  }
  if (points.length >= 2) {
    const [first, last] = [points[0], points.at(-1)!];
    const wall = (ms: Measured[]) => median(ms.map((m) => m.wallSeconds));
    lines.push(
      '',
      `From ${first.epochs} to ${last.epochs} epochs (${(last.epochs / first.epochs).toFixed(0)}x the history): full run ${(wall(last.full) / wall(first.full)).toFixed(1)}x, ` +
        `incremental run with nothing new ${(wall(last.unchanged) / wall(first.unchanged)).toFixed(2)}x, the run after one new epoch ${(last.newEpoch.wallSeconds / first.newEpoch.wallSeconds).toFixed(2)}x; ` +
        `at ${last.epochs} epochs the run after a new epoch costs ${((last.newEpoch.wallSeconds / wall(last.full)) * 100).toFixed(1)}% of a full run.`,
      'Every run was clean, and each incremental run counted exactly the checks of a full run of the same history (checked by the bench).',
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const source = sourceState();
  const started = now();
  const { points, postgres, embedded } = await run();
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const header = `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL ${postgres}${embedded ? ' (embedded)' : ''}; Node ${process.version}; source: ${source}; ${(now() - started).toFixed(0)} s in all.`;
  const text = markdown(points, header);
  const out = path.join(projectRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'verify-history.json'),
    `${JSON.stringify({ date: new Date().toISOString(), source, postgres, node: process.version, synqers: SYNQERS, points }, null, 2)}\n`,
  );
  writeFileSync(path.join(out, 'verify-history-latest.md'), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/verify-history failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
