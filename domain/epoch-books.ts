import { addCarried, carryForward, type CarryOutcome, type Outstanding, type UnclaimedRewardsCarried } from './carry';
import type { Payout } from './merkle-distribution';
import type { MetricReport, MetricReportEvent } from './metric-report';
import { cutOffOf, type NetworkEvent } from './network';
import { claimPolicy, policyFor, type Policy } from './policy';
import { addReport, emptyTotals, type RewardInput, type RewardRequest, type SynqerTotals } from './rewards';
import type { StakeEvent } from './stake';
import { payoutWalletFor, type SynqerEvent } from './synqer';

/**
 * The books an epoch is settled from, as a replay of the event log in global order. This is the specification of what
 * enters the reward calculation; the `settlement` projection keeps the same books in PostgreSQL, and the audit replays
 * this module to check it.
 *
 * - A metric report counts for its epoch when it was recorded at or before the epoch's cut-off position (reports
 *   recorded after it lost the race with the close and are voided), and when the key that verified it is the synqer's
 *   reporting key in force at its position (a report in flight during a key rotation, recorded after it, is voided).
 * - Everything else is taken "at close": as the log stands just before the epoch's `EpochClosed` event. A synqer is
 *   suspended or not, its payout wallet is the one in force for the epoch, its active stake excludes stake asked back
 *   and stake slashed.
 * - The pool is the epoch's reward pool, the length its end minus its start, the policy the version in force for it.
 * - Carried rewards (domain/carry.ts) enter an epoch's leaves as they are outstanding at its `EpochClosed`: earlier
 *   epochs' payouts below their minimum, and unclaimed leaves carried (`UnclaimedRewardsCarried`) before it.
 */

export interface LoggedEvent {
  stream: string;
  type: string;
  data: unknown;
  position: bigint;
}

interface SynqerBook {
  /** The reporting key in force at this point of the replay. */
  reportingKey?: string;
  suspended: boolean;
  wallets: { payoutWallet: string; fromEpoch: number }[];
}

interface EpochBook {
  start: number;
  end: number;
  pool: bigint;
  closed?: { cutOff: bigint; at: bigint; request: RewardRequest };
}

export interface EpochBooks {
  synqers: Map<string, SynqerBook>;
  activeStake: Map<string, bigint>;
  /** epoch → synqer → totals of the reports that count (so far). */
  totals: Map<number, Map<string, SynqerTotals>>;
  epochs: Map<number, EpochBook>;
  policies: Policy[];
  /** epoch → cut-off position, for every epoch closed anywhere in the log (read from the network ledger first). */
  cutOffs: ReadonlyMap<number, bigint>;
  /** Unclaimed leaves carried, in log order, where they were recorded. */
  unclaimed: { position: bigint; carried: UnclaimedRewardsCarried }[];
}

/** `cutOffs`: each closed epoch's cut-off, known before the replay starts, so a report is judged when it is met. */
export function openBooks(cutOffs: ReadonlyMap<number, bigint>): EpochBooks {
  return { synqers: new Map(), activeStake: new Map(), totals: new Map(), epochs: new Map(), policies: [], cutOffs, unclaimed: [] };
}

/** The cut-off of every epoch closed in the given network ledger events (`cutOffOf`: just before its EpochClosed). */
export function cutOffsOf(ledger: readonly { type: string; data: unknown; position: bigint }[]): Map<number, bigint> {
  const cutOffs = new Map<number, bigint>();
  for (const event of ledger) {
    if (event.type === 'EpochClosed') {
      const data = event.data as Extract<NetworkEvent, { type: 'EpochClosed' }>['data'];
      cutOffs.set(data.epoch, cutOffOf(data, event.position));
    }
  }
  return cutOffs;
}

/**
 * Takes one event of the log, in global order. The books are extended in place (a replay of millions of events would
 * otherwise copy them for each one). Events that do not concern the books are ignored.
 */
export function record(books: EpochBooks, event: LoggedEvent): void {
  switch (event.type) {
    case 'SynqerRegistered': {
      const data = event.data as Extract<SynqerEvent, { type: 'SynqerRegistered' }>['data'];
      books.synqers.set(data.synqerId, { reportingKey: data.reportingKey, suspended: false, wallets: [{ payoutWallet: data.payoutWallet, fromEpoch: 0 }] });
      return;
    }
    case 'ReportingKeyRotated': {
      const data = event.data as Extract<SynqerEvent, { type: 'ReportingKeyRotated' }>['data'];
      const synqer = books.synqers.get(data.synqerId);
      if (synqer) synqer.reportingKey = data.reportingKey;
      return;
    }
    case 'PayoutWalletChanged': {
      const data = event.data as Extract<SynqerEvent, { type: 'PayoutWalletChanged' }>['data'];
      books.synqers.get(data.synqerId)?.wallets.push({ payoutWallet: data.payoutWallet, fromEpoch: data.effectiveFromEpoch });
      return;
    }
    case 'SynqerSuspended':
    case 'SynqerReinstated': {
      const synqer = books.synqers.get((event.data as { synqerId: string }).synqerId);
      if (synqer) synqer.suspended = event.type === 'SynqerSuspended';
      return;
    }
    case 'StakeDeposited':
    case 'UnstakeRequested':
    case 'StakeSlashed':
      return recordStake(books, event.data as StakeEvent['data'], event.type);
    case 'MetricReportAccepted': {
      const report = event.data as Extract<MetricReportEvent, { type: 'MetricReportAccepted' }>['data'];
      if (!reportCounts(books, report.epoch, event.position) || !signedByKeyInForce(books, report)) return;
      const perSynqer = books.totals.get(report.epoch) ?? new Map<string, SynqerTotals>();
      books.totals.set(report.epoch, perSynqer);
      perSynqer.set(report.synqerId, addReport(perSynqer.get(report.synqerId) ?? emptyTotals(), reportFigures(report)));
      return;
    }
    case 'EpochOpened': {
      const data = event.data as Extract<NetworkEvent, { type: 'EpochOpened' }>['data'];
      books.epochs.set(data.epoch, { start: Date.parse(data.start) / 1000, end: Date.parse(data.end) / 1000, pool: BigInt(data.rewardPool) });
      return;
    }
    case 'PolicyAdopted':
      books.policies.push(event.data as Policy);
      return;
    case 'EpochClosed': {
      const data = event.data as Extract<NetworkEvent, { type: 'EpochClosed' }>['data'];
      const epoch = books.epochs.get(data.epoch);
      if (epoch) epoch.closed = { cutOff: cutOffOf(data, event.position), at: event.position, request: rewardRequestAtClose(books, data.epoch, epoch) };
      return;
    }
    case 'UnclaimedRewardsCarried':
      books.unclaimed.push({ position: event.position, carried: event.data as UnclaimedRewardsCarried });
      return;
  }
}

