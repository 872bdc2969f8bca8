import { carriedForwardEvent, inKeyOrder, rewardPayouts, type CarryOutcome, type RewardsCarriedForward } from '../../domain/carry';
import { carriesAtCloses, closedEpochRequest, cutOffsOf, openBooks, record } from '../../domain/epoch-books';
import { epochSettlementDecider, type DistributionBuilt, type RewardsCalculated } from '../../domain/epoch-settlement';
import { buildDistribution, type Distribution } from '../../domain/merkle-distribution';
import { NETWORK_STREAM } from '../../domain/network';
import { claimPolicy } from '../../domain/policy';
import { calculateRewards, compareIds, type RewardCalculation, type RewardRequest, type SynqerReward } from '../../domain/rewards';
import { EMPTY_ROOT, SETTLEMENT, settlementQueries, type RowAsText } from '../../projections/settlement';
import { load } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { ProjectionNotReadyError, type ProjectionReader } from '../projections/projection-reader';

/**
 * The auditor's replay. Reads the event log from the beginning (through the EventStore contract only, so it works with
 * either engine), rebuilds each closed epoch's books in memory with domain/epoch-books.ts, recalculates its rewards,
 * digest and Merkle distribution, and compares them with what was recorded: the `EpochRewardsCalculated` and
 * `EpochDistributionBuilt` events on `epoch-<n>`, and the `settlement` projection's tables. Nothing is written, so a
 * read-only database role is enough (SELECT on the events table and its position sequence, projection_state and the
 * settlement schema).
 *
 * The replay is bounded by the log's last position taken at the start: the network ledger is read first (every closed
 * epoch's cut-off, `cutOffsOf`), then `readAll` in global order up to that position, so an epoch closed while the
 * audit runs is neither half-seen nor judged with a cut-off the replay did not know.
 */

export type AuditStatus = 'match' | 'mismatch' | 'incomplete';

export interface AuditMismatch {
  source: 'events' | 'projection';
  /** Events: the event type compared; projection: the table. */
  event?: 'EpochRewardsCalculated' | 'EpochDistributionBuilt' | 'RewardsCarriedForward';
  table?: 'epochs' | 'rewards' | 'distribution_leaves' | 'distribution_nodes' | 'carries';
  /** An event field or a column; `row` when a whole row is missing or extra. */
  field: string;
  synqerId?: string;
  wallet?: string;
  /** What the replay gives; null when nothing is expected (an extra row). Amounts are decimal strings. */
  expected: string | null;
  /** What is recorded; null when it is missing. */
  found: string | null;
  /** For a table compared row by row: how many rows differ this way (the one shown is the first). */
  rows?: number;
}

export interface EpochAudit {
  epoch: number;
  status: AuditStatus;
  /** The replay's figures. */
  digest: string;
  root: string;
  paid: string;
  synqers: number;
  leafCount: number;
  mismatches: AuditMismatch[];
  /** Why an epoch is incomplete (what is not recorded yet); empty otherwise. */
  notes: string[];
}

export interface AuditReport {
  generatedAt: string;
  eventsRead: number;
  /** Global position of the last event replayed ('0' for an empty log). */
  lastPosition: string;
  epochs: EpochAudit[];
  /** No epoch is a mismatch (an incomplete epoch is not one). */
  ok: boolean;
}

export interface AuditProgress {
  eventsRead: number;
  /** Global position of the last event replayed. */
  position: bigint;
  /** Where the replay stops. */
  until: bigint;
}

export interface AuditOptions {
  /** Audit this closed epoch only (the replay then stops at its close). */
  epoch?: number;
  /** Called every few thousand events and once at the end of the replay. */
  onProgress?: (progress: AuditProgress) => void;
}

/** `run({ epoch })` for an epoch the log never closed. */
export class EpochNeverClosedError extends Error {
  constructor(readonly epoch: number) {
    super(`epoch ${epoch} was never closed`);
    this.name = 'EpochNeverClosedError';
  }
}

const PROJECTION = SETTLEMENT;
const PROGRESS_EVERY = 8_192;

type Row = RowAsText;

export interface AuditDependencies {
  store: EventStore;
  /** Reads the settlement projection's tables (a read-only database role is enough). */
  reader: ProjectionReader;
}

/** The audit, composed once: for the engine (AuditModule: GET /audit/epochs/{n}) and `synq audit` alike. */
export function createAudit(deps: AuditDependencies): Audit {
  return new Audit(deps.store, deps.reader);
}

export class Audit {
  private readonly pageRows: number;

  constructor(
    private readonly store: EventStore,
    private readonly reader: ProjectionReader,
    options: { pageRows?: number } = {},
  ) {
    this.pageRows = options.pageRows ?? 50_000;
  }

