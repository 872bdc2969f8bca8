import { carryForward, rewardPayouts } from '../../domain/carry';
import { distributionTree, levelLengths, type DistributionTree, type Payout } from '../../domain/merkle-distribution';
import { claimPolicy, policyFor, type Policy } from '../../domain/policy';
import { RewardCalculator, RewardsDigest, type RewardInput, type SynqerReward, type SynqerTotals } from '../../domain/rewards';
import { payoutWalletFor } from '../../domain/synqer';
import type { ProjectionContext, ProjectionSql } from '../projection';
import type { CloseStopwatch } from './close-parts';
import { EMPTY_ROOT, NODE_CHUNK } from './tables';

/**
 * The heavy half of an epoch's close in the settlement projection: its rewards, calculated from the tables as they
 * stand at the close (domain/epoch-books.ts says the same) and stored, a row per synqer; then its carries and its
 * Merkle distribution, stored as leaves and tree levels. At a million synqers every step streams or works in chunks:
 * the inputs are read a chunk at a time and only the results are kept; the rows are written with COPY from text made
 * a chunk at a time; the results are garbage once the payouts are taken from them; each wallet is decoded once and
 * the tree's levels are one Buffer each.
 */
export async function calculateAndDistribute(context: ProjectionContext, epoch: number, stopwatch: CloseStopwatch): Promise<void> {
  const { payouts, policy } = await calculateAndStoreRewards(context, epoch, stopwatch);
  await storeDistribution(context, epoch, payouts, policy, stopwatch);
}

/** Rows per COPY write. */
const ROW_CHUNK = 10_000;

async function calculateAndStoreRewards(
  { sql, copy, copyOut }: ProjectionContext,
  epoch: number,
  stopwatch: CloseStopwatch,
): Promise<{ payouts: Payout[]; policy: Policy }> {
  const { rows: epochs } = await sql.query<{ start_s: string; end_s: string; reward_pool: string }>(
    'SELECT start_s, end_s, reward_pool FROM epochs WHERE epoch = $1',
    [epoch],
  );
  if (epochs.length === 0) throw new Error(`epoch ${epoch} closed but was never opened`);
  const { rows: policies } = await sql.query<{ policy: Policy }>('SELECT policy FROM policies ORDER BY version');
  const policy = policyFor(
    policies.map((p) => p.policy),
    epoch,
  );
  const { start_s, end_s, reward_pool } = epochs[0];
  const calculator = new RewardCalculator({ epoch, lengthSeconds: BigInt(end_s) - BigInt(start_s), pool: BigInt(reward_pool), policy });
  await readRewardInputs(sql, copyOut, epoch, (input) => calculator.add(input));
  stopwatch.lap('read inputs');
  const calculation = calculator.finish();
  stopwatch.lap('calculate');

  const { results, totals } = calculation;
  const digest = new RewardsDigest(calculation);
  await copy('rewards', REWARD_COLUMNS, rewardRows(epoch, results, digest));
  await sql.query(
    `UPDATE epochs SET policy_version = $2, synqers = $3, eligible = $4, ineligible = $5, bytes = $6, sessions = $7, total_weight = $8, paid = $9,
            returned_to_treasury = $10, digest = $11 WHERE epoch = $1`,
    [
      epoch,
      calculation.policyVersion,
      results.length,
      totals.eligible,
      totals.ineligible,
      totals.bytes.toString(),
      totals.sessions.toString(),
      totals.totalWeight.toString(),
      totals.paid.toString(),
      totals.returnedToTreasury.toString(),
      digest.digest(),
    ],
  );
  stopwatch.lap('write rewards');
  return { payouts: rewardPayouts(results), policy };
}

/**
 * Feeds `take` the reward inputs of every synqer that reported in `epoch`, in synqer id order, as the server streams
 * them (COPY ... TO STDOUT, parsed here: a million rows through a query's row objects and decimal strings cost several
 * times more). The join, the order and the wallet of a synqer that never changed it are the server's work, beside
 * this process; a synqer whose wallet changed gets it from `payoutWalletFor`. The ids sort by byte (COLLATE "C"),
 * which is code-unit order for the ids synqers can have; the calculator sorts anything else. `take` gets the same
 * object every time, filled anew: it keeps what it needs, not the object.
 */
