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
 * Then (BENCH_WEB3=0 skips it) a web3 epoch to the same wallets: POST /settlement/mode web3 (effective from the next
 * epoch, the one opened then), the epoch opened and closed, `PayoutExecutor.settle` (creates and funds the epoch's Jito
 * merkle distributor: timed), every wallet given SOL for its claim (one funder's batched SystemProgram transfers), then
 * every wallet claims with its own key (fee payer and rent payer = the wallet; its token account exists since the
 * hybrid epochs, the claim's idempotent create pays nothing), proofs from the ClaimsCache in process, BENCH_CLAIM_WINDOW
 * (64) claims in flight through the chain gateway (sendTransaction, confirmTransaction): timed. If the claims take
 * longer than BENCH_CLAIM_BUDGET_SECONDS (1,500) the ones sent are a sample: the rest is extrapolated at the measured
 * rate, and said so. Then the verification run. Who paid what is measured: the treasury's fees and rent as the
 * settlement recorded them, the claimants' from their balances before and after, split into the fees the chain
 * reports and the ClaimStatus accounts' lamports; shares of the rewards at BENCH_SOL_PRICE_IN_SYNQ (1e9: 1 SOL = 1,000
 * SYNQ). litesvm 0.8's GC crash after SBF programs ran is avoided by src/chain/embedded-chain.ts, which sets
 * --no-allocation-site-pretenuring when it loads (no node flag needed).
 *
 * Prints Markdown, writes bench/results/settle-<payouts>.json per size and bench/results/settle-latest.md. Fails (exit
 * 1) if a verification run finds any discrepancy. BENCH_BREAKDOWN=1 also times the chain gateway's and the event
 * store's calls from the outside (wrappers on the instances; nothing in src/ changes).
 */
import { createBenchDatabase, postgresCpuSeconds, SYNQER_REGISTRATIONS_SQL } from './support';
import { Logger } from '@nestjs/common';
import { Keypair, PublicKey, SystemProgram } from '@solana/web3.js';
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
import { associatedTokenAddress, createAssociatedAccountIdempotent, readTokenAccount, signTransaction } from '../src/chain/token';
import { claimStatusAddress, newClaimInstruction } from '../src/chain/jito-distributor';
import { ClaimsCache } from '../src/epochs/claims-cache';
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
const LAMPORTS_PER_SOL = 1_000_000_000n;
/** After the hybrid epochs, a web3 epoch to the same wallets, each of which claims (BENCH_WEB3=0 skips it). */
const WEB3 = process.env.BENCH_WEB3 !== '0';
/** Claims in flight at once (each: sendTransaction, then confirmTransaction). */
const CLAIM_WINDOW = Number(process.env.BENCH_CLAIM_WINDOW ?? 64);
/** Claims stop after this many seconds; the ones sent are a sample and all N are extrapolated at the measured rate. */
const CLAIM_BUDGET_SECONDS = Number(process.env.BENCH_CLAIM_BUDGET_SECONDS ?? 1500);
/** SOL each claimant gets: 5,000 fee + 1,336,320 ClaimStatus rent + 890,880 to stay rent-exempt, rounded up. */
const CLAIMANT_LAMPORTS = 2_500_000n;
/** SystemProgram transfers in one transaction of the funder's (fits a transaction of 1,232 bytes). */
const TRANSFERS_PER_FUNDING = 20;
/** $SYNQ base units one SOL is worth, to state cost as a share of rewards (default 1 SOL = 1,000 SYNQ). */
const SOL_PRICE_IN_SYNQ = BigInt(process.env.BENCH_SOL_PRICE_IN_SYNQ ?? '1000000000');
/** Advisory keys of the event store (migrations/001): appends hold the first shared; the second guards positions. */
const APPEND_LOCK = 7358112002;
const POSITION_LOCK: [number, number] = [735812, 0];
const METADATA = '{"actor":"bench","correlationId":"bench-settle","causationId":"bench-settle"}';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const now = () => Number(process.hrtime.bigint()) / 1e9;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/** A payout wallet: its address (base58) and its key (the claims of the web3 epoch are signed by it). */
interface Wallet {
  address: string;
  keypair: Keypair;
}

/**
 * Distinct real ed25519 key pairs (OpenSSL's generator), made once for the largest size: the public key is the payout
 * wallet; the secret key (the raw 32-byte seed followed by the public key, as web3.js keeps it) signs its claims.
 */
function makeWallets(count: number): Wallet[] {
  const wallets: Wallet[] = [];
  const seen = new Set<string>();
  while (wallets.length < count) {
    const pair = generateKeyPairSync('ed25519');
    const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    const publicKey = spki.subarray(spki.length - 32);
    const address = base58Encode(publicKey);
    if (seen.has(address)) continue;
    seen.add(address);
    // The pair is OpenSSL's own: no need to derive the public key again from the seed (skipValidation).
    wallets.push({ address, keypair: Keypair.fromSecretKey(Buffer.concat([pkcs8.subarray(pkcs8.length - 32), publicKey]), { skipValidation: true }) });
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
  /** Base units the epoch paid (its distribution's total). */
  paid: string;
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

async function runSize(payouts: number, allWallets: Wallet[], embedded: EmbeddedDatabase | undefined, serverUrl: string): Promise<SizeResult> {
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
  let claims: ClaimsRow | undefined;
  try {
    const api = new Api(engine.url, (await createApiKey(engine, 'operator')).key);
    const setup = await api.call('POST', '/chain/init', { supply: SUPPLY.toString() });
    const mint = new PublicKey(setup.mint as string);
    await api.call('POST', '/treasury/fundings', { amount: FUNDING.toString(), reference: 'bench-settle' });
    // Chosen before the first epoch opens: effective from epoch 1.
    const mode = await api.call('POST', '/settlement/mode', { mode: 'hybrid', reason: 'bench/settle' });
    if (mode.modeOfNextEpoch !== 'hybrid') throw new Error(`the next epoch would settle in ${String(mode.modeOfNextEpoch)}`);

    log(`${fmt(payouts)} payouts: registering ${fmt(payouts)} synqers`);
    await insertEvents(pool, registrations(wallets.map((wallet) => wallet.address)));

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
        paid: state.plan!.total,
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

    if (WEB3 && !rows.some((row) => row.discrepancies > 0)) {
      claims = await claimsEpoch({ engine, api, pool, pgDir, payouts, wallets, mint, epoch: rows.length + 1, executor, verifier, close, reader });
      claims.hybrid = rows.map((row) => ({
        epoch: row.epoch,
        accountsExisted: row.accountsExisted,
        transactions: row.transactions,
        lamports: (BigInt(row.feeLamports) + BigInt(row.rentLamports)).toString(),
        share: costShare(BigInt(row.feeLamports) + BigInt(row.rentLamports), BigInt(row.paid)),
      }));
    }
  } finally {
    await engine.stop();
    await pool.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { rows, claims };
}

/** Lamports and the share of the rewards paid they are worth at SOL_PRICE_IN_SYNQ (percent, 5 decimals as the engine writes it). */
interface Cost {
  lamports: string;
  percentOfRewards: string;
}

function costShare(lamports: bigint, paid: bigint): Cost {
  // As src/settlement/settle-epoch.ts settlementCost: hundred-thousandths of a percent, rounded down.
  const scaled = paid === 0n ? 0n : (lamports * SOL_PRICE_IN_SYNQ * 100n * 100_000n) / (LAMPORTS_PER_SOL * paid);
  return { lamports: lamports.toString(), percentOfRewards: `${scaled / 100_000n}.${(scaled % 100_000n).toString().padStart(5, '0')}` };
}

interface ClaimsRow {
  payouts: number;
  epoch: number;
  /** The settlement: one transaction creates the distributor and its vault and funds it (the treasury pays). */
  settleTransactions: number;
  settle: PhaseTiming;
  treasuryFeeLamports: string;
  /** Rent of the distributor account and its vault (the treasury's authority pays; this binary never closes them). */
  treasuryRentLamports: string;
  paid: string;
  /** Lamports for the claimants (not a cost of the design: the embedded chain's way to give wallets SOL). */
  airdrop: { wallets: number; lamportsEach: string; transactions: number; wallSeconds: number };
  claims: {
    /** Claims sent (all N, or a sample when the time budget ran out: see extrapolated). */
    sent: number;
    succeeded: number;
    failed: number;
    firstError: string | null;
    window: number;
    timing: PhaseTiming;
    claimsPerSecond: number;
    /** Set when only a sample was sent: the wall time of all N at the measured rate. */
    extrapolatedSecondsForAll: number | null;
  };
  /** Measured: the claimants' balances before and after, summed over the wallets that claimed. */
  claimantLamportsMeasured: string;
  claimantFeeLamports: string;
  claimStatusRentLamports: string;
  /** The wallets' token accounts existed (created by the hybrid epochs), so the claims' idempotent create paid nothing. */
  ataRentLamports: string;
  /** What a wallet without a token account pays on top, once (the token account's rent, 165 bytes). */
  firstTimeAtaRentEach: string;
  claimedTotal: string;
  vaultLeft: string;
  verify: PhaseTiming;
  verifiedPayouts: number;
  discrepancies: number;
  discrepanciesByType: Record<string, number>;
  /** For all N wallets (extrapolated from the sample if the claims were sampled): per epoch. */
  cost: { treasury: Cost; claimants: Cost; total: Cost; claimantsFirstTime: Cost };
  hybrid?: { epoch: number; accountsExisted: boolean; transactions: number; lamports: string; share: Cost }[];
}

interface SizeResult {
  rows: Row[];
  claims?: ClaimsRow;
}

/**
 * The web3 epoch: the mode is switched to web3 (from the next epoch: the one opened here), the epoch opened and closed
 * with the same N wallets, `PayoutExecutor.settle` creates and funds its distributor (timed), every wallet gets SOL,
 * and then every wallet claims with its own key (fee payer = the wallet), through the chain gateway, WINDOW at a time
 * (sendTransaction then confirmTransaction), timed; then the verification run.
 */
async function claimsEpoch(ctx: {
  engine: RunningEngine;
  api: Api;
  pool: Pool;
  pgDir: string | undefined;
  payouts: number;
  wallets: Wallet[];
  mint: PublicKey;
  epoch: number;
  executor: PayoutExecutor;
  verifier: ChainVerifier;
  close: EpochClosePipeline;
  reader: ProjectionReader;
}): Promise<ClaimsRow> {
  const { engine, api, pool, pgDir, payouts, wallets, mint, epoch } = ctx;
  const chain = engine.chain;
  const mode = await api.call('POST', '/settlement/mode', { mode: 'web3', reason: 'bench/settle: distributor claims' });
  if (mode.modeOfNextEpoch !== 'web3') throw new Error(`the next epoch would settle in ${String(mode.modeOfNextEpoch)}`);
  const start = EPOCH_START + (epoch - 1) * EPOCH_SECONDS;
  await api.call('POST', '/epochs', { epoch, start: instant(start), end: instant(start + EPOCH_SECONDS), rewardPool: REWARD_POOL.toString() });
  await insertEvents(pool, reports(epoch, start, payouts));
  let started = now();
  await ctx.close.close(epoch, { actor: 'bench', correlationId: `bench-close-${epoch}` });
  const closed = await ctx.close.settledEpoch(epoch);
  log(`epoch ${epoch} (web3) closed in ${(now() - started).toFixed(1)} s: ${fmt(closed.leaf_count ?? 0)} leaves`);
  if (closed.leaf_count !== payouts) throw new Error(`epoch ${epoch} has ${closed.leaf_count} leaves, not ${payouts}`);

  // (a) The settlement: the distributor created and funded.
  const settle = await timed(pgDir, () =>
    ctx.executor.settle(
      epoch,
      { actor: 'bench', correlationId: `bench-settle-${epoch}`, commandId: `bench-settle-${epoch}-${randomUUID()}` },
      {
        log: (line) => log(`executor: ${line}`),
      },
    ),
  );
  const settled = settle.result;
  const state = await settledPayout(engine, epoch);
  if (state.plan?.mode !== 'web3' || !state.plan.distributor) throw new Error(`epoch ${epoch} was not settled into a distributor`);
  const distributor = new PublicKey(state.plan.distributor.address);
  const vault = new PublicKey(state.plan.distributor.vault);
  log(
    `epoch ${epoch}: distributor ${distributor.toBase58()} created and funded in ${settle.timing.wallSeconds.toFixed(2)} s, ${settled.transactions} transaction(s)`,
  );

  // (b) SOL for the claimants: the fee and the ClaimStatus rent, and enough left for the wallet to stay rent-exempt.
  // One airdrop to a funder, then SystemProgram transfers from it, TRANSFERS_PER_FUNDING a transaction (an airdrop per
  // wallet is a write of the embedded chain's ledger each: about 11 ms, 100,000 of them about 20 minutes).
  started = now();
  const lamportsEach = CLAIMANT_LAMPORTS;
  const funder = Keypair.generate();
  await chain.requestAirdrop(funder.publicKey, lamportsEach * BigInt(payouts) + LAMPORTS_PER_SOL);
  let fundings = 0;
  for (let from = 0; from < payouts; from += TRANSFERS_PER_FUNDING * CLAIM_WINDOW) {
    const { blockhash, lastValidBlockHeight } = await chain.latestBlockhash();
    const groups: Wallet[][] = [];
    for (let k = from; k < Math.min(payouts, from + TRANSFERS_PER_FUNDING * CLAIM_WINDOW); k += TRANSFERS_PER_FUNDING)
      groups.push(wallets.slice(k, Math.min(payouts, k + TRANSFERS_PER_FUNDING)));
    await Promise.all(
      groups.map(async (group) => {
        const wire = signTransaction(
          group.map((wallet) => SystemProgram.transfer({ fromPubkey: funder.publicKey, toPubkey: wallet.keypair.publicKey, lamports: lamportsEach })),
          [funder],
          blockhash,
        );
        const confirmation = await chain.confirmTransaction(await chain.sendTransaction(wire), lastValidBlockHeight);
        if (confirmation.status !== 'succeeded') throw new Error(`funding the claimants failed: ${JSON.stringify(confirmation)}`);
        fundings++;
      }),
    );
  }
  const airdropSeconds = now() - started;
  log(`epoch ${epoch}: ${fmt(payouts)} wallets given ${lamportsEach} lamports each in ${fundings} transfers transactions, ${airdropSeconds.toFixed(1)} s`);

  // (c) The proofs, in process (the ClaimsCache that GET /epochs/{n}/distribution/{wallet} answers from).
  const cache = new ClaimsCache(ctx.reader);
  await cache.warm(epoch);
  const balancesOf = async (keys: PublicKey[]) => {
    const out: bigint[] = [];
    for (let from = 0; from < keys.length; from += 1000) out.push(...(await chain.getAccounts(keys.slice(from, from + 1000))).map((a) => a?.lamports ?? 0n));
    return out;
  };
  const before = await balancesOf(wallets.map((wallet) => wallet.keypair.publicKey));
  const vaultBefore = readTokenAccount(vault, await chain.getAccount(vault))?.amount ?? 0n;

  // (d) The claims, WINDOW at a time, until all are sent or the time budget is spent (then a sample: extrapolated).
  let succeeded = 0;
  let failed = 0;
  let fees = 0n;
  let firstError: string | null = null;
  let sent = 0;
  let reported = 0;
  const claim = async (wallet: Wallet, blockhash: string, lastValidBlockHeight: bigint) => {
    const leaf = cache.claim(epoch, wallet.address);
    if (!leaf) throw new Error(`no claim of ${wallet.address} in epoch ${epoch}`);
    const claimant = wallet.keypair.publicKey;
    const wire = signTransaction(
      [
        // What a claimant's client sends: its token account made if missing (it exists here: no rent), then new_claim.
        createAssociatedAccountIdempotent(claimant, claimant, mint),
        newClaimInstruction(
          { distributor, mint, claimant },
          BigInt(leaf.amount),
          0n,
          leaf.proof.map((hash) => Buffer.from(hash, 'hex')),
        ),
      ],
      [wallet.keypair],
      blockhash,
    );
    const confirmation = await chain.sendTransaction(wire).then((signature) => chain.confirmTransaction(signature, lastValidBlockHeight));
    if (confirmation.status === 'succeeded') succeeded++;
    else {
      failed++;
      firstError ??= confirmation.status === 'failed' ? confirmation.error : 'expired';
    }
    if (confirmation.status !== 'expired') fees += confirmation.fee;
  };
  const claimsStarted = now();
  const claims = await timed(pgDir, async () => {
    while (sent < payouts && now() - claimsStarted < CLAIM_BUDGET_SECONDS) {
      const { blockhash, lastValidBlockHeight } = await chain.latestBlockhash();
      const window = wallets.slice(sent, Math.min(payouts, sent + CLAIM_WINDOW));
      await Promise.all(window.map((wallet) => claim(wallet, blockhash, lastValidBlockHeight)));
      sent += window.length;
      if (sent === payouts || sent >= reported + payouts / 10) {
        reported = sent;
        log(`epoch ${epoch}: ${fmt(sent)} of ${fmt(payouts)} claims (${(now() - claimsStarted).toFixed(1)} s, ${failed} failed)`);
      }
    }
  });
  const claimsPerSecond = sent / claims.timing.wallSeconds;
  const sampled = sent < payouts;
  if (sampled) log(`epoch ${epoch}: claim budget of ${CLAIM_BUDGET_SECONDS} s spent after ${fmt(sent)} claims: the rest is extrapolated`);

  const claimedWallets = wallets.slice(0, sent);
  const after = await balancesOf(claimedWallets.map((wallet) => wallet.keypair.publicKey));
  const measured = claimedWallets.reduce((sum, _, k) => sum + before[k] - after[k], 0n);
  const statuses = await balancesOf(claimedWallets.map((wallet) => claimStatusAddress(wallet.keypair.publicKey, distributor)));
  const claimStatusRent = statuses.reduce((a, b) => a + b, 0n);
  const ataRent = measured - fees - claimStatusRent;
  const vaultAfter = readTokenAccount(vault, await chain.getAccount(vault))?.amount ?? 0n;
  const firstTimeAtaRentEach = await chain.minimumBalanceForRentExemption(165);

  // (e) The verification run (replays every epoch: the hybrid ones too).
  const verify = await timed(pgDir, () => ctx.verifier.run({ actor: 'bench', correlationId: `bench-verify-${epoch}` }));
  const run = verify.result;
  log(`epoch ${epoch}: verification ${verify.timing.wallSeconds.toFixed(1)} s, ${run.checked.payouts} payouts checked, ${run.discrepancyCount} discrepancies`);

  const paid = BigInt(state.plan.total);
  const treasury = BigInt(settled.feeLamports) + BigInt(settled.rentLamports);
  // For all N: per claimant as measured, times N (exact when every wallet claimed).
  const scale = (lamports: bigint) => (sent === 0 ? 0n : (lamports * BigInt(payouts)) / BigInt(sent));
  const claimantsAll = scale(measured);
  return {
    payouts,
    epoch,
    settleTransactions: settled.transactions,
    settle: settle.timing,
    treasuryFeeLamports: settled.feeLamports,
    treasuryRentLamports: settled.rentLamports,
    paid: paid.toString(),
    airdrop: { wallets: payouts, lamportsEach: lamportsEach.toString(), transactions: fundings, wallSeconds: airdropSeconds },
    claims: {
      sent,
      succeeded,
      failed,
      firstError,
      window: CLAIM_WINDOW,
      timing: claims.timing,
      claimsPerSecond,
      extrapolatedSecondsForAll: sampled ? payouts / claimsPerSecond : null,
    },
    claimantLamportsMeasured: measured.toString(),
    claimantFeeLamports: fees.toString(),
    claimStatusRentLamports: claimStatusRent.toString(),
    ataRentLamports: ataRent.toString(),
    firstTimeAtaRentEach: firstTimeAtaRentEach.toString(),
    claimedTotal: (vaultBefore - vaultAfter).toString(),
    vaultLeft: vaultAfter.toString(),
    verify: verify.timing,
    verifiedPayouts: run.checked.payouts,
    discrepancies: run.discrepancyCount,
    discrepanciesByType: run.byType as Record<string, number>,
    cost: {
      treasury: costShare(treasury, paid),
      claimants: costShare(claimantsAll, paid),
      total: costShare(treasury + claimantsAll, paid),
      claimantsFirstTime: costShare(claimantsAll + firstTimeAtaRentEach * BigInt(payouts), paid),
    },
  };
}

const cpuText = (t: PhaseTiming) =>
  `${t.engineUserSeconds.toFixed(1)}+${t.engineSystemSeconds.toFixed(1)} / ${t.postgresSeconds === null ? '-' : t.postgresSeconds.toFixed(1)}`;

function markdown(rows: Row[], claims: ClaimsRow[], machine: string): string {
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
    ...(claims.length === 0 ? [] : ['', ...claimsMarkdown(claims)]),
  ].join('\n');
}

const lamportsText = (value: string | bigint) => BigInt(value).toLocaleString('en-US');

/** The web3 epochs: settlement into a distributor, then every wallet's claim; and who paid what, against the hybrid epochs. */
function claimsMarkdown(claims: ClaimsRow[]): string[] {
  const price = `${(Number(SOL_PRICE_IN_SYNQ) / 1e6).toLocaleString('en-US')} SYNQ per SOL (solPriceInSynq ${SOL_PRICE_IN_SYNQ})`;
  return [
    `Web3 epoch (distributor claims) after the hybrid epochs, same wallets; claims ${claims[0].claims.window} in flight; cost shares at ${price}:`,
    '',
    '| payouts | epoch | settle tx | settle (s) | treasury fees | treasury rent (distributor + vault) | claims sent (ok / failed) | claims (s) | claims/s | all N claims (s) | claimant fees | ClaimStatus rent | ATA rent (existed) | claimants measured | verify (s) | discrepancies |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...claims.map(
      (c) =>
        `| ${fmt(c.payouts)} | ${c.epoch} | ${c.settleTransactions} | ${c.settle.wallSeconds.toFixed(2)} | ${lamportsText(c.treasuryFeeLamports)} | ${lamportsText(c.treasuryRentLamports)} | ${fmt(c.claims.sent)} (${fmt(c.claims.succeeded)} / ${fmt(c.claims.failed)}) | ${c.claims.timing.wallSeconds.toFixed(1)} | ${c.claims.claimsPerSecond.toFixed(0)} | ${c.claims.extrapolatedSecondsForAll === null ? c.claims.timing.wallSeconds.toFixed(1) : `~${c.claims.extrapolatedSecondsForAll.toFixed(0)} (extrapolated)`} | ${lamportsText(c.claimantFeeLamports)} | ${lamportsText(c.claimStatusRentLamports)} | ${lamportsText(c.ataRentLamports)} | ${lamportsText(c.claimantLamportsMeasured)} | ${c.verify.wallSeconds.toFixed(1)} | ${c.discrepancies} |`,
    ),
    '',
    '| payouts | settlement | transactions | treasury (lamports) | claimants (lamports, all N) | share of rewards: treasury / claimants / total |',
    '| ---: | --- | ---: | ---: | ---: | --- |',
    ...claims.flatMap((c) => [
      ...(c.hybrid ?? []).map(
        (h) =>
          `| ${fmt(c.payouts)} | hybrid epoch ${h.epoch} (token accounts ${h.accountsExisted ? 'existed' : 'created'}) | ${fmt(h.transactions)} | ${lamportsText(h.lamports)} | 0 | ${h.share.percentOfRewards}% / 0% / ${h.share.percentOfRewards}% |`,
      ),
      `| ${fmt(c.payouts)} | web3 epoch ${c.epoch}, token accounts existed | ${fmt(c.settleTransactions)} + ${fmt(c.payouts)} claims | ${lamportsText(c.cost.treasury.lamports)} | ${lamportsText(c.cost.claimants.lamports)} | ${c.cost.treasury.percentOfRewards}% / ${c.cost.claimants.percentOfRewards}% / ${c.cost.total.percentOfRewards}% |`,
      `| ${fmt(c.payouts)} | web3, first-time claimants (+${lamportsText(c.firstTimeAtaRentEach)} token account rent each) | ${fmt(c.settleTransactions)} + ${fmt(c.payouts)} claims | ${lamportsText(c.cost.treasury.lamports)} | ${lamportsText(c.cost.claimantsFirstTime.lamports)} | ${c.cost.treasury.percentOfRewards}% / ${c.cost.claimantsFirstTime.percentOfRewards}% / - |`,
    ]),
    ...claims
      .filter((c) => c.claims.extrapolatedSecondsForAll !== null)
      .map(
        (c) =>
          `\n${fmt(c.payouts)}: only ${fmt(c.claims.sent)} claims were sent within the budget (${CLAIM_BUDGET_SECONDS} s); the claimants' lamports and the time of all claims are extrapolated from them at the measured rate.`,
      ),
  ];
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
  const claims: ClaimsRow[] = [];
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
      rows.push(...size.rows);
      if (size.claims) claims.push(size.claims);
      const out = path.join(projectRoot(), 'bench', 'results');
      mkdirSync(out, { recursive: true });
      writeFileSync(
        path.join(out, `settle-${payouts}.json`),
        `${JSON.stringify({ date: new Date().toISOString(), source, postgres: version, node: process.version, rows: size.rows, ...(size.claims ? { web3: size.claims } : {}) }, null, 2)}\n`,
      );
      log(`${fmt(payouts)} payouts: done in ${(now() - started).toFixed(1)} s (setup included)`);
      const failed = [...size.rows, ...(size.claims ? [size.claims] : [])].find((r) => r.discrepancies > 0);
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
    claims,
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL ${version}${embedded ? ' (embedded)' : ''}; Node ${process.version}; source: ${source}.`,
  );
  process.stdout.write(`${text}\n`);
  writeFileSync(path.join(projectRoot(), 'bench', 'results', 'settle-latest.md'), `${text}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/settle failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