  async run(options: AuditOptions = {}): Promise<AuditReport> {
    const head = await this.store.lastPosition();
    const ledger: { type: string; data: unknown; position: bigint }[] = [];
    for await (const event of this.store.readStream(NETWORK_STREAM)) {
      if (event.position <= head) ledger.push(event);
    }
    const closedAt = new Map<number, bigint>();
    for (const event of ledger) if (event.type === 'EpochClosed') closedAt.set((event.data as { epoch: number }).epoch, event.position);
    if (options.epoch !== undefined && !closedAt.has(options.epoch)) throw new EpochNeverClosedError(options.epoch);
    const epochs = options.epoch !== undefined ? [options.epoch] : [...closedAt.keys()].sort((a, b) => a - b);
    const until = options.epoch !== undefined ? closedAt.get(options.epoch)! : head;

    // The replay: one pass in global order, the books extended in place; nothing awaited but the store's own paging.
    const books = openBooks(cutOffsOf(ledger));
    const onProgress = options.onProgress;
    let eventsRead = 0;
    let position = 0n;
    if (until > 0n) {
      for await (const event of this.store.readAll()) {
        if (event.position > until) break;
        record(books, event);
        eventsRead++;
        position = event.position;
        if (onProgress !== undefined && eventsRead % PROGRESS_EVERY === 0) onProgress({ eventsRead, position, until });
        if (position === until) break;
      }
    }
    onProgress?.({ eventsRead, position, until });

    // Carries run through the closes in log order: an epoch's leaves depend on what the epochs before it carried.
    const calculations = new Map<number, RewardCalculation>();
    const calculationOf = (epoch: number, request: RewardRequest) => {
      const known = calculations.get(epoch) ?? calculateRewards(request);
      calculations.set(epoch, known);
      return known;
    };
    const carries = carriesAtCloses(books, (epoch, request) => rewardPayouts(calculationOf(epoch, request).results), new Set(epochs));

    const projectionPosition = await this.projectionPosition();
    const results: EpochAudit[] = [];
    for (const epoch of epochs) {
      const request = closedEpochRequest(books, epoch);
      const cutOff = books.epochs.get(epoch)?.closed?.cutOff;
      if (request === undefined || cutOff === undefined) {
        // Closed on the ledger but never opened there: nothing to calculate.
        results.push({
          epoch,
          status: 'mismatch',
          digest: '',
          root: '',
          paid: '0',
          synqers: 0,
          leafCount: 0,
          notes: [],
          mismatches: [{ source: 'events', field: 'EpochOpened', expected: 'recorded before EpochClosed', found: null }],
        });
        continue;
      }
      const calculation = calculationOf(epoch, request);
      const carried = carries.get(epoch)!;
      const minimum = claimPolicy(request.policy).minimumPayout;
      results.push(await this.auditEpoch(epoch, calculation, carried, minimum > 0n, cutOff, closedAt.get(epoch)!, projectionPosition));
    }
    return {
      generatedAt: new Date().toISOString(),
      eventsRead,
      lastPosition: position.toString(),
      epochs: results,
      ok: results.every((result) => result.status !== 'mismatch'),
    };
  }

  private async auditEpoch(
    epoch: number,
    calculation: RewardCalculation,
    carried: CarryOutcome,
    minimumInForce: boolean,
    cutOff: bigint,
    closedAt: bigint,
    projectionPosition: bigint | undefined,
  ): Promise<EpochAudit> {
    const distribution = carried.leaves.length > 0 ? buildDistribution(carried.leaves) : undefined;
    const carriedForward = carriedForwardEvent(epoch, carried);
    const expected: Expected = {
      epoch,
      calculation,
      cutOff,
      distribution,
      root: distribution?.rootHex ?? EMPTY_ROOT,
      leafCount: distribution?.leafCount ?? 0,
      total: distribution?.total ?? 0n,
      // Recorded only where a minimum was in force or something was carried.
      carriedIn: minimumInForce || carriedForward ? carried.carriedInTotal.toString() : null,
      carriedOut: minimumInForce || carriedForward ? carried.carriedOutTotal.toString() : null,
      carriedForward,
    };
    const mismatches: AuditMismatch[] = [];
    const notes: string[] = [];

    const { rewards, built, carriedRecorded } = await this.recordedSettlement(epoch);
    if (rewards) mismatches.push(...compareRewardsEvent(expected, rewards));
    else notes.push('the EpochRewardsCalculated event is not recorded yet');
    if (built) {
      mismatches.push(...compareDistributionEvent(expected, built));
      mismatches.push(...compareCarries(expected.carriedForward, carriedRecorded, { source: 'events', event: 'RewardsCarriedForward' }));
    } else notes.push('the EpochDistributionBuilt event is not recorded yet');

    if (projectionPosition === undefined) notes.push('the settlement projection is still being built for the first time');
    else if (projectionPosition < closedAt) notes.push(`the settlement projection is at position ${projectionPosition}, before the close at ${closedAt}`);
    else mismatches.push(...(await this.compareProjection(expected)));

    return {
      epoch,
      status: mismatches.length > 0 ? 'mismatch' : notes.length > 0 ? 'incomplete' : 'match',
      digest: calculation.digest,
      root: expected.root,
      paid: calculation.totals.paid.toString(),
      synqers: calculation.results.length,
      leafCount: expected.leafCount,
      mismatches,
      notes,
    };
  }

