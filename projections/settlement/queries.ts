import type { ReadModelSql } from '../projection';
import { NODE_CHUNK, SETTLEMENT } from './tables';

/**
 * Every read of the settlement read model's tables. Each function is one statement on the live generation; rows come
 * back as node-postgres gives them (integer as number; bigint and numeric as decimal strings; bytea as Buffer), or as
 * text where the query casts to it. Nothing outside this folder names these tables.
 */

/** A row of `epochs`, as `SELECT *` gives it. */
export interface EpochRow {
  epoch: number;
  start_s: string;
  end_s: string;
  reward_pool: string;
  status: string;
  cut_off_position: string | null;
  closed_position: string | null;
  policy_version: number | null;
  synqers: number | null;
  eligible: number | null;
  ineligible: number | null;
  bytes: string | null;
  sessions: string | null;
  total_weight: string | null;
  paid: string | null;
  returned_to_treasury: string | null;
  digest: string | null;
  rewards_recorded: boolean;
  root: string | null;
  leaf_count: number | null;
  distribution_total: string | null;
  distribution_recorded: boolean;
  pool_returned: string | null;
  /** Set when a minimum payout was in force or anything was carried. */
  carried_in: string | null;
  carried_out: string | null;
}

/** A row of `rewards`, as `SELECT *` gives it. */
export interface RewardRow {
  epoch: number;
  synqer_id: string;
  payout_wallet: string | null;
  bytes: string;
  sessions: string;
  uptime_seconds: string;
  uptime_bps: number;
  qos_bps: number;
  active_stake: string;
  stake_boost_bps: number;
  eligible: boolean;
  /** Ineligibility reasons, comma-separated; '' when eligible. */
  reasons: string;
  work: string;
  weight: string;
  reward: string;
}

/** A row whose every column is cast to text (the audit compares them with its replay's figures as text). */
export type RowAsText = Record<string, string | null>;

// ---- epochs

/** Every epoch the read model knows, oldest first. */
export function epochs(db: ReadModelSql): Promise<EpochRow[]> {
  return db.query<EpochRow>(SETTLEMENT, (s) => `SELECT * FROM ${s}.epochs ORDER BY epoch`);
}

/** One epoch's row; undefined before it is opened (or before the read model has met its opening). */
export async function epochRow(db: ReadModelSql, epoch: number): Promise<EpochRow | undefined> {
  const rows = await db.query<EpochRow>(SETTLEMENT, (s) => `SELECT * FROM ${s}.epochs WHERE epoch = $1`, [epoch]);
  return rows[0];
}

/** An epoch's distribution as far as the claims need it: its root, leaf count and whether its root is recorded. */
export async function distributionState(
  db: ReadModelSql,
  epoch: number,
): Promise<{ root: string; leaf_count: number; distribution_recorded: boolean } | undefined> {
  const [row] = await db.query<{ root: string; leaf_count: number; distribution_recorded: boolean }>(
    SETTLEMENT,
    (s) => `SELECT root, leaf_count, distribution_recorded FROM ${s}.epochs WHERE epoch = $1`,
    [epoch],
  );
  return row;
}

/** The columns of an epoch's row the audit compares, as text; undefined when there is no row. */
export async function epochRowAsText(db: ReadModelSql, epoch: number): Promise<RowAsText | undefined> {
  const rows = await db.query<RowAsText>(
    SETTLEMENT,
    (s) => `SELECT status, reward_pool::text, cut_off_position::text, policy_version::text, synqers::text, eligible::text, ineligible::text, bytes::text,
                     sessions::text, total_weight::text, paid::text, returned_to_treasury::text, digest, root, leaf_count::text, distribution_total::text,
                     carried_in::text, carried_out::text
                FROM ${s}.epochs WHERE epoch = $1`,
    [epoch],
  );
  return rows[0];
}

// ---- carried_balances, carries

/** What a closed epoch carried in (paid in its leaves) and out (below its minimum), each by wallet. */
export async function epochCarries(db: ReadModelSql, epoch: number): Promise<{ carriedIn: CarriedRow[]; carriedOut: CarriedRow[] }> {
  const rows = await db.query<CarriedRow & { direction: string }>(
    SETTLEMENT,
    (s) => `SELECT direction, wallet, amount::text AS amount FROM ${s}.carries WHERE epoch = $1 ORDER BY direction, wallet`,
    [epoch],
  );
  const entries = (direction: string) => rows.filter((row) => row.direction === direction).map(({ wallet, amount }) => ({ wallet, amount }));
  return { carriedIn: entries('in'), carriedOut: entries('out') };
}