async function readRewardInputs(sql: ProjectionSql, copyOut: ProjectionContext['copyOut'], epoch: number, take: (input: RewardInput) => void): Promise<void> {
  // A hash join and one sort in memory (a nested loop of a million index lookups is what stale statistics pick).
  await sql.query(`SET LOCAL enable_nestloop = off`);
  await sql.query(`SET LOCAL work_mem = '512MB'`);
  const rows = copyOut(
    `SELECT m.synqer_id, m.bytes, m.sessions, m.uptime_seconds, m.qos_weighted_sum, m.qos_weight, m.reports, s.status = 'suspended',
            CASE WHEN jsonb_array_length(s.wallets) = 1 THEN s.wallets -> 0 ->> 'payoutWallet' END,
            CASE WHEN jsonb_array_length(s.wallets) <> 1 THEN s.wallets END, k.active
       FROM metric_totals m LEFT JOIN synqers s USING (synqer_id) LEFT JOIN stakes k USING (synqer_id)
      WHERE m.epoch = ${Number(epoch)} AND m.reports > 0
      ORDER BY m.synqer_id COLLATE "C"`,
  );
  const line = new InputLine(epoch);
  await forEachLine(rows, (bytes, start, end) => take(line.parse(bytes, start, end)));
  await sql.query('RESET enable_nestloop');
  await sql.query('RESET work_mem');
}

/** Calls `line` with each line's bytes (without its newline) of a stream of chunks that may split lines anywhere. */
async function forEachLine(chunks: AsyncIterable<Buffer>, line: (bytes: Buffer, start: number, end: number) => void): Promise<void> {
  let rest: Buffer | undefined;
  for await (const chunk of chunks) {
    const bytes = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let start = 0;
    for (let newline = bytes.indexOf(10); newline !== -1; newline = bytes.indexOf(10, start)) {
      line(bytes, start, newline);
      start = newline + 1;
    }
    rest = start < bytes.length ? bytes.subarray(start) : undefined;
  }
  if (rest !== undefined) throw new Error('the reward inputs ended inside a line');
}

const ZERO = 0n;
/** Small whole numbers as bigints made once: most sessions, uptimes and reports are. */
const SMALL = Array.from({ length: 4096 }, (_, i) => BigInt(i));
const TAB = 9;
const BACKSLASH = 92;

/**
 * One line of the reward inputs' COPY text, parsed into one `RewardInput` filled anew each time: fields by tab, null
 * as \N, integers from their digits (a bigint made from a number when it has at most 15 digits). A line with a
 * backslash (an escape: no id or wallet a synqer can have) is split and unescaped field by field instead.
 */
class InputLine {
  private readonly input: RewardInput & { totals: SynqerTotals } = {
    synqerId: '',
    payoutWallet: null,
    suspended: false,
    activeStake: ZERO,
    totals: { bytes: ZERO, sessions: ZERO, uptimeSeconds: ZERO, qosWeightedSum: ZERO, qosWeight: ZERO, reports: 0 },
  };
  private bytes: Buffer = Buffer.alloc(0);
  /** The field being read: bytes[from, to). */
  private from = 0;
  private to = 0;
  private end = 0;
  /** The line has an escape: it is read again by `parseEscaped`. */
  private escaped = false;
  /** The field is ASCII: read as latin1, the cheapest decoding. */
  private ascii = true;

  constructor(private readonly epoch: number) {}