  private async recordedSettlement(
    epoch: number,
  ): Promise<{ rewards?: RewardsCalculated; built?: DistributionBuilt; carriedRecorded?: RewardsCarriedForward }> {
    const { state } = await load(this.store, epochSettlementDecider, epoch);
    return { rewards: state.rewards, built: state.distribution, carriedRecorded: state.carried };
  }

  /** How far the live generation of the settlement projection has applied the log; undefined before its first build. */
  private async projectionPosition(): Promise<bigint | undefined> {
    try {
      const rows = await this.reader.query<{ position: string }>(PROJECTION, () => 'SELECT position::text AS position FROM projection_state WHERE name = $1', [
        PROJECTION,
      ]);
      return rows.length > 0 ? BigInt(rows[0].position) : undefined;
    } catch (error) {
      if (error instanceof ProjectionNotReadyError) return undefined;
      throw error;
    }
  }

  private async compareProjection(expected: Expected): Promise<AuditMismatch[]> {
    return [
      ...(await this.compareEpochRow(expected)),
      ...(await this.compareRewardRows(expected)),
      ...(await this.compareLeafRows(expected)),
      ...(await this.compareRootChunk(expected)),
      ...(await this.compareCarryRows(expected)),
    ];
  }

  private async compareCarryRows(expected: Expected): Promise<AuditMismatch[]> {
    const { carriedIn, carriedOut } = await settlementQueries.epochCarries(this.reader, expected.epoch);
    const stored = carriedIn.length + carriedOut.length === 0 ? undefined : { epoch: expected.epoch, carriedIn, carriedOut };
    return compareCarries(expected.carriedForward, stored, { source: 'projection', table: 'carries' });
  }

  private async compareEpochRow(expected: Expected): Promise<AuditMismatch[]> {
    const { calculation: c, epoch } = expected;
    const row = await settlementQueries.epochRowAsText(this.reader, epoch);
    if (row === undefined) return [{ source: 'projection', table: 'epochs', field: 'row', expected: 'present', found: null }];
    const want: Row = {
      status: 'closed',
      reward_pool: c.totals.pool.toString(),
      cut_off_position: expected.cutOff.toString(),
      policy_version: String(c.policyVersion),
      synqers: String(c.results.length),
      eligible: String(c.totals.eligible),
      ineligible: String(c.totals.ineligible),
      bytes: c.totals.bytes.toString(),
      sessions: c.totals.sessions.toString(),
      total_weight: c.totals.totalWeight.toString(),
      paid: c.totals.paid.toString(),
      returned_to_treasury: c.totals.returnedToTreasury.toString(),
      digest: c.digest,
      root: expected.root,
      leaf_count: String(expected.leafCount),
      distribution_total: expected.total.toString(),
      carried_in: expected.carriedIn,
      carried_out: expected.carriedOut,
    };
    return differences(want, row).map(([field, wanted, found]) => ({ source: 'projection', table: 'epochs', field, expected: wanted, found }));
  }

  /** Every rewards row, in pages by synqer id; the first (smallest id) differing row, missing row and extra row are reported. */
  private async compareRewardRows(expected: Expected): Promise<AuditMismatch[]> {
    const pending = new Map<string, SynqerReward>();
    for (const result of expected.calculation.results) pending.set(result.synqerId, result);
    const differing = new FirstRow<string>(compareIds);
    const extra = new FirstRow<string>(compareIds);
    await this.pages(
      (after, limit) => settlementQueries.rewardRowsAsText(this.reader, expected.epoch, after, limit),
      'synqer_id',
      (row) => {
        const id = row.synqer_id!;
        const result = pending.get(id);
        if (result === undefined) return extra.offer(id, () => ({ field: 'row', expected: null, found: 'present' }));
        pending.delete(id);
        const difference = firstDifference(rewardRow(result), row);
        if (difference) differing.offer(id, () => ({ field: difference[0], expected: difference[1], found: difference[2] }));
      },
    );
    const missing = new FirstRow<string>(compareIds);
    for (const id of pending.keys()) missing.offer(id, () => ({ field: 'row', expected: 'present', found: null }));
    return [differing, missing, extra].flatMap((first) => first.mismatch((synqerId) => ({ source: 'projection', table: 'rewards', synqerId })));
  }

