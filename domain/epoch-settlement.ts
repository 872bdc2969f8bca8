import { entriesTotal, type RewardsCarriedForward } from './carry';
import type { Decider } from './decider';
import { reject } from './rejection';

/**
 * What closing an epoch records, step by step, on the epoch's own stream (`epoch-<n>`), after `EpochClosed` on the
 * network ledger: the rewards calculated (their digest, never the per-synqer list: that is re-derived from the log),
 * then the Merkle distribution built (its root). Each step is recorded once; repeating a step that is done with the
 * same outcome is a no-op, with another outcome a conflict (the books would disagree with themselves).
 *
 * A distribution that carries rewards (domain/carry.ts) records its carried totals in `EpochDistributionBuilt` and
 * the per-wallet entries in `RewardsCarriedForward`, in the same append: the distribution event keeps the fixed
 * shape the distributor account and the settlement plan read, and the entries (one per dust wallet, possibly many)
 * are only folded by those who replay carries. A distribution with no carry and no minimum records neither, so logs
 * from before carries replay as they were.
 */

export const DISTRIBUTION_FORMAT = 'jito-merkle-distributor/v1';

export interface RewardsCalculated {
  epoch: number;
  policyVersion: number;
  cutOffPosition: string;
  pool: string;
  paid: string;
  returnedToTreasury: string;
  synqers: number;
  eligible: number;
  ineligible: number;
  bytes: string;
  sessions: string;
  totalWeight: string;
  /** SHA-256 of the canonical per-synqer result list (domain/rewards.ts, canonicalRewardsText). */
  digest: string;
}

export interface DistributionBuilt {
  epoch: number;
  format: typeof DISTRIBUTION_FORMAT;
  /** hex */
  root: string;
  leafCount: number;
  total: string;
  /** What Jito's distributor account is created with. */
  maxTotalClaim: string;
  maxNumNodes: number;
  /** Outstanding balances paid in these leaves, and payouts below the minimum left outstanding (set when a minimum
   * payout is in force or anything is carried): total = rewards paid + carriedIn − carriedOut. */
  carriedIn?: string;
  carriedOut?: string;
}

export type EpochSettlementEvent =
  | { type: 'EpochRewardsCalculated'; data: RewardsCalculated }
  | { type: 'EpochDistributionBuilt'; data: DistributionBuilt }
  | { type: 'RewardsCarriedForward'; data: RewardsCarriedForward };

export interface EpochSettlementState {
  rewards?: RewardsCalculated;
  distribution?: DistributionBuilt;
  carried?: RewardsCarriedForward;
}

export const epochStream = (epoch: number) => `epoch-${epoch}`;
export const initialEpochSettlement = (): EpochSettlementState => ({});

export function evolveEpochSettlement(state: EpochSettlementState, event: EpochSettlementEvent): EpochSettlementState {
  switch (event.type) {
    case 'EpochRewardsCalculated':
      return { ...state, rewards: event.data };
    case 'EpochDistributionBuilt':
      return { ...state, distribution: event.data };
    case 'RewardsCarriedForward':
      return { ...state, carried: event.data };
  }
}

export function recordRewards(state: EpochSettlementState, calculated: RewardsCalculated): EpochSettlementEvent[] {
  if (state.rewards) {
    if (state.rewards.digest === calculated.digest) return [];
    reject('conflict', 'digest', `epoch ${calculated.epoch}'s rewards are recorded with digest ${state.rewards.digest}, not ${calculated.digest}`);
  }
  return [{ type: 'EpochRewardsCalculated', data: calculated }];
}

/** `carried`: the distribution's per-wallet carries, when it has any (their totals are `built`'s carriedIn and carriedOut). */
export function recordDistribution(state: EpochSettlementState, built: DistributionBuilt, carried?: RewardsCarriedForward): EpochSettlementEvent[] {
  if (!state.rewards) reject('conflict', 'epoch', `epoch ${built.epoch}'s rewards are not calculated yet`);
  const carriedIn = BigInt(built.carriedIn ?? '0');
  const carriedOut = BigInt(built.carriedOut ?? '0');
  // The leaves pay the rewards, plus what earlier epochs carried into them, less what this one carries out.
  const owed = BigInt(state.rewards.paid) + carriedIn - carriedOut;
  if (BigInt(built.total) !== owed) {
    const carries = carriedIn > 0n || carriedOut > 0n ? ` + carried in ${carriedIn} − carried out ${carriedOut}` : '';
    reject('conflict', 'total', `the distribution pays ${built.total}, the rewards ${state.rewards.paid}${carries}`);
  }
  if (carried ? entriesTotal(carried.carriedIn) !== carriedIn || entriesTotal(carried.carriedOut) !== carriedOut : carriedIn > 0n || carriedOut > 0n) {
    reject('conflict', 'carried', `epoch ${built.epoch}'s carried entries do not add up to carried in ${carriedIn} and carried out ${carriedOut}`);
  }
  if (state.distribution) {
    if (state.distribution.root === built.root) return [];
    reject('conflict', 'root', `epoch ${built.epoch}'s distribution is recorded with root ${state.distribution.root}, not ${built.root}`);
  }
  const events: EpochSettlementEvent[] = [{ type: 'EpochDistributionBuilt', data: built }];
  if (carried) events.push({ type: 'RewardsCarriedForward', data: carried });
  return events;
}

export type EpochSettlementCommand =
  { type: 'RecordRewards'; data: RewardsCalculated } | { type: 'RecordDistribution'; data: DistributionBuilt; carried?: RewardsCarriedForward };

/** What closing an epoch recorded, by the epoch's number: `epoch-<n>`. */
export const epochSettlementDecider: Decider<EpochSettlementState, EpochSettlementEvent, EpochSettlementCommand, number> = {
  streamOf: epochStream,
  initial: initialEpochSettlement,
  evolve: evolveEpochSettlement,
  decide(command, state) {
    switch (command.type) {
      case 'RecordRewards':
        return recordRewards(state, command.data);
      case 'RecordDistribution':
        return recordDistribution(state, command.data, command.carried);
    }
  },
};
