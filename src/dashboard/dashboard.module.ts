import { Controller, Get, Module, Param, Query } from '@nestjs/common';
import { EpochParam, IdParam } from '../requests/parameters';
import { reject } from '../../domain/rejection';
import { settlementQueries } from '../../projections/settlement';
import { Roles } from '../auth/api-key.guard';
import { ProjectionReader } from '../projections/projection-reader';

/**
 * Read-only aggregates the dashboard (`/dashboard`) draws, taken from the settlement projection's tables. Everything
 * else the dashboard shows comes from the API's other routes.
 */

const HISTOGRAM_BUCKETS = 20;

@Controller()
export class DashboardController {
  constructor(private readonly reader: ProjectionReader) {}

  /**
   * An epoch's figures at a glance: eligibility with each ineligibility reason's count, and the rewards paid (count,
   * smallest, median, largest, total) with a histogram of equal-width buckets. Before the close, the totals reported so far.
   */
  @Get('epochs/:epoch/statistics')
  @Roles('operator', 'auditor')
  async epochStatistics(@Param('epoch', EpochParam) epoch: number) {
    const row = await settlementQueries.epochRow(this.reader, epoch);
    if (!row) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    const reported = await settlementQueries.reportedTotals(this.reader, epoch);
    const base = { epoch, status: row.status, reported };
    if (row.digest === null) return { ...base, calculated: false, eligibility: null, rewards: null };

    const reasons = await settlementQueries.ineligibilityReasons(this.reader, epoch);
    const paid = await settlementQueries.paidRewards(this.reader, epoch);
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
    const rows = await settlementQueries.paidRewardBuckets(this.reader, epoch, low.toString(), width.toString());
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
  async synqerEpochs(@Param('id', IdParam) id: string, @Query('limit') limit?: string) {
    const take = limit === undefined ? 50 : Number(limit);
    if (limit !== undefined && (!/^\d+$/.test(limit) || take < 1 || take > 1000)) reject('invalid', 'limit', 'must be a whole number from 1 to 1000');
    if (!(await settlementQueries.synqerExists(this.reader, id))) reject('not_found', 'synqerId', `no synqer is registered as ${id}`);
    const rows = await settlementQueries.synqerEpochs(this.reader, id, take);
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