/** Every wallet's carried balance still outstanding (in no leaf yet), by wallet. */
export function carriedBalances(db: ReadModelSql): Promise<CarriedRow[]> {
  return db.query<CarriedRow>(SETTLEMENT, (s) => `SELECT wallet, amount::text AS amount FROM ${s}.carried_balances ORDER BY wallet`);
}

export interface CarriedRow {
  wallet: string;
  amount: string;
}

// ---- metric_totals

/** What the synqers reported for an epoch so far: how many, and their bytes, sessions and reports summed. */
export async function reportedTotals(db: ReadModelSql, epoch: number): Promise<{ synqers: number; bytes: string; sessions: string; reports: number }> {
  const [reported] = await db.query<{ synqers: number; bytes: string; sessions: string; reports: number }>(
    SETTLEMENT,
    (s) => `SELECT count(*)::int AS synqers, COALESCE(sum(bytes), 0)::text AS bytes, COALESCE(sum(sessions), 0)::text AS sessions,
                     COALESCE(sum(reports), 0)::int AS reports
                FROM ${s}.metric_totals WHERE epoch = $1`,
    [epoch],
  );
  return reported;
}

// ---- rewards

/** A page of an epoch's rewards, largest reward first (ties by synqer id). */
export function rewardsPage(db: ReadModelSql, epoch: number, limit: number, offset: number): Promise<RewardRow[]> {
  return db.query<RewardRow>(SETTLEMENT, (s) => `SELECT * FROM ${s}.rewards WHERE epoch = $1 ORDER BY reward DESC, synqer_id LIMIT $2 OFFSET $3`, [
    epoch,
    limit,
    offset,
  ]);
}

/** Each ineligibility reason of an epoch with how many synqers it made ineligible, most frequent first. */
export function ineligibilityReasons(db: ReadModelSql, epoch: number): Promise<{ reason: string; count: number }[]> {
  return db.query<{ reason: string; count: number }>(
    SETTLEMENT,
    (s) => `SELECT reason, count(*)::int AS count
                FROM ${s}.rewards, unnest(string_to_array(reasons, ',')) AS reason
               WHERE epoch = $1 AND reasons <> ''
               GROUP BY reason ORDER BY count(*) DESC, reason`,
    [epoch],
  );
}

/** The rewards paid in an epoch (reward > 0): how many, smallest, median, largest and total. */
export async function paidRewards(
  db: ReadModelSql,
  epoch: number,
): Promise<{ count: number; min: string | null; median: string | null; max: string | null; total: string }> {
  const [paid] = await db.query<{ count: number; min: string | null; median: string | null; max: string | null; total: string }>(
    SETTLEMENT,
    (s) => `SELECT count(*)::int AS count, min(reward)::text AS min, max(reward)::text AS max, COALESCE(sum(reward), 0)::text AS total,
                     (percentile_disc(0.5) WITHIN GROUP (ORDER BY reward))::text AS median
                FROM ${s}.rewards WHERE epoch = $1 AND reward > 0`,
    [epoch],
  );
  return paid;
}

/** The rewards paid in an epoch counted per bucket `floor((reward - low) / width)`; empty buckets are not listed. */
export function paidRewardBuckets(db: ReadModelSql, epoch: number, low: string, width: string): Promise<{ bucket: number; count: number }[]> {
  return db.query<{ bucket: number; count: number }>(
    SETTLEMENT,
    (s) => `SELECT floor((reward - $2::numeric) / $3::numeric)::int AS bucket, count(*)::int AS count
                FROM ${s}.rewards WHERE epoch = $1 AND reward > 0 GROUP BY 1`,
    [epoch, low, width],
  );
}

/** A keyset page of an epoch's rewards rows in synqer id order, after `after`, the columns the audit compares as text. */
export function rewardRowsAsText(db: ReadModelSql, epoch: number, after: string, limit: number): Promise<RowAsText[]> {
  return db.query<RowAsText>(
    SETTLEMENT,
    (s) => `SELECT synqer_id, reward::text, weight::text, eligible::text, reasons, payout_wallet, bytes::text, sessions::text, uptime_seconds::text,
                     qos_bps::text, active_stake::text, uptime_bps::text, stake_boost_bps::text, work::text
                FROM ${s}.rewards WHERE epoch = $1 AND synqer_id > $2 ORDER BY synqer_id LIMIT $3`,
    [epoch, after, limit],
  );
}