  parse(bytes: Buffer, start: number, end: number): RewardInput {
    this.bytes = bytes;
    this.to = start - 1;
    this.end = end;
    this.escaped = false;
    const { input } = this;
    const { totals } = input;
    input.synqerId = this.text()!;
    totals.bytes = this.integer()!;
    totals.sessions = this.integer()!;
    totals.uptimeSeconds = this.integer()!;
    totals.qosWeightedSum = this.integer()!;
    totals.qosWeight = this.integer()!;
    totals.reports = Number(this.integer());
    input.suspended = this.text() === 't';
    const wallet = this.text();
    const wallets = this.text();
    input.activeStake = this.integer() ?? ZERO;
    if (this.escaped) return this.parseEscaped(bytes.toString('utf8', start, end));
    input.payoutWallet = wallet ?? (wallets === null ? null : payoutWalletFor({ wallets: JSON.parse(wallets) as WalletEntry[] }, this.epoch));
    return input;
  }

  /** Moves to the next field; false when it is null (\N). A backslash anywhere else marks the line as escaped. */
  private field(): boolean {
    const { bytes, end } = this;
    let at = this.to + 1;
    this.from = at;
    let backslash = false;
    let ascii = true;
    for (; at < end; at++) {
      const byte = bytes[at];
      if (byte === TAB) break;
      if (byte === BACKSLASH) backslash = true;
      else if (byte > 127) ascii = false;
    }
    this.to = at;
    this.ascii = ascii;
    if (!backslash) return true;
    if (at - this.from === 2 && bytes[this.from] === BACKSLASH && bytes[this.from + 1] === 78 /* N */) return false;
    this.escaped = true;
    return true;
  }

  private text(): string | null {
    if (!this.field()) return null;
    return this.bytes.toString(this.ascii ? 'latin1' : 'utf8', this.from, this.to);
  }

  private integer(): bigint | null {
    if (!this.field()) return null;
    const { bytes, from, to } = this;
    if (to - from > 15 || to === from) return BigInt(bytes.toString('latin1', from, to));
    let value = 0;
    for (let at = from; at < to; at++) {
      const digit = bytes[at] - 48;
      if (digit < 0 || digit > 9) return BigInt(bytes.toString('latin1', from, to)); // a sign or a fraction: as BigInt reads it
      value = value * 10 + digit;
    }
    return value < SMALL.length ? SMALL[value] : BigInt(value);
  }

  private parseEscaped(line: string): RewardInput {
    const fields = line.split('\t').map((field) => (field === '\\N' ? null : field.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c)));
    const [synqerId, bytes, sessions, uptimeSeconds, qosWeightedSum, qosWeight, reports, suspended, wallet, wallets, active] = fields;
    const { input } = this;
    input.synqerId = synqerId!;
    input.totals.bytes = BigInt(bytes!);
    input.totals.sessions = BigInt(sessions!);
    input.totals.uptimeSeconds = BigInt(uptimeSeconds!);
    input.totals.qosWeightedSum = BigInt(qosWeightedSum!);
    input.totals.qosWeight = BigInt(qosWeight!);
    input.totals.reports = Number(reports);
    input.suspended = suspended === 't';
    input.payoutWallet = wallet ?? (wallets === null ? null : payoutWalletFor({ wallets: JSON.parse(wallets!) as WalletEntry[] }, this.epoch));
    input.activeStake = active === null ? ZERO : BigInt(active!);
    return input;
  }
}

/** COPY's text escapes (the other escaped characters stand for themselves). */
const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

interface WalletEntry {
  payoutWallet: string;
  fromEpoch: number;
}

/** After `epoch`, the columns of the canonical line of a result (domain/rewards.ts `canonicalResultLine`), in its order. */
const REWARD_COLUMNS = [
  'epoch',
  'synqer_id',
  'payout_wallet',
  'bytes',
  'sessions',
  'uptime_seconds',
  'uptime_bps',
  'qos_bps',
  'active_stake',
  'stake_boost_bps',
  'eligible',
  'reasons',
  'work',
  'weight',
  'reward',
];

const PIPE = 124;
const NEWLINE = 10;
const DASH = 45;

/**
 * The rewards rows as COPY text, made from the results' canonical lines as the digest takes them (bytes), a chunk at
 * a time: the fields are the columns in order, so '|' becomes a tab, a payout wallet '-' (none: a wallet is never '-')
 * becomes null (\N), reasons '-' (none) the empty text, eligible '1' or '0' is a boolean as it stands, and a tab or a
 * backslash in an id or a wallet is escaped. Each figure is written out once, for the digest and the row.
 */
