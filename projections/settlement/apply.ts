import type { UnclaimedRewardsCarried } from '../../domain/carry';
import { reportFigures, signedByKeyInForce } from '../../domain/epoch-books';
import type { DistributionBuilt, RewardsCalculated } from '../../domain/epoch-settlement';
import type { MetricReport } from '../../domain/metric-report';
import { cutOffOf, type NetworkEvent } from '../../domain/network';
import type { Policy } from '../../domain/policy';
import type { SynqerTotals } from '../../domain/rewards';
import type { StakeEvent } from '../../domain/stake';
import type { SynqerEvent } from '../../domain/synqer';
import type { RecordedEvent } from '../../src/event-store/event-store';
import type { Projection, ProjectionContext, ProjectionSql } from '../projection';
import { calculateAndDistribute } from './close';
import { CloseStopwatch } from './close-parts';
import { SETTLEMENT, SETTLEMENT_TABLES } from './tables';

/**
 * The settlement books: synqers, stakes, per-epoch metric totals, epochs, and each closed epoch's rewards and Merkle
 * distribution. One projection, because an epoch's rewards are taken from all of them as they stand at its close
 * (domain/epoch-books.ts is the specification; the audit replays it and compares with these tables).
 *
 * At `EpochClosed` the projection calculates the epoch's rewards and builds its distribution (leaves, and the tree's
 * levels in chunks so that a proof is a handful of row reads); the close pipeline then records their digest and root
 * as events, and when the projection meets those events it checks they match what it computed, failing loudly if not.
 * Carried rewards (domain/carry.ts) are kept per wallet in `carried_balances`: each close pays off or adds to them, and
 * unclaimed leaves carried (`UnclaimedRewardsCarried`) add to them where they are met in the log.
 */

const SYNQER_EVENTS = ['SynqerRegistered', 'PayoutWalletChanged', 'SynqerSuspended', 'SynqerReinstated', 'ReportingKeyRotated'];
const STAKE_EVENTS = ['StakeDeposited', 'UnstakeRequested', 'StakeWithdrawn', 'StakeSlashed'];
const NETWORK_EVENTS = ['EpochOpened', 'EpochClosed', 'PolicyAdopted', 'EpochPoolReturned'];
const EPOCH_EVENTS = ['EpochRewardsCalculated', 'EpochDistributionBuilt'];

export const settlementProjection: Projection = {
  name: SETTLEMENT,
  // 2: carried rewards (carried_balances, carries, epochs.carried_in and carried_out).
  // 3: reporting keys (synqers.reporting_key): a report decided with a key a rotation had replaced never counts.
  version: 3,
  eventTypes: new Set(['MetricReportAccepted', ...SYNQER_EVENTS, ...STAKE_EVENTS, ...NETWORK_EVENTS, ...EPOCH_EVENTS, 'UnclaimedRewardsCarried']),
  tables: SETTLEMENT_TABLES,
  async apply(events, context) {
    const cutOffs = await closedCutOffs(context.sql);
    // The common events of a catch-up are gathered and written a statement per kind; any other event first writes them.
    const reports = new MetricTotals();
    const registrations = new Registrations();
    const keys = new KeysInForce();
    const stakes = new StakeChanges();
    const flush = async () => {
      await registrations.flush(context.sql);
      await stakes.flush(context.sql);
      await reports.flush(context.sql);
    };
    for (const event of events) {
      if (event.type === 'MetricReportAccepted') {
        const report = event.data as unknown as MetricReport;
        const cutOff = cutOffs.get(report.epoch);
        // Recorded after its epoch's cut-off: lost the race with the close, never counts (and is voided). Decided with
        // a reporting key a rotation had replaced by then: never counts either (and is voided).
        if ((cutOff === undefined || event.position <= cutOff) && (await keys.signedByKeyInForce(context.sql, report))) reports.add(report, 1n);
      } else if (event.type === 'SynqerRegistered') {
        registrations.add(event);
        keys.set(event.data as { synqerId: string; reportingKey: string });
      } else if (STAKE_EVENTS.includes(event.type)) {
        stakes.add(event.type as StakeEvent['type'], event.data as StakeEvent['data']);
      } else {
        await flush();
        if (event.type === 'ReportingKeyRotated') keys.set(event.data as { synqerId: string; reportingKey: string });
        await applyOne(event, context, cutOffs);
      }
    }
    await flush();
  },
};

/**
 * The synqers' reporting keys in force, as this batch of events goes: read from the table when a report first needs
 * one, then kept up with the batch's registrations and rotations (domain/epoch-books.ts `signedByKeyInForce`).
 */
class KeysInForce {
  private readonly keys = new Map<string, string | undefined>();

