/**
 * bench/settle: hybrid settlement and replay-verification of epochs of 10,000 and 100,000 payouts on the embedded
 * chain (litesvm running the real SPL Token, ATA and Memo programs, its ledger in PostgreSQL). `npm run bench:settle`
 * (BENCH_PAYOUTS=10000,100000 by default, or the sizes as the first argument: `node dist/bench/settle.js 10000`).
 *
 * Per size, on a fresh database (of the embedded PostgreSQL this bench starts, or of the server BENCH_DATABASE_URL or
 * DATABASE_URL names): the engine starts; POST /chain/init, POST /treasury/fundings, and POST /settlement/mode hybrid
 * before any epoch is opened; N synqers with distinct real ed25519 payout wallets are registered (written straight
 * into the events table, as bench/epoch does: this bench is not about ingestion), POST /epochs opens epoch 1, two
 * reports per synqer are written the same way, and the close pipeline closes it (every synqer eligible: N leaves).
 * Then, timed apart: (a) the settlement, `PayoutExecutor.settle` (every recipient's token account is created in it:
 * the first settlement of a network); (b) the verification run, `ChainVerifier.run`. With BENCH_SECOND_EPOCH=1 (the
 * default) a second epoch pays the same wallets (their accounts exist) and is settled and verified the same way; its
 * verification run replays the whole history, so it checks both epochs (2N payouts).
 *
 * Prints Markdown, writes bench/results/settle-<payouts>.json per size and bench/results/settle-latest.md. Fails (exit
 * 1) if a verification run finds any discrepancy. BENCH_BREAKDOWN=1 also times the chain gateway's and the event
 * store's calls from the outside (wrappers on the instances; nothing in src/ changes).
 */
import { createBenchDatabase, postgresCpuSeconds, SYNQER_REGISTRATIONS_SQL } from './support';
import { Logger } from '@nestjs/common';
import { PublicKey } from '@solana/web3.js';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { payoutDecider, type PayoutState } from '../domain/epoch-payout';
import { base58Encode } from '../domain/values';
import { settlementQueries } from '../projections/settlement';
import { createApiKey } from '../src/auth/api-keys';
import { associatedTokenAddress, readTokenAccount } from '../src/chain/token';
import { load } from '../src/commands/streams';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres';
import { migrate } from '../src/database/migrator';
import { startEngine, type RunningEngine } from '../src/engine';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import { ProjectionReader } from '../src/projections/projection-reader';
import { MIGRATIONS_DIR, projectRoot } from '../src/project-root';
import { PayoutExecutor } from '../src/settlement/payout-executor';
import { ChainVerifier } from '../src/verification/chain-verifier';

const SIZES = (process.argv[2] ?? process.env.BENCH_PAYOUTS ?? '10000,100000').split(',').map(Number);
if (SIZES.some((size) => !Number.isInteger(size) || size < 1)) throw new Error(`payouts must be positive whole numbers, comma-separated: ${SIZES.join(',')}`);
const SECOND_EPOCH = process.env.BENCH_SECOND_EPOCH !== '0';
const BREAKDOWN = process.env.BENCH_BREAKDOWN === '1';
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
/** The issue's target: 100,000 payouts settled and verified within this many seconds. */
const TARGET_SECONDS = 120;
const TARGET_PAYOUTS = 100_000;
const EPOCH_SECONDS = 600;
const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;
const REPORTS_PER_SYNQER = 2;
/** Base units: the pool of each epoch (the policy's maximum), the books' funding and the chain's supply. */
const REWARD_POOL = 100_000_000_000_000n;
const FUNDING = 1_000_000_000_000_000n;
const SUPPLY = 1_000_000_000_000_000n;
const LAMPORTS_PER_SIGNATURE = 5000n;
/** Advisory keys of the event store (migrations/001): appends hold the first shared; the second guards positions. */
const APPEND_LOCK = 7358112002;
const POSITION_LOCK: [number, number] = [735812, 0];
const METADATA = '{"actor":"bench","correlationId":"bench-settle","causationId":"bench-settle"}';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const now = () => Number(process.hrtime.bigint()) / 1e9;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/** Distinct real ed25519 public keys (OpenSSL's generator), base58: the payout wallets, made once for the largest size. */
function makeWallets(count: number): string[] {
  const wallets: string[] = [];
  const seen = new Set<string>();
  while (wallets.length < count) {
    const spki = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    const wallet = base58Encode(spki.subarray(spki.length - 32));
    if (seen.has(wallet)) continue;
    seen.add(wallet);
    wallets.push(wallet);
  }
  return wallets;
}