function* rewardRows(epoch: number, results: readonly SynqerReward[], digest: RewardsDigest): Generator<{ text: Buffer }> {
  const prefix = Buffer.from(`${epoch}\t`);
  for (let from = 0; from < results.length; from += ROW_CHUNK) {
    const lines = digest.lines(results, from, from + ROW_CHUNK);
    const rows = Math.min(ROW_CHUNK, results.length - from);
    // Each byte at most twice (an escape), and the epoch before each line.
    const out = Buffer.allocUnsafe(2 * lines.length + rows * prefix.length);
    let at = lines.length > 0 ? prefix.copy(out, 0) : 0;
    let field = 0;
    let fieldStart = at;
    for (let i = 0; i < lines.length; i++) {
      const byte = lines[i];
      if (byte === PIPE || byte === NEWLINE) {
        const single = at - fieldStart === 1 && out[fieldStart] === DASH;
        if (field === 1 && single) {
          out[fieldStart] = BACKSLASH;
          out[at++] = 78; // \N
        } else if (field === 10 && single) at = fieldStart;
        if (byte === NEWLINE) {
          out[at++] = NEWLINE;
          field = 0;
          if (i + 1 < lines.length) at += prefix.copy(out, at);
        } else {
          out[at++] = TAB;
          field++;
        }
        fieldStart = at;
      } else if (byte === TAB) {
        out[at++] = BACKSLASH;
        out[at++] = 116; // \t
      } else if (byte === BACKSLASH) {
        out[at++] = BACKSLASH;
        out[at++] = BACKSLASH;
      } else out[at++] = byte;
    }
    yield { text: out.subarray(0, at) };
  }
}

/** The epoch's carries, then its distribution: leaves and tree levels, and its root on the epoch's row. */
async function storeDistribution({ sql, copy }: ProjectionContext, epoch: number, payouts: Payout[], policy: Policy, stopwatch: CloseStopwatch): Promise<void> {
  const carried = await storeCarries(sql, epoch, payouts, policy);
  stopwatch.lap('carries');
  if (carried.leaves.length === 0) {
    await sql.query(`UPDATE epochs SET root = $2, leaf_count = 0, distribution_total = 0 WHERE epoch = $1`, [epoch, EMPTY_ROOT]);
    return;
  }
  const tree = distributionTree(carried.leaves, carried.leafKeys);
  stopwatch.lap('build distribution');
  await copy('distribution_leaves', ['epoch', 'wallet', 'leaf_index', 'amount', 'leaf_hash'], leafRows(epoch, tree));
  stopwatch.lap('write leaves');
  await copy('distribution_nodes', ['epoch', 'level', 'chunk', 'hashes'], nodeRows(epoch, tree.levels));
  if (levelLengths(tree.leafCount).length !== tree.levels.length) throw new Error(`epoch ${epoch}: the tree has an unexpected number of levels`);
  await sql.query(`UPDATE epochs SET root = $2, leaf_count = $3, distribution_total = $4 WHERE epoch = $1`, [
    epoch,
    tree.rootHex,
    tree.leafCount,
    tree.total.toString(),
  ]);
  stopwatch.lap('write levels');
}

const HEX = Buffer.from('0123456789abcdef');

/**
 * The leaves as COPY text, a chunk at a time, written straight into bytes: epoch, wallet (base58: nothing to escape),
 * leaf index, amount, and the leaf hash as bytea hex from the tree's first level.
 */
