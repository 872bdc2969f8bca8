import { Controller, Get, Module, Param, ParseIntPipe, Query } from '@nestjs/common';
import { reject } from '../../domain/rejection';
import { Roles } from '../auth/api-key.guard';
import { ProjectionReader } from '../projections/projection-reader';

/**
 * Read-only aggregates the dashboard (`/dashboard`) draws, taken from the settlement projection's tables. Everything
 * else the dashboard shows comes from the API's other routes.
 */

const HISTOGRAM_BUCKETS = 20;

interface EpochRow {
  epoch: number;
  start_s: string;
  end_s: string;
  status: string;
  digest: string | null;
  synqers: number | null;
  eligible: number | null;
  ineligible: number | null;
}

interface SynqerEpochRow {
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

@Controller()
export class DashboardController {
  constructor(private readonly reader: ProjectionReader) {}

  /**
   * An epoch's figures at a glance: eligibility with each ineligibility reason's count, and the rewards paid (count,
   * smallest, median, largest, total) with a histogram of equal-width buckets. Before the close, the totals reported so far.
   */
  @Get('epochs/:epoch/statistics')
  @Roles('operator', 'auditor')
  async epochStatistics(@Param('epoch', ParseIntPipe) epoch: number) {
    const [row] = await this.reader.query<EpochRow>('settlement', (s) => `SELECT * FROM ${s}.epochs WHERE epoch = $1`, [epoch]);
    if (!row) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    const [reported] = await this.reader.query<{ synqers: number; bytes: string; sessions: string; reports: number }>(
      'settlement',
      (s) => `SELECT count(*)::int AS synqers, COALESCE(sum(bytes), 0)::text AS bytes, COALESCE(sum(sessions), 0)::text AS sessions,
                     COALESCE(sum(reports), 0)::int AS reports
                FROM ${s}.metric_totals WHERE epoch = $1`,
      [epoch],
    );
    const base = { epoch, status: row.status, reported };
    if (row.digest === null) return { ...base, calculated: false, eligibility: null, rewards: null };

    const reasons = await this.reader.query<{ reason: string; count: number }>(
      'settlement',
      (s) => `SELECT reason, count(*)::int AS count
                FROM ${s}.rewards, unnest(string_to_array(reasons, ',')) AS reason
               WHERE epoch = $1 AND reasons <> ''
               GROUP BY reason ORDER BY count(*) DESC, reason`,
      [epoch],
    );
    const [paid] = await this.reader.query<{ count: number; min: string | null; median: string | null; max: string | null; total: string }>(
      'settlement',
      (s) => `SELECT count(*)::int AS count, min(reward)::text AS min, max(reward)::text AS max, COALESCE(sum(reward), 0)::text AS total,
                     (percentile_disc(0.5) WITHIN GROUP (ORDER BY reward))::text AS median
                FROM ${s}.rewards WHERE epoch = $1 AND reward > 0`,
      [epoch],
    );
    return {
      ...base,
      calculated: true,
      eligibility: { synqers: row.synqers ?? 0, eligible: row.eligible ?? 0, ineligible: row.ineligible ?? 0, reasons },
      rewards: { ...paid, histogram: await this.histogram(epoch, paid.count, paid.min, paid.max) },
    };
  }

  /**
   * Equal-width buckets over [min, max] of the rewards paid, as many as Sturges' rule suggests for their number (at
   * most 20); amounts in base units (decimal strings), `to` inclusive.
   */
  private async histogram(epoch: number, paid: number, min: string | null, max: string | null) {
    if (min === null || max === null) return [];
    const low = BigInt(min);
    const span = BigInt(max) - low + 1n;
    const wanted = Math.min(HISTOGRAM_BUCKETS, Math.ceil(Math.log2(paid)) + 1);
    const count = span < BigInt(wanted) ? Number(span) : wanted;
    const width = (span + BigInt(count) - 1n) / BigInt(count);
    const rows = await this.reader.query<{ bucket: number; count: number }>(
      'settlement',
      (s) => `SELECT floor((reward - $2::numeric) / $3::numeric)::int AS bucket, count(*)::int AS count
                FROM ${s}.rewards WHERE epoch = $1 AND reward > 0 GROUP BY 1`,
      [epoch, low.toString(), width.toString()],
    );
    const counts = new Map(rows.map((r) => [r.bucket, r.count]));
    return Array.from({ length: count }, (_, i) => {
      const from = low + BigInt(i) * width;
      const to = i === count - 1 ? BigInt(max) : from + width - 1n;
      return { from: from.toString(), to: to.toString(), count: counts.get(i) ?? 0 };
    });
  }

  /**
   * One synqer's figures per epoch, oldest first (the latest `?limit=` epochs, default 50, up to 1000): what it
   * reported, and once the epoch is calculated its uptime and QoS as counted, eligibility, reward and its wallet's
   * leaf in the distribution (the leaf's amount is the wallet's, summed over the synqers paying into it).
   */
  @Get('synqers/:id/epochs')
  @Roles('operator', 'auditor')
  async synqerEpochs(@Param('id') id: string, @Query('limit') limit?: string) {
    const take = limit === undefined ? 50 : Number(limit);
    if (limit !== undefined && (!/^\d+$/.test(limit) || take < 1 || take > 1000)) reject('invalid', 'limit', 'must be a whole number from 1 to 1000');
    const known = await this.reader.query('settlement', (s) => `SELECT 1 FROM ${s}.synqers WHERE synqer_id = $1`, [id]);
    if (known.length === 0) reject('not_found', 'synqerId', `no synqer is registered as ${id}`);
    const rows = await this.reader.query<SynqerEpochRow>(
      'settlement',
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
      [id, take],
    );
    return {
      synqerId: id,
      epochs: rows.map((row) => ({
        epoch: row.epoch,
        calculated: row.calculated,
        bytes: row.bytes,
        sessions: row.sessions,
        uptimeSeconds: row.uptime_seconds,
        uptimeBps: row.uptime_bps,
        qosBps: row.qos_bps,
        reports: row.reports ?? 0,
        eligible: row.eligible,
        reasons: row.reasons ? row.reasons.split(',') : [],
        activeStake: row.active_stake,
        stakeBoostBps: row.stake_boost_bps,
        reward: row.reward,
        payoutWallet: row.payout_wallet,
        leaf: row.leaf_index === null ? null : { index: row.leaf_index, amount: row.leaf_amount },
      })),
    };
  }
}

@Module({ controllers: [DashboardController] })
export class DashboardModule {}