  /** Every distribution leaf, in pages by wallet; the first differing or missing leaf in tree order, the first extra by wallet. */
  private async compareLeafRows(expected: Expected): Promise<AuditMismatch[]> {
    const pending = new Map<string, Distribution['leaves'][number]>();
    for (const leaf of expected.distribution?.leaves ?? []) pending.set(leaf.wallet, leaf);
    const byIndex = (a: Distribution['leaves'][number], b: Distribution['leaves'][number]) => a.index - b.index;
    const differing = new FirstRow(byIndex);
    const extra = new FirstRow<string>(compareIds);
    await this.pages(
      (after, limit) => settlementQueries.leafRowsAsText(this.reader, expected.epoch, after, limit),
      'wallet',
      (row) => {
        const leaf = pending.get(row.wallet!);
        if (leaf === undefined) return extra.offer(row.wallet!, () => ({ field: 'row', expected: null, found: 'present' }));
        pending.delete(leaf.wallet);
        const difference = firstDifference({ leaf_index: String(leaf.index), amount: leaf.amount.toString(), leaf_hash: leaf.leafHash.toString('hex') }, row);
        if (difference) differing.offer(leaf, () => ({ field: difference[0], expected: difference[1], found: difference[2] }));
      },
    );
    const missing = new FirstRow(byIndex);
    for (const leaf of pending.values()) missing.offer(leaf, () => ({ field: 'row', expected: 'present', found: null }));
    return [
      ...differing.mismatch((leaf) => ({ source: 'projection', table: 'distribution_leaves', wallet: leaf.wallet })),
      ...missing.mismatch((leaf) => ({ source: 'projection', table: 'distribution_leaves', wallet: leaf.wallet })),
      ...extra.mismatch((wallet) => ({ source: 'projection', table: 'distribution_leaves', wallet })),
    ];
  }

  /** The stored top level: one chunk holding the root (none at all for an empty distribution). */
  private async compareRootChunk(expected: Expected): Promise<AuditMismatch[]> {
    const top = expected.distribution ? expected.distribution.levels.length - 1 : 0;
    const rows = await settlementQueries.treeChunksAsHex(this.reader, expected.epoch, top);
    const at = (row: { level: number; chunk: number }) => `level ${row.level} chunk ${row.chunk}`;
    const base = { source: 'projection', table: 'distribution_nodes' } as const;
    if (!expected.distribution) {
      return rows.length === 0 ? [] : [{ ...base, field: 'row', expected: null, found: `${at(rows[0])} (an epoch that paid nobody has no tree)` }];
    }
    const root = rows.find((row) => row.level === top && row.chunk === 0);
    const mismatches: AuditMismatch[] = [];
    if (!root) mismatches.push({ ...base, field: 'root', expected: expected.root, found: null });
    else if (root.hashes !== expected.root) mismatches.push({ ...base, field: 'root', expected: expected.root, found: root.hashes });
    const other = rows.find((row) => row !== root);
    if (other) mismatches.push({ ...base, field: 'row', expected: `level ${top} chunk 0 on top`, found: at(other) });
    return mismatches;
  }

  /** Keyset pages of `pageRows` rows ordered by `key` (the table's primary key order within the epoch). */
  private async pages(page: (after: string, limit: number) => Promise<Row[]>, key: string, each: (row: Row) => void): Promise<void> {
    let after = '';
    for (;;) {
      const rows = await page(after, this.pageRows);
      for (const row of rows) each(row);
      if (rows.length < this.pageRows) return;
      after = rows[rows.length - 1][key]!;
    }
  }
}

interface Expected {
  epoch: number;
  calculation: RewardCalculation;
  cutOff: bigint;
  distribution: Distribution | undefined;
  root: string;
  leafCount: number;
  total: bigint;
  carriedIn: string | null;
  carriedOut: string | null;
  carriedForward: RewardsCarriedForward | undefined;
}