function* leafRows(epoch: number, tree: DistributionTree): Generator<{ text: Buffer }> {
  const { wallets, amounts, levels } = tree;
  const hashes = levels[0];
  const prefix = Buffer.from(`${epoch}\t`);
  for (let from = 0; from < wallets.length; from += ROW_CHUNK) {
    const to = Math.min(from + ROW_CHUNK, wallets.length);
    let out = Buffer.allocUnsafe((to - from) * 200);
    let at = 0;
    for (let i = from; i < to; i++) {
      const wallet = wallets[i];
      const index = String(i);
      const amount = amounts[i].toString();
      const needed = prefix.length + wallet.length + index.length + amount.length + 72;
      if (at + needed > out.length) {
        const larger = Buffer.allocUnsafe(2 * out.length + needed);
        out.copy(larger, 0, 0, at);
        out = larger;
      }
      at += prefix.copy(out, at);
      at = ascii(out, at, wallet);
      out[at++] = TAB;
      at = ascii(out, at, index);
      out[at++] = TAB;
      at = ascii(out, at, amount);
      out[at++] = TAB;
      out[at++] = BACKSLASH;
      out[at++] = BACKSLASH;
      out[at++] = 120; // x
      for (let k = 32 * i; k < 32 * i + 32; k++) {
        out[at++] = HEX[hashes[k] >> 4];
        out[at++] = HEX[hashes[k] & 15];
      }
      out[at++] = NEWLINE;
    }
    yield { text: out.subarray(0, at) };
  }
}

/** Writes ASCII `text` (digits, base58) at `at`, one byte a character; the position after it. */
function ascii(out: Buffer, at: number, text: string): number {
  for (let k = 0; k < text.length; k++) out[at++] = text.charCodeAt(k);
  return at;
}

/** Each level in chunks of NODE_CHUNK hashes (tables.ts), as COPY text. */
function* nodeRows(epoch: number, levels: readonly Buffer[]): Generator<{ text: string }> {
  for (let level = 0; level < levels.length; level++) {
    const bytes = levels[level];
    let text = '';
    for (let chunk = 0; chunk * NODE_CHUNK * 32 < bytes.length; chunk++) {
      const start = chunk * NODE_CHUNK * 32;
      text += `${epoch}\t${level}\t${chunk}\t\\\\x${bytes.toString('hex', start, Math.min(start + NODE_CHUNK * 32, bytes.length))}\n`;
    }
    yield { text };
  }
}

/** The epoch's carries over the balances outstanding at its close: the balances after it and what it carried in and out. */
async function storeCarries(sql: ProjectionSql, epoch: number, payouts: Payout[], policy: Policy) {
  const { rows } = await sql.query<{ wallet: string; amount: string }>('SELECT wallet, amount::text AS amount FROM carried_balances');
  const outstanding = new Map(rows.map((row) => [row.wallet, BigInt(row.amount)]));
  const { minimumPayout } = claimPolicy(policy);
  const outcome = carryForward(payouts, outstanding, minimumPayout);
  const entries = [
    ...outcome.carriedIn.map((entry) => ({ direction: 'in', ...entry })),
    ...outcome.carriedOut.map((entry) => ({ direction: 'out', ...entry })),
  ];
  if (entries.length > 0) {
    await sql.query(`INSERT INTO carries (epoch, direction, wallet, amount) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[])`, [
      epoch,
      entries.map((entry) => entry.direction),
      entries.map((entry) => entry.wallet),
      entries.map((entry) => entry.amount.toString()),
    ]);
  }
  if (outstanding.size > 0 || outcome.outstanding.size > 0) {
    await sql.query('DELETE FROM carried_balances');
    const after = [...outcome.outstanding];
    if (after.length > 0) {
      await sql.query(`INSERT INTO carried_balances (wallet, amount) SELECT * FROM unnest($1::text[], $2::numeric[])`, [
        after.map(([wallet]) => wallet),
        after.map(([, amount]) => amount.toString()),
      ]);
    }
  }
  // Recorded only where carries can happen, so the epochs of a network without them read as before.
  if (minimumPayout > 0n || entries.length > 0) {
    await sql.query('UPDATE epochs SET carried_in = $2, carried_out = $3 WHERE epoch = $1', [
      epoch,
      outcome.carriedInTotal.toString(),
      outcome.carriedOutTotal.toString(),
    ]);
  }
  return outcome;
}