interface PhaseTiming {
  wallSeconds: number;
  /** This process (the engine and the bench): user and system CPU seconds. */
  engineUserSeconds: number;
  engineSystemSeconds: number;
  /** The embedded PostgreSQL's processes; null on an external server. */
  postgresSeconds: number | null;
  /** Share of the wall time the event loop was busy. */
  eventLoopBusy: number;
  /** The machine's 1-minute load average at the start and the end (2 cores: above ~2 someone else was running too). */
  loadAverage: [number, number];
}

/** Times one phase: wall clock, this process's CPU, PostgreSQL's CPU, event loop utilisation. */
async function timed<T>(pgDataDir: string | undefined, work: () => Promise<T>): Promise<{ result: T; timing: PhaseTiming }> {
  const cpu = process.cpuUsage();
  const loop = performance.eventLoopUtilization();
  const pg = postgresCpuSeconds(pgDataDir);
  const load = loadavg()[0];
  const started = now();
  const result = await work();
  const wallSeconds = now() - started;
  const used = process.cpuUsage(cpu);
  const pgAfter = postgresCpuSeconds(pgDataDir);
  return {
    result,
    timing: {
      wallSeconds,
      engineUserSeconds: used.user / 1e6,
      engineSystemSeconds: used.system / 1e6,
      postgresSeconds: pg === null || pgAfter === null ? null : pgAfter - pg,
      eventLoopBusy: performance.eventLoopUtilization(loop).utilization,
      loadAverage: [load, loadavg()[0]],
    },
  };
}

/** Call counts and summed milliseconds of wrapped async methods (BENCH_BREAKDOWN=1). */
class Breakdown {
  readonly calls = new Map<string, { count: number; ms: number }>();

  wrap(target: object, names: string[], prefix: string): void {
    const methods = target as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of names) {
      const original = methods[name];
      if (typeof original !== 'function') continue;
      const label = `${prefix}.${name}`;
      methods[name] = (...args: unknown[]) => {
        const started = now();
        const settle = () => this.add(label, (now() - started) * 1000);
        const value = original.apply(target, args);
        if (value instanceof Promise) return value.finally(settle);
        settle();
        return value;
      };
    }
  }

  add(label: string, ms: number): void {
    const entry = this.calls.get(label) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += ms;
    this.calls.set(label, entry);
  }

  take(): Record<string, { count: number; ms: number }> {
    const out = Object.fromEntries([...this.calls].sort((a, b) => b[1].ms - a[1].ms).map(([label, v]) => [label, { count: v.count, ms: Math.round(v.ms) }]));
    this.calls.clear();
    return out;
  }
}

interface Row {
  payouts: number;
  epoch: number;
  accountsExisted: boolean;
  transactions: number;
  transfersPerTransaction: { mean: number; max: number; min: number };
  accountsCreated: number;
  settle: PhaseTiming;
  verify: PhaseTiming;
  totalSeconds: number;
  payoutsPerSecond: number;
  feeLamports: string;
  rentLamports: string;
  /** Payouts the verification run checked (a run replays every epoch settled so far). */
  verifiedPayouts: number;
  verifiedTransactions: number;
  discrepancies: number;
  discrepanciesByType: Record<string, number>;
  spotChecked: number;
  targetMet: boolean | null;
  breakdown?: { settle: Record<string, { count: number; ms: number }>; verify: Record<string, { count: number; ms: number }> };
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

/**
 * Writes rows straight into the events table, as appends write them (positions from the sequence, consecutive stream
 * revisions), while the engine runs: under the append lock (shared, so the projections' watermark waits for it) and
 * the position lock (so no append's block of positions interleaves with these).
 */
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
  await pool.query('ANALYZE events');
}

function registrations(wallets: string[]) {
  const statements = [];
  for (let from = 0; from < wallets.length; from += 100_000) {
    statements.push({
      sql: SYNQER_REGISTRATIONS_SQL,
      params: [wallets.slice(from, from + 100_000), from, METADATA],
    });
  }
  return statements;
}

/** Every synqer reports each part of the epoch, full uptime and QoS above the minimum: every one is eligible and paid. */
function reports(epoch: number, start: number, synqers: number) {
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
    params: [epoch, round, start + round * period, period, synqers, METADATA],
  }));
}