// ---- synqers, per epoch

/** Whether a synqer is registered. */
export async function synqerExists(db: ReadModelSql, synqerId: string): Promise<boolean> {
  const known = await db.query(SETTLEMENT, (s) => `SELECT 1 FROM ${s}.synqers WHERE synqer_id = $1`, [synqerId]);
  return known.length > 0;
}

/** One synqer's figures in an epoch: reported so far, or as counted once the epoch is calculated, with its leaf. */
export interface SynqerEpochRow {
  epoch: number;
  calculated: boolean;
  bytes: string;
  sessions: string;
  uptime_seconds: string;
  uptime_bps: number;
  qos_bps: number;
  reports: number | null;
  eligible: boolean | null;
  reasons: string | null;
  active_stake: string | null;
  stake_boost_bps: number | null;
  reward: string | null;
  payout_wallet: string | null;
  leaf_index: number | null;
  leaf_amount: string | null;
}

/** A synqer's latest `limit` epochs it reported in or was calculated in, oldest first. */
export function synqerEpochs(db: ReadModelSql, synqerId: string, limit: number): Promise<SynqerEpochRow[]> {
  return db.query<SynqerEpochRow>(
    SETTLEMENT,
    (s) => `
        SELECT * FROM (
          SELECT e.epoch, r.synqer_id IS NOT NULL AS calculated,
                 COALESCE(r.bytes, m.bytes)::text AS bytes,
                 COALESCE(r.sessions, m.sessions)::text AS sessions,
                 COALESCE(r.uptime_seconds, m.uptime_seconds)::text AS uptime_seconds,
                 COALESCE(r.uptime_bps, LEAST(10000, floor(m.uptime_seconds * 10000 / GREATEST(e.end_s - e.start_s, 1))))::int AS uptime_bps,
                 COALESCE(r.qos_bps, floor(m.qos_weighted_sum / NULLIF(m.qos_weight, 0)), 0)::int AS qos_bps,
                 m.reports, r.eligible, r.reasons, r.active_stake::text AS active_stake, r.stake_boost_bps,
                 r.reward::text AS reward, r.payout_wallet, l.leaf_index, l.amount::text AS leaf_amount
            FROM ${s}.epochs e
            LEFT JOIN ${s}.metric_totals m ON m.epoch = e.epoch AND m.synqer_id = $1
            LEFT JOIN ${s}.rewards r ON r.epoch = e.epoch AND r.synqer_id = $1
            LEFT JOIN ${s}.distribution_leaves l ON l.epoch = e.epoch AND l.wallet = r.payout_wallet AND r.reward > 0
           WHERE m.synqer_id IS NOT NULL OR r.synqer_id IS NOT NULL
           ORDER BY e.epoch DESC LIMIT $2) latest
        ORDER BY epoch`,
    [synqerId, limit],
  );
}

// ---- distribution_leaves

/** An epoch's leaves in leaf order: wallet and amount (decimal text). */
export function leafAmounts(db: ReadModelSql, epoch: number): Promise<{ wallet: string; amount: string }[]> {
  return db.query<{ wallet: string; amount: string }>(
    SETTLEMENT,
    (s) => `SELECT wallet, amount::text AS amount FROM ${s}.distribution_leaves WHERE epoch = $1 ORDER BY leaf_index`,
    [epoch],
  );
}

/** An epoch's leaves in leaf order with their hashes (to rebuild the root from). */
export function leafAmountsAndHashes(db: ReadModelSql, epoch: number): Promise<{ wallet: string; amount: string; leaf_hash: Buffer }[]> {
  return db.query<{ wallet: string; amount: string; leaf_hash: Buffer }>(
    SETTLEMENT,
    (s) => `SELECT wallet, amount::text AS amount, leaf_hash FROM ${s}.distribution_leaves WHERE epoch = $1 ORDER BY leaf_index`,
    [epoch],
  );
}

/** An epoch's leaves, in no particular order: wallet, leaf index and amount. */
export function leaves(db: ReadModelSql, epoch: number): Promise<{ wallet: string; leaf_index: number; amount: string }[]> {
  return db.query<{ wallet: string; leaf_index: number; amount: string }>(
    SETTLEMENT,
    (s) => `SELECT wallet, leaf_index, amount FROM ${s}.distribution_leaves WHERE epoch = $1`,
    [epoch],
  );
}