function compareRewardsEvent(expected: Expected, recorded: RewardsCalculated): AuditMismatch[] {
  const { calculation: c } = expected;
  const want: Row = {
    digest: c.digest,
    paid: c.totals.paid.toString(),
    returnedToTreasury: c.totals.returnedToTreasury.toString(),
    synqers: String(c.results.length),
    eligible: String(c.totals.eligible),
    ineligible: String(c.totals.ineligible),
    policyVersion: String(c.policyVersion),
    cutOffPosition: expected.cutOff.toString(),
    pool: c.totals.pool.toString(),
    totalWeight: c.totals.totalWeight.toString(),
    bytes: c.totals.bytes.toString(),
    sessions: c.totals.sessions.toString(),
  };
  return differences(want, textOf(recorded)).map(([field, wanted, found]) => ({
    source: 'events',
    event: 'EpochRewardsCalculated',
    field,
    expected: wanted,
    found,
  }));
}

function compareDistributionEvent(expected: Expected, recorded: DistributionBuilt): AuditMismatch[] {
  const want: Row = {
    root: expected.root,
    leafCount: String(expected.leafCount),
    total: expected.total.toString(),
    maxTotalClaim: expected.total.toString(),
    maxNumNodes: String(expected.leafCount),
    carriedIn: expected.carriedIn,
    carriedOut: expected.carriedOut,
  };
  return differences(want, textOf(recorded)).map(([field, wanted, found]) => ({
    source: 'events',
    event: 'EpochDistributionBuilt',
    field,
    expected: wanted,
    found,
  }));
}

/** The first wallet carried otherwise than the replay carries it, in or out (entries compared in key byte order). */
function compareCarries(
  expected: RewardsCarriedForward | undefined,
  found: RewardsCarriedForward | undefined,
  where: Pick<AuditMismatch, 'source' | 'event' | 'table'>,
): AuditMismatch[] {
  const mismatches: AuditMismatch[] = [];
  for (const direction of ['carriedIn', 'carriedOut'] as const) {
    const want = expected?.[direction] ?? [];
    const got = inKeyOrder(found?.[direction] ?? [], (entry) => entry.wallet);
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      const [w, g] = [want[i], got[i]];
      if (w?.wallet === g?.wallet && w?.amount === g?.amount) continue;
      mismatches.push({
        ...where,
        field: direction,
        wallet: w?.wallet ?? g?.wallet,
        expected: w ? `${w.wallet} ${w.amount}` : null,
        found: g ? `${g.wallet} ${g.amount}` : null,
      });
      break;
    }
  }
  return mismatches;
}

/** An event's fields as text, as the projection's are (so one comparison serves both). */
function textOf(data: object): Row {
  const row: Row = {};
  for (const [field, value] of Object.entries(data)) row[field] = value === null || value === undefined ? null : String(value);
  return row;
}

/** The rewards row the projection should hold for a result, column by column, in the order they are reported. */
function rewardRow(r: SynqerReward): Row {
  return {
    reward: r.reward.toString(),
    weight: r.weight.toString(),
    eligible: String(r.eligible),
    reasons: r.reasons.join(','),
    payout_wallet: r.payoutWallet,
    bytes: r.bytes.toString(),
    sessions: r.sessions.toString(),
    uptime_seconds: r.uptimeSeconds.toString(),
    qos_bps: r.qosBps.toString(),
    active_stake: r.activeStake.toString(),
    uptime_bps: r.uptimeBps.toString(),
    stake_boost_bps: r.stakeBoostBps.toString(),
    work: r.work.toString(),
  };
}

function differences(want: Row, found: Row): [field: string, expected: string | null, found: string | null][] {
  const out: [string, string | null, string | null][] = [];
  for (const field in want) {
    const value = found[field] ?? null;
    if (value !== want[field]) out.push([field, want[field], value]);
  }
  return out;
}

function firstDifference(want: Row, found: Row): [string, string | null, string | null] | undefined {
  for (const field in want) {
    const value = found[field] ?? null;
    if (value !== want[field]) return [field, want[field], value];
  }
  return undefined;
}

/** Keeps the first (by `order`) of many rows differing one way, and how many there were. */
class FirstRow<K> {
  private first: { key: K; detail: Pick<AuditMismatch, 'field' | 'expected' | 'found'> } | undefined;
  private count = 0;

  constructor(private readonly order: (a: K, b: K) => number) {}

  offer(key: K, detail: () => Pick<AuditMismatch, 'field' | 'expected' | 'found'>): void {
    this.count++;
    if (this.first === undefined || this.order(key, this.first.key) < 0) this.first = { key, detail: detail() };
  }

  mismatch(where: (key: K) => Omit<AuditMismatch, 'field' | 'expected' | 'found'>): AuditMismatch[] {
    if (this.first === undefined) return [];
    return [{ ...where(this.first.key), ...this.first.detail, rows: this.count }];
  }
}