/**
 * Each closed epoch's carries, folded in log order: at each close, `carryForward` of its payouts (`payoutsOf`, from its
 * reward calculation) over the balances outstanding then; between closes, the unclaimed leaves carried. An epoch
 * without a minimum pays off every balance whatever its payouts, so the payouts of one not in `wanted` are not asked
 * for (a single-epoch audit need not recalculate every earlier epoch); all are when `wanted` is not given.
 */
export function carriesAtCloses(
  books: EpochBooks,
  payoutsOf: (epoch: number, request: RewardRequest) => readonly Payout[],
  wanted?: ReadonlySet<number>,
): Map<number, CarryOutcome> {
  const closes = [...books.epochs.entries()]
    .flatMap(([epoch, book]) => (book.closed ? [{ epoch, at: book.closed.at, request: book.closed.request }] : []))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const outcomes = new Map<number, CarryOutcome>();
  let outstanding: Outstanding = new Map();
  let next = 0;
  for (const close of closes) {
    for (; next < books.unclaimed.length && books.unclaimed[next].position < close.at; next++)
      outstanding = addCarried(outstanding, books.unclaimed[next].carried);
    const { minimumPayout: minimum } = claimPolicy(close.request.policy);
    if (minimum === 0n && wanted !== undefined && !wanted.has(close.epoch)) {
      outstanding = new Map();
      continue;
    }
    const outcome = carryForward(payoutsOf(close.epoch, close.request), outstanding, minimum);
    outcomes.set(close.epoch, outcome);
    outstanding = outcome.outstanding;
  }
  return outcomes;
}

/** A report counts unless its epoch was closed with a cut-off before it. */
export function reportCounts(books: Pick<EpochBooks, 'cutOffs'>, epoch: number, position: bigint): boolean {
  const cutOff = books.cutOffs.get(epoch);
  return cutOff === undefined || position <= cutOff;
}

/**
 * A report counts only if the key that verified it is the synqer's key in force where it was recorded: one decided
 * with a key that a rotation had replaced by the time it was appended (in flight during the rotation) never counts.
 * Reports recorded before rotations existed name no key and were judged by the only key there was.
 */
export function signedByKeyInForce(books: Pick<EpochBooks, 'synqers'>, report: { synqerId: string; reportingKey?: string }): boolean {
  return report.reportingKey === undefined || books.synqers.get(report.synqerId)?.reportingKey === report.reportingKey;
}

export function reportFigures(report: Pick<MetricReport, 'bytes' | 'sessions' | 'uptimeSeconds' | 'qosBps'>) {
  return { bytes: BigInt(report.bytes), sessions: BigInt(report.sessions), uptimeSeconds: BigInt(report.uptimeSeconds), qosBps: BigInt(report.qosBps) };
}

function recordStake(books: EpochBooks, data: StakeEvent['data'], type: StakeEvent['type']): void {
  const active = books.activeStake.get(data.synqerId) ?? 0n;
  if (type === 'StakeDeposited') books.activeStake.set(data.synqerId, active + BigInt((data as { amount: string }).amount));
  if (type === 'UnstakeRequested') books.activeStake.set(data.synqerId, active - BigInt((data as { amount: string }).amount));
  if (type === 'StakeSlashed') books.activeStake.set(data.synqerId, active - BigInt((data as { fromActive: string }).fromActive));
}

/** What the reward calculation of `epoch` is given, as the books stand now (at its close). */
function rewardRequestAtClose(books: EpochBooks, epochNumber: number, epoch: EpochBook): RewardRequest {
  const synqers: RewardInput[] = [];
  for (const [synqerId, totals] of books.totals.get(epochNumber) ?? []) {
    const synqer = books.synqers.get(synqerId);
    synqers.push({
      synqerId,
      payoutWallet: synqer ? payoutWalletFor(synqer, epochNumber) : null,
      suspended: synqer?.suspended ?? false,
      activeStake: books.activeStake.get(synqerId) ?? 0n,
      totals,
    });
  }
  return { epoch: epochNumber, lengthSeconds: BigInt(epoch.end - epoch.start), pool: epoch.pool, policy: policyFor(books.policies, epochNumber), synqers };
}

/** The reward calculation's input for a closed epoch, or undefined while it is open. */
export const closedEpochRequest = (books: EpochBooks, epoch: number): RewardRequest | undefined => books.epochs.get(epoch)?.closed?.request;