/** A page of an epoch's leaves in leaf order (leaf indexes run 0 .. leaf count - 1): wallet and amount. */
export function leavesPage(db: ReadModelSql, epoch: number, limit: number, offset: number): Promise<{ wallet: string; amount: string }[]> {
  return db.query<{ wallet: string; amount: string }>(
    SETTLEMENT,
    (s) => `SELECT wallet, amount::text AS amount FROM ${s}.distribution_leaves
             WHERE epoch = $1 AND leaf_index >= $2 AND leaf_index < $2::bigint + $3 ORDER BY leaf_index`,
    [epoch, offset, limit],
  );
}

/** A keyset page of an epoch's leaves in wallet order, after `after`, the columns the audit compares as text. */
export function leafRowsAsText(db: ReadModelSql, epoch: number, after: string, limit: number): Promise<RowAsText[]> {
  return db.query<RowAsText>(
    SETTLEMENT,
    (s) => `SELECT wallet, leaf_index::text, amount::text, encode(leaf_hash, 'hex') AS leaf_hash
                FROM ${s}.distribution_leaves WHERE epoch = $1 AND wallet > $2 ORDER BY wallet LIMIT $3`,
    [epoch, after, limit],
  );
}

/**
 * A wallet's claim in one query: a row per level below the root, lowest first, each with the leaf's index and amount,
 * the epoch's root and the node the proof needs on that level (the sibling, or the node itself when it is the last of
 * an odd level), sliced out of the stored chunk; a single row with level null for a one-leaf tree; no rows when the
 * wallet has no leaf. Level k has ceil(n / 2^k) nodes.
 */
export function claimProof(
  db: ReadModelSql,
  epoch: number,
  wallet: string,
): Promise<{ leaf_index: number; amount: string; root: string; level: number | null; node: Buffer | null }[]> {
  return db.query<{ leaf_index: number; amount: string; root: string; level: number | null; node: Buffer | null }>(
    SETTLEMENT,
    (s) => `
        WITH leaf AS (
          SELECT l.leaf_index, l.amount, e.leaf_count, e.root FROM ${s}.distribution_leaves l JOIN ${s}.epochs e USING (epoch)
           WHERE l.epoch = $1 AND l.wallet = $2),
        steps AS (
          SELECT k AS level, leaf.leaf_index >> k AS i, ((leaf.leaf_count + (1 << k) - 1) >> k) AS width
            FROM leaf, generate_series(0, 31) AS k
           WHERE ((leaf.leaf_count + (1 << k) - 1) >> k) > 1),
        wanted AS (
          SELECT level, CASE WHEN i % 2 = 1 THEN i - 1 WHEN i + 1 < width THEN i + 1 ELSE i END AS node FROM steps)
        SELECT leaf.leaf_index, leaf.amount, leaf.root, w.level,
               substring(n.hashes FROM (w.node % ${NODE_CHUNK}) * 32 + 1 FOR 32) AS node
          FROM leaf
          LEFT JOIN wanted w ON true
          LEFT JOIN ${s}.distribution_nodes n ON n.epoch = $1 AND n.level = w.level AND n.chunk = w.node / ${NODE_CHUNK}
         ORDER BY w.level`,
    [epoch, wallet],
  );
}

// ---- distribution_nodes

/** Every stored chunk of an epoch's tree, by level then chunk. */
export function treeChunks(db: ReadModelSql, epoch: number): Promise<{ level: number; chunk: number; hashes: Buffer }[]> {
  return db.query<{ level: number; chunk: number; hashes: Buffer }>(
    SETTLEMENT,
    (s) => `SELECT level, chunk, hashes FROM ${s}.distribution_nodes WHERE epoch = $1 ORDER BY level, chunk`,
    [epoch],
  );
}

/** The stored chunks of an epoch's tree from level `fromLevel` up, by level then chunk, their hashes as hex. */
export function treeChunksAsHex(db: ReadModelSql, epoch: number, fromLevel: number): Promise<{ level: number; chunk: number; hashes: string }[]> {
  return db.query<{ level: number; chunk: number; hashes: string }>(
    SETTLEMENT,
    (s) => `SELECT level, chunk, encode(hashes, 'hex') AS hashes FROM ${s}.distribution_nodes WHERE epoch = $1 AND level >= $2 ORDER BY level, chunk`,
    [epoch, fromLevel],
  );
}