  set(data: { synqerId: string; reportingKey: string }): void {
    this.keys.set(data.synqerId, data.reportingKey);
  }

  async signedByKeyInForce(sql: ProjectionSql, report: MetricReport & { reportingKey?: string }): Promise<boolean> {
    if (report.reportingKey === undefined) return true;
    if (!this.keys.has(report.synqerId)) {
      const { rows } = await sql.query<{ reporting_key: string | null }>(`SELECT reporting_key FROM synqers WHERE synqer_id = $1`, [report.synqerId]);
      this.keys.set(report.synqerId, rows[0]?.reporting_key ?? undefined);
    }
    return signedByKeyInForce(
      { synqers: new Map([[report.synqerId, { reportingKey: this.keys.get(report.synqerId), suspended: false, wallets: [] }]]) },
      report,
    );
  }
}

async function closedCutOffs(sql: ProjectionSql): Promise<Map<number, bigint>> {
  const { rows } = await sql.query<{ epoch: number; cut_off_position: string }>(`SELECT epoch, cut_off_position FROM epochs WHERE status = 'closed'`);
  return new Map(rows.map((row) => [row.epoch, BigInt(row.cut_off_position)]));
}

/** Reports summed in memory per epoch and synqer, written with one statement. */
class MetricTotals {
  private readonly totals = new Map<string, { epoch: number; synqerId: string } & SynqerTotals>();

  /** `sign` -1n takes a report out again. */
  add(report: MetricReport, sign: 1n | -1n): void {
    const key = `${report.epoch}\u0000${report.synqerId}`;
    const figures = reportFigures(report);
    const weight = figures.bytes > 1n ? figures.bytes : 1n;
    const entry = this.totals.get(key) ?? {
      epoch: report.epoch,
      synqerId: report.synqerId,
      bytes: 0n,
      sessions: 0n,
      uptimeSeconds: 0n,
      qosWeightedSum: 0n,
      qosWeight: 0n,
      reports: 0,
    };
    entry.bytes += sign * figures.bytes;
    entry.sessions += sign * figures.sessions;
    entry.uptimeSeconds += sign * figures.uptimeSeconds;
    entry.qosWeightedSum += sign * figures.qosBps * weight;
    entry.qosWeight += sign * weight;
    entry.reports += Number(sign);
    this.totals.set(key, entry);
  }

  async flush(sql: ProjectionSql): Promise<void> {
    if (this.totals.size === 0) return;
    const rows = [...this.totals.values()];
    this.totals.clear();
    const column = (pick: (row: (typeof rows)[number]) => unknown) => rows.map(pick);
    await sql.query(
      `INSERT INTO metric_totals AS t (epoch, synqer_id, bytes, sessions, uptime_seconds, qos_weighted_sum, qos_weight, reports)
       SELECT * FROM unnest($1::integer[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::integer[])
       ON CONFLICT (epoch, synqer_id) DO UPDATE SET
         bytes = t.bytes + excluded.bytes, sessions = t.sessions + excluded.sessions, uptime_seconds = t.uptime_seconds + excluded.uptime_seconds,
         qos_weighted_sum = t.qos_weighted_sum + excluded.qos_weighted_sum, qos_weight = t.qos_weight + excluded.qos_weight,
         reports = t.reports + excluded.reports`,
      [
        column((r) => r.epoch),
        column((r) => r.synqerId),
        column((r) => r.bytes.toString()),
        column((r) => r.sessions.toString()),
        column((r) => r.uptimeSeconds.toString()),
        column((r) => r.qosWeightedSum.toString()),
        column((r) => r.qosWeight.toString()),
        column((r) => r.reports),
      ],
    );
  }
}

class Registrations {
  private rows: RecordedEvent[] = [];

  add(event: RecordedEvent): void {
    this.rows.push(event);
  }

  async flush(sql: ProjectionSql): Promise<void> {
    if (this.rows.length === 0) return;
    const rows = this.rows.map((event) => ({ ...(event.data as Extract<SynqerEvent, { type: 'SynqerRegistered' }>['data']), position: event.position }));
    this.rows = [];
    await sql.query(
      `INSERT INTO synqers (synqer_id, region, status, wallets, registered_position, reporting_key)
       SELECT id, region, 'active', jsonb_build_array(jsonb_build_object('payoutWallet', wallet, 'fromEpoch', 0)), position, reporting_key
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) AS r(id, region, wallet, position, reporting_key)`,
      [
        rows.map((r) => r.synqerId),
        rows.map((r) => r.region),
        rows.map((r) => r.payoutWallet),
        rows.map((r) => r.position.toString()),
        rows.map((r) => r.reportingKey),
      ],
    );
  }
}