async function settledPayout(engine: RunningEngine, epoch: number): Promise<PayoutState> {
  return (await load(engine.eventStore, payoutDecider, epoch)).state;
}

/** A few recipients' token balances read from the chain against their leaves (the verification run does all of them). */
async function spotCheck(
  engine: RunningEngine,
  mint: PublicKey,
  leaves: { wallet: string; amount: bigint }[],
  paidBefore: Map<string, bigint>,
): Promise<number> {
  const sample = Array.from({ length: Math.min(200, leaves.length) }, (_, k) => leaves[Math.floor((k * leaves.length) / Math.min(200, leaves.length))]);
  for (const leaf of sample) {
    const address = associatedTokenAddress(new PublicKey(leaf.wallet), mint);
    const balance = readTokenAccount(address, await engine.chain.getAccount(address))?.amount ?? 0n;
    const expected = (paidBefore.get(leaf.wallet) ?? 0n) + leaf.amount;
    if (balance !== expected) throw new Error(`${leaf.wallet}'s token account holds ${balance}, the leaves add up to ${expected}`);
  }
  return sample.length;
}

async function runSize(payouts: number, allWallets: string[], embedded: EmbeddedDatabase | undefined, serverUrl: string): Promise<Row[]> {
  const name = `settle_${payouts}`;
  const url = await createBenchDatabase(serverUrl, name);
  const pool = new Pool({ connectionString: url, max: 4 });
  await migrate(pool, MIGRATIONS_DIR, () => undefined);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-settle-engine-'));
  const pgDir = embedded ? path.dirname(embedded.dataDir) : undefined;
  const wallets = allWallets.slice(0, payouts);
  const engine = await startEngine({ databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir }, new Logger('bench'), {
    frameworkLogs: false,
  });
  const rows: Row[] = [];
  try {
    const api = new Api(engine.url, (await createApiKey(engine.database.pool, 'operator')).key);
    const setup = await api.call('POST', '/chain/init', { supply: SUPPLY.toString() });
    const mint = new PublicKey(setup.mint as string);
    await api.call('POST', '/treasury/fundings', { amount: FUNDING.toString(), reference: 'bench-settle' });
    // Chosen before the first epoch opens: effective from epoch 1.
    const mode = await api.call('POST', '/settlement/mode', { mode: 'hybrid', reason: 'bench/settle' });
    if (mode.modeOfNextEpoch !== 'hybrid') throw new Error(`the next epoch would settle in ${String(mode.modeOfNextEpoch)}`);

    log(`${fmt(payouts)} payouts: registering ${fmt(payouts)} synqers`);
    await insertEvents(pool, registrations(wallets));

    const executor = engine.app.get(PayoutExecutor);
    const verifier = engine.app.get(ChainVerifier);
    const close = engine.app.get(EpochClosePipeline);
    const reader = engine.app.get(ProjectionReader);
    const breakdown = BREAKDOWN ? new Breakdown() : undefined;
    if (breakdown) {
      breakdown.wrap(
        engine.chain,
        [
          'getAccounts',
          'latestBlockhash',
          'minimumBalanceForRentExemption',
          'sendTransaction',
          'confirmTransaction',
          'getTransaction',
          'signaturesForAddress',
          'blockHeight',
          'execute',
          'persist',
        ],
        'chain',
      );
      breakdown.wrap(engine.eventStore, ['append', 'lastPosition'], 'store');
      breakdown.wrap(reader, ['query'], 'projection');
    }
    const paidBefore = new Map<string, bigint>();

    for (let epoch = 1; epoch <= (SECOND_EPOCH ? 2 : 1); epoch++) {
      const start = EPOCH_START + (epoch - 1) * EPOCH_SECONDS;
      await api.call('POST', '/epochs', { epoch, start: instant(start), end: instant(start + EPOCH_SECONDS), rewardPool: REWARD_POOL.toString() });
      await insertEvents(pool, reports(epoch, start, payouts));
      let started = now();
      await close.close(epoch, { actor: 'bench', correlationId: `bench-close-${epoch}` });
      const closed = await close.settledEpoch(epoch);
      log(`epoch ${epoch} closed in ${(now() - started).toFixed(1)} s (projections caught up included): ${fmt(closed.leaf_count ?? 0)} leaves`);
      if (closed.leaf_count !== payouts) throw new Error(`epoch ${epoch} has ${closed.leaf_count} leaves, not ${payouts}`);
      breakdown?.take();

      // (a) The settlement.
      let reported = 0;
      started = now();
      const settle = await timed(pgDir, () =>
        executor.settle(
          epoch,
          { actor: 'bench', correlationId: `bench-settle-${epoch}`, commandId: `bench-settle-${epoch}-${randomUUID()}` },
          {
            log: (line) => log(`executor: ${line} (${(now() - started).toFixed(1)} s)`),
            onProgress: (done, total) => {
              if (done === 0 || done === total || done >= reported + total / 10) {
                reported = done;
                log(`epoch ${epoch}: ${fmt(done)} of ${fmt(total)} transactions (${(now() - started).toFixed(1)} s)`);
              }
            },
          },
        ),
      );
      const settleCalls = breakdown?.take();
      const settled = settle.result;
      log(`epoch ${epoch}: settled ${fmt(settled.leafCount)} payouts in ${fmt(settled.transactions)} transactions, ${settle.timing.wallSeconds.toFixed(1)} s`);

      // (b) The verification run.
      const verify = await timed(pgDir, () => verifier.run({ actor: 'bench', correlationId: `bench-verify-${epoch}` }));
      const verifyCalls = breakdown?.take();
      const run = verify.result;
      log(
        `epoch ${epoch}: verification ${verify.timing.wallSeconds.toFixed(1)} s, ${run.checked.payouts} payouts checked, ${run.discrepancyCount} discrepancies`,
      );

      const state = await settledPayout(engine, epoch);
      const batches = state.plan!.batches;
      const per = batches.map((batch) => batch.leafCount);
      const created = batches.reduce((sum, batch) => sum + [...batch.creates].filter((c) => c === '1').length, 0);
      const leaves = (await settlementQueries.leafAmounts(reader, epoch)).map((row) => ({ wallet: row.wallet, amount: BigInt(row.amount) }));
      const spotChecked = await spotCheck(engine, mint, leaves, paidBefore);
      for (const leaf of leaves) paidBefore.set(leaf.wallet, (paidBefore.get(leaf.wallet) ?? 0n) + leaf.amount);
      if (BigInt(settled.feeLamports) !== LAMPORTS_PER_SIGNATURE * BigInt(settled.transactions))
        throw new Error(`fees ${settled.feeLamports} are not 5,000 lamports a transaction`);

      const totalSeconds = settle.timing.wallSeconds + verify.timing.wallSeconds;
      rows.push({
        payouts,
        epoch,
        accountsExisted: epoch > 1,
        transactions: settled.transactions,
        transfersPerTransaction: { mean: per.reduce((a, b) => a + b, 0) / per.length, max: Math.max(...per), min: Math.min(...per) },
        accountsCreated: created,
        settle: settle.timing,
        verify: verify.timing,
        totalSeconds,
        payoutsPerSecond: settled.leafCount / settle.timing.wallSeconds,
        feeLamports: settled.feeLamports,
        rentLamports: settled.rentLamports,
        verifiedPayouts: run.checked.payouts,
        verifiedTransactions: run.checked.settlementTransactions,
        discrepancies: run.discrepancyCount,
        discrepanciesByType: run.byType as Record<string, number>,
        spotChecked,
        targetMet: payouts === TARGET_PAYOUTS && epoch === 1 ? totalSeconds <= TARGET_SECONDS : null,
        ...(settleCalls && verifyCalls ? { breakdown: { settle: settleCalls, verify: verifyCalls } } : {}),
      });
      if (run.discrepancyCount > 0) break;
    }
  } finally {
    await engine.stop();
    await pool.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

const cpuText = (t: PhaseTiming) =>
  `${t.engineUserSeconds.toFixed(1)}+${t.engineSystemSeconds.toFixed(1)} / ${t.postgresSeconds === null ? '-' : t.postgresSeconds.toFixed(1)}`;

function markdown(rows: Row[], machine: string): string {
  return [
    machine,
    `Command: \`npm run bench:settle\` (sizes ${SIZES.join(', ')}${SECOND_EPOCH ? ', a second epoch to the same wallets' : ''})`,
    '',
    '| payouts | epoch | accounts | transactions | transfers/tx mean (max) | accounts created | settle (s) | verify (s) | total (s) | payouts/s (settle) | fees (lamports) | rent (lamports) | verified payouts | discrepancies | CPU settle: node user+sys / pg (s) | CPU verify (s) |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${fmt(r.payouts)} | ${r.epoch} | ${r.accountsExisted ? 'exist' : 'created'} | ${fmt(r.transactions)} | ${r.transfersPerTransaction.mean.toFixed(2)} (${r.transfersPerTransaction.max}) | ${fmt(r.accountsCreated)} | ${r.settle.wallSeconds.toFixed(1)} | ${r.verify.wallSeconds.toFixed(1)} | ${r.totalSeconds.toFixed(1)} | ${fmt(r.payoutsPerSecond)} | ${BigInt(r.feeLamports).toLocaleString('en-US')} | ${BigInt(r.rentLamports).toLocaleString('en-US')} | ${fmt(r.verifiedPayouts)} | ${r.discrepancies} | ${cpuText(r.settle)} | ${cpuText(r.verify)} |`,
    ),
    '',
    ...rows
      .filter((r) => r.targetMet !== null)
      .map(
        (r) =>
          `Target (${fmt(TARGET_PAYOUTS)} payouts settled and verified in <= ${TARGET_SECONDS} s, accounts created): ${r.targetMet ? 'met' : 'not met'}, ${r.totalSeconds.toFixed(1)} s.`,
      ),
  ].join('\n');
}

/**
 * What was measured: BENCH_SOURCE if set, else the commit and the files of src/, domain/, projections/ and migrations/
 * that differ from it (the build compiles the working tree).
 */
function sourceState(): string {
  if (process.env.BENCH_SOURCE) return process.env.BENCH_SOURCE;
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const changed = git('status', '--porcelain', '--', 'src', 'domain', 'projections', 'migrations').split('\n').filter(Boolean);
    return `commit ${git('rev-parse', '--short', 'HEAD')}${changed.length === 0 ? '' : ` with uncommitted changes to ${changed.map((line) => line.slice(3)).join(', ')}`}`;
  } catch {
    return 'unknown (not a git work tree)';
  }
}

