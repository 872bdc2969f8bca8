import type { Decider } from './decider';
import { reject } from './rejection';

/**
 * What closing an epoch records, step by step, on the epoch's own stream (`epoch-<n>`), after `EpochClosed` on the
 * network ledger: the rewards calculated (their digest, never the per-synqer list: that is re-derived from the log),
 * then the Merkle distribution built (its root). Each step is recorded once; repeating a step that is done with the
 * same outcome is a no-op, with another outcome a conflict (the books would disagree with themselves).
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
}

export type EpochSettlementEvent = { type: 'EpochRewardsCalculated'; data: RewardsCalculated } | { type: 'EpochDistributionBuilt'; data: DistributionBuilt };

export interface EpochSettlementState {
  rewards?: RewardsCalculated;
  distribution?: DistributionBuilt;
}

export const epochStream = (epoch: number) => `epoch-${epoch}`;
export const initialEpochSettlement = (): EpochSettlementState => ({});

export function evolveEpochSettlement(state: EpochSettlementState, event: EpochSettlementEvent): EpochSettlementState {
  return event.type === 'EpochRewardsCalculated' ? { ...state, rewards: event.data } : { ...state, distribution: event.data };
}

export function recordRewards(state: EpochSettlementState, calculated: RewardsCalculated): EpochSettlementEvent[] {
  if (state.rewards) {
    if (state.rewards.digest === calculated.digest) return [];
    reject('conflict', 'digest', `epoch ${calculated.epoch}'s rewards are recorded with digest ${state.rewards.digest}, not ${calculated.digest}`);
  }
  return [{ type: 'EpochRewardsCalculated', data: calculated }];
}

export function recordDistribution(state: EpochSettlementState, built: DistributionBuilt): EpochSettlementEvent[] {
  if (!state.rewards) reject('conflict', 'epoch', `epoch ${built.epoch}'s rewards are not calculated yet`);
  if (built.total !== state.rewards.paid) reject('conflict', 'total', `the distribution pays ${built.total}, the rewards ${state.rewards.paid}`);
  if (state.distribution) {
    if (state.distribution.root === built.root) return [];
    reject('conflict', 'root', `epoch ${built.epoch}'s distribution is recorded with root ${state.distribution.root}, not ${built.root}`);
  }
  return [{ type: 'EpochDistributionBuilt', data: built }];
}

export type EpochSettlementCommand = { type: 'RecordRewards'; data: RewardsCalculated } | { type: 'RecordDistribution'; data: DistributionBuilt };

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
        return recordDistribution(state, command.data);
    }
  },
};