/** Stake events summed per synqer: active, asked back, withdrawn and slashed only ever change by these amounts. */
class StakeChanges {
  private readonly changes = new Map<string, { active: bigint; unstaking: bigint; withdrawn: bigint; slashed: bigint }>();

  add(type: StakeEvent['type'], data: StakeEvent['data']): void {
    const change = this.changes.get(data.synqerId) ?? { active: 0n, unstaking: 0n, withdrawn: 0n, slashed: 0n };
    const amount = BigInt((data as { amount: string }).amount);
    if (type === 'StakeDeposited') change.active += amount;
    if (type === 'UnstakeRequested') {
      change.active -= amount;
      change.unstaking += amount;
    }
    if (type === 'StakeWithdrawn') {
      change.unstaking -= amount;
      change.withdrawn += amount;
    }
    if (type === 'StakeSlashed') {
      // Active stake first, the rest from stake asked back but not withdrawn (domain/stake.ts).
      const fromActive = BigInt((data as { fromActive: string }).fromActive);
      change.active -= fromActive;
      change.unstaking -= amount - fromActive;
      change.slashed += amount;
    }
    this.changes.set(data.synqerId, change);
  }

  async flush(sql: ProjectionSql): Promise<void> {
    if (this.changes.size === 0) return;
    const rows = [...this.changes.entries()];
    this.changes.clear();
    await sql.query(
      `INSERT INTO stakes AS s (synqer_id, active, unstaking, withdrawn, slashed)
       SELECT * FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[])
       ON CONFLICT (synqer_id) DO UPDATE SET active = s.active + excluded.active, unstaking = s.unstaking + excluded.unstaking,
         withdrawn = s.withdrawn + excluded.withdrawn, slashed = s.slashed + excluded.slashed`,
      [
        rows.map(([id]) => id),
        rows.map(([, c]) => c.active.toString()),
        rows.map(([, c]) => c.unstaking.toString()),
        rows.map(([, c]) => c.withdrawn.toString()),
        rows.map(([, c]) => c.slashed.toString()),
      ],
    );
  }
}

async function applyOne(event: RecordedEvent, context: ProjectionContext, cutOffs: Map<number, bigint>): Promise<void> {
  const { sql } = context;
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case 'PayoutWalletChanged': {
      const changed = data as Extract<SynqerEvent, { type: 'PayoutWalletChanged' }>['data'];
      await sql.query(`UPDATE synqers SET wallets = wallets || $2::jsonb WHERE synqer_id = $1`, [
        changed.synqerId,
        JSON.stringify([{ payoutWallet: changed.payoutWallet, fromEpoch: changed.effectiveFromEpoch }]),
      ]);
      return;
    }
    case 'ReportingKeyRotated': {
      const rotated = data as Extract<SynqerEvent, { type: 'ReportingKeyRotated' }>['data'];
      await sql.query(`UPDATE synqers SET reporting_key = $2 WHERE synqer_id = $1`, [rotated.synqerId, rotated.reportingKey]);
      return;
    }
    case 'SynqerSuspended':
    case 'SynqerReinstated':
      await sql.query(`UPDATE synqers SET status = $2 WHERE synqer_id = $1`, [data.synqerId, event.type === 'SynqerSuspended' ? 'suspended' : 'active']);
      return;
    case 'EpochOpened': {
      const opened = data as Extract<NetworkEvent, { type: 'EpochOpened' }>['data'];
      await sql.query(`INSERT INTO epochs (epoch, start_s, end_s, reward_pool, status) VALUES ($1, $2, $3, $4, 'open')`, [
        opened.epoch,
        Date.parse(opened.start) / 1000,
        Date.parse(opened.end) / 1000,
        opened.rewardPool,
      ]);
      return;
    }
    case 'PolicyAdopted': {
      const policy = data as unknown as Policy;
      await sql.query(`INSERT INTO policies (version, effective_from_epoch, policy) VALUES ($1, $2, $3)`, [
        policy.version,
        policy.effectiveFromEpoch,
        JSON.stringify(policy),
      ]);
      return;
    }
    case 'EpochPoolReturned':
      await sql.query(`UPDATE epochs SET pool_returned = $2 WHERE epoch = $1`, [data.epoch, data.amount]);
      return;
    case 'EpochClosed':
      return closeEpoch(event, context, cutOffs);
    case 'EpochRewardsCalculated':
      return checkRecordedRewards(sql, data as unknown as RewardsCalculated);
    case 'EpochDistributionBuilt':
      return checkRecordedDistribution(sql, data as unknown as DistributionBuilt);
    case 'UnclaimedRewardsCarried': {
      const carried = data as unknown as UnclaimedRewardsCarried;
      const entries = carried.entries.filter((entry) => BigInt(entry.amount) > 0n);
      if (entries.length === 0) return;
      await sql.query(
        `INSERT INTO carried_balances AS c (wallet, amount) SELECT * FROM unnest($1::text[], $2::numeric[])
         ON CONFLICT (wallet) DO UPDATE SET amount = c.amount + excluded.amount`,
        [entries.map((entry) => entry.wallet), entries.map((entry) => entry.amount)],
      );
      return;
    }
  }
}