async function serverVersion(url: string): Promise<string> {
  const admin = new Pool({ connectionString: url });
  try {
    return (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  } finally {
    await admin.end();
  }
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const pgDataDir = SERVER_URL ? undefined : mkdtempSync(path.join(tmpdir(), 'synq-bench-settle-'));
  if (pgDataDir) chmodSync(pgDataDir, 0o755);
  const embedded = pgDataDir ? await startEmbeddedPostgres({ dataDir: pgDataDir, databaseName: 'bench' }) : undefined;
  const serverUrl = SERVER_URL ?? embedded!.url;
  const rows: Row[] = [];
  const source = sourceState();
  log(`source: ${source}`);
  const version = await serverVersion(serverUrl).catch(async (error: unknown) => {
    await embedded?.stop();
    throw error;
  });
  try {
    let started = now();
    const wallets = makeWallets(Math.max(...SIZES));
    log(`${fmt(wallets.length)} ed25519 wallets made in ${(now() - started).toFixed(1)} s`);
    for (const payouts of SIZES) {
      started = now();
      const size = await runSize(payouts, wallets, embedded, serverUrl);
      rows.push(...size);
      const out = path.join(projectRoot(), 'bench', 'results');
      mkdirSync(out, { recursive: true });
      writeFileSync(
        path.join(out, `settle-${payouts}.json`),
        `${JSON.stringify({ date: new Date().toISOString(), source, postgres: version, node: process.version, rows: size }, null, 2)}\n`,
      );
      log(`${fmt(payouts)} payouts: done in ${(now() - started).toFixed(1)} s (setup included)`);
      const failed = size.find((r) => r.discrepancies > 0);
      if (failed)
        throw new Error(
          `the verification run of epoch ${failed.epoch} (${fmt(payouts)} payouts) found ${failed.discrepancies} discrepancies: ${JSON.stringify(failed.discrepanciesByType)}`,
        );
    }
  } finally {
    await embedded?.stop();
    if (pgDataDir) rmSync(pgDataDir, { recursive: true, force: true });
  }
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const text = markdown(
    rows,
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL ${version}${embedded ? ' (embedded)' : ''}; Node ${process.version}; source: ${source}.`,
  );
  process.stdout.write(`${text}\n`);
  writeFileSync(path.join(projectRoot(), 'bench', 'results', 'settle-latest.md'), `${text}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/settle failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