/**
 * The epoch closes: reports recorded between its cut-off and this event were counted when they were met (the close
 * was not known yet) and are taken out again; then its rewards are calculated and its distribution built.
 */
async function closeEpoch(event: RecordedEvent, context: ProjectionContext, cutOffs: Map<number, bigint>): Promise<void> {
  const { sql, history } = context;
  const stopwatch = await CloseStopwatch.start(sql);
  const closed = event.data as Extract<NetworkEvent, { type: 'EpochClosed' }>['data'];
  const cutOff = cutOffOf(closed, event.position);
  const late = new MetricTotals();
  // Reports between the cut-off and the close were counted when met if their key was in force then: the keys at each
  // report are those in the table now with the rotations recorded after it undone (walking back from the close).
  const between: RecordedEvent[] = [];
  for await (const recorded of history.readAll({ after: cutOff })) {
    if (recorded.position >= event.position) break;
    if (recorded.type === 'MetricReportAccepted' || recorded.type === 'ReportingKeyRotated') between.push(recorded);
  }
  const keysNow = new KeysInForce();
  const undone = new Map<string, string>();
  for (let i = between.length - 1; i >= 0; i--) {
    const recorded = between[i];
    if (recorded.type === 'ReportingKeyRotated') {
      const rotated = recorded.data as Extract<SynqerEvent, { type: 'ReportingKeyRotated' }>['data'];
      undone.set(rotated.synqerId, rotated.previousKey);
      continue;
    }
    const report = recorded.data as unknown as MetricReport & { reportingKey?: string };
    if (report.epoch !== closed.epoch) continue;
    const counted =
      report.reportingKey === undefined ||
      (undone.has(report.synqerId) ? undone.get(report.synqerId) === report.reportingKey : await keysNow.signedByKeyInForce(sql, report));
    if (counted) late.add(report, -1n);
  }
  await late.flush(sql);
  await sql.query(`UPDATE epochs SET status = 'closed', cut_off_position = $2, closed_position = $3 WHERE epoch = $1`, [
    closed.epoch,
    cutOff.toString(),
    event.position.toString(),
  ]);
  cutOffs.set(closed.epoch, cutOff);
  stopwatch.lap('late reports');

  await calculateAndDistribute(context, closed.epoch, stopwatch);
  stopwatch.done(closed.epoch);
}

async function checkRecordedRewards(sql: ProjectionSql, recorded: RewardsCalculated): Promise<void> {
  const { rows } = await sql.query<{ digest: string | null }>('SELECT digest FROM epochs WHERE epoch = $1', [recorded.epoch]);
  if (rows[0]?.digest !== recorded.digest) {
    throw new Error(`epoch ${recorded.epoch}: the recorded rewards digest ${recorded.digest} is not the one these books give (${rows[0]?.digest ?? 'none'})`);
  }
  await sql.query('UPDATE epochs SET rewards_recorded = true WHERE epoch = $1', [recorded.epoch]);
}

async function checkRecordedDistribution(sql: ProjectionSql, recorded: DistributionBuilt): Promise<void> {
  const { rows } = await sql.query<{ root: string | null; carried_in: string | null; carried_out: string | null }>(
    'SELECT root, carried_in::text AS carried_in, carried_out::text AS carried_out FROM epochs WHERE epoch = $1',
    [recorded.epoch],
  );
  if (rows[0]?.root !== recorded.root) {
    throw new Error(`epoch ${recorded.epoch}: the recorded distribution root ${recorded.root} is not the one these books give (${rows[0]?.root ?? 'none'})`);
  }
  const carried = (value: string | null | undefined) => value ?? '0';
  if (carried(rows[0].carried_in) !== carried(recorded.carriedIn) || carried(rows[0].carried_out) !== carried(recorded.carriedOut)) {
    throw new Error(
      `epoch ${recorded.epoch}: the recorded distribution carries in ${carried(recorded.carriedIn)} and out ${carried(recorded.carriedOut)}, these books ${carried(rows[0].carried_in)} and ${carried(rows[0].carried_out)}`,
    );
  }
  await sql.query('UPDATE epochs SET distribution_recorded = true WHERE epoch = $1', [recorded.epoch]);
}
