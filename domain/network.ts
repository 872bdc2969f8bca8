import type { Decider } from './decider';
import { parsePolicyParameters, policyFor, type Policy } from './policy';
import { reject, repeatsRecorded } from './rejection';
import { Checks, toInstant, U64_MAX } from './values';

/**
 * The network ledger: treasury funding and the epoch calendar, in one stream (`network-ledger`) because opening an
 * epoch must see both at once: epochs are numbered without gaps, never overlap, and an epoch's reward pool must fit in
 * the treasury not yet allocated (the circuit breaker's first rule).
 */

export type NetworkEvent =
  | { type: 'TreasuryFunded'; data: { amount: string; reference: string } }
  | { type: 'EpochOpened'; data: { epoch: number; start: string; end: string; rewardPool: string } }
  /**
   * The cut-off is the position of this event itself: what was recorded before it counts for the epoch, nothing after
   * it does (`cutOffOf`). Closes recorded before issue 14 carry a `cutOffPosition` taken before they were appended.
   */
  | { type: 'EpochClosed'; data: { epoch: number; cutOffPosition?: string } }
  | { type: 'PolicyAdopted'; data: Policy }
  /** An epoch whose rewards had no weight to share pays nobody: its pool goes back to the unallocated treasury. */
  | { type: 'EpochPoolReturned'; data: { epoch: number; amount: string } }
  /**
   * A web3 epoch's rewards left unclaimed at its clawback, under the `return` policy (domain/clawback.ts): back in the
   * treasury and owed to nobody, so no longer allocated.
   */
  | { type: 'UnclaimedRewardsReleased'; data: { epoch: number; amount: string } };

export interface EpochInfo {
  epoch: number;
  /** Unix seconds, [start, end). */
  start: number;
  end: number;
  rewardPool: bigint;
  status: 'open' | 'closed';
  /** Global position of the last event that belongs to this epoch's books. */
  cutOffPosition?: bigint;
  /** Set when the epoch paid nobody and its pool went back to the treasury. */
  poolReturned?: bigint;
  /** Set when its unclaimed rewards were clawed back and released (the `return` policy). */
  unclaimedReleased?: bigint;
}

export interface NetworkState {
  funded: bigint;
  allocated: bigint;
  fundings: Map<string, bigint>;
  epochs: Map<number, EpochInfo>;
  lastEpoch: number;
  policies: Policy[];
}

export const NETWORK_STREAM = 'network-ledger';

export const initialNetwork = (): NetworkState => ({ funded: 0n, allocated: 0n, fundings: new Map(), epochs: new Map(), lastEpoch: 0, policies: [] });

/**
 * An epoch's cut-off (the last global position that counts for it) from its `EpochClosed` event recorded at `position`:
 * the position just before the event, so the close and the cut-off are one atomic append and no report can be recorded
 * between them. An older close names its cut-off in its data, and is read the same way as ever.
 */
export function cutOffOf(data: { cutOffPosition?: string }, position: bigint): bigint;
export function cutOffOf(data: { cutOffPosition?: string }, position: bigint | undefined): bigint | undefined;
export function cutOffOf(data: { cutOffPosition?: string }, position: bigint | undefined): bigint | undefined {
  if (data.cutOffPosition !== undefined) return BigInt(data.cutOffPosition);
  return position === undefined ? undefined : position - 1n;
}

/** The network ledger's events as loaded from the store, with the global position each was recorded at. */
export type RecordedNetworkEvent = NetworkEvent & { position?: bigint };

export function evolveNetwork(state: NetworkState, event: RecordedNetworkEvent): NetworkState {
  switch (event.type) {
    case 'TreasuryFunded': {
      const amount = BigInt(event.data.amount);
      return { ...state, funded: state.funded + amount, fundings: new Map(state.fundings).set(event.data.reference, amount) };
    }
    case 'EpochOpened': {
      const rewardPool = BigInt(event.data.rewardPool);
      const epoch: EpochInfo = {
        epoch: event.data.epoch,
        start: Date.parse(event.data.start) / 1000,
        end: Date.parse(event.data.end) / 1000,
        rewardPool,
        status: 'open',
      };
      return { ...state, allocated: state.allocated + rewardPool, epochs: new Map(state.epochs).set(epoch.epoch, epoch), lastEpoch: epoch.epoch };
    }
    case 'PolicyAdopted':
      return { ...state, policies: [...state.policies, event.data] };
    case 'EpochPoolReturned': {
      const epoch = state.epochs.get(event.data.epoch);
      const amount = BigInt(event.data.amount);
      const epochs = epoch ? new Map(state.epochs).set(epoch.epoch, { ...epoch, poolReturned: amount }) : state.epochs;
      return { ...state, epochs, allocated: state.allocated - amount };
    }
    case 'UnclaimedRewardsReleased': {
      const epoch = state.epochs.get(event.data.epoch);
      const amount = BigInt(event.data.amount);
      const epochs = epoch ? new Map(state.epochs).set(epoch.epoch, { ...epoch, unclaimedReleased: amount }) : state.epochs;
      return { ...state, epochs, allocated: state.allocated - amount };
    }
    case 'EpochClosed': {
      const epoch = state.epochs.get(event.data.epoch);
      if (!epoch) return state;
      const closed: EpochInfo = { ...epoch, status: 'closed', cutOffPosition: cutOffOf(event.data, event.position) };
      return { ...state, epochs: new Map(state.epochs).set(closed.epoch, closed) };
    }
  }
}

export const unallocated = (state: NetworkState) => state.funded - state.allocated;

/** Records treasury funding; the same reference again with the same amount is a no-op. */
export function fundTreasury(state: NetworkState, command: { amount: unknown; reference: unknown }): NetworkEvent[] {
  const checks = new Checks();
  const amount = checks.amount('amount', command.amount);
  const reference = checks.text('reference', command.reference, 200);
  checks.done();
  const earlier = state.fundings.get(reference);
  if (repeatsRecorded(`funding ${reference}`, earlier === undefined ? undefined : { amount: earlier.toString() }, { amount: amount.toString() })) return [];
  if (state.funded + amount > U64_MAX) reject('invalid', 'amount', `would take the treasury's books (${state.funded} funded) past ${U64_MAX} (u64)`);
  return [{ type: 'TreasuryFunded', data: { amount: amount.toString(), reference } }];
}

/** Opens epoch n = last + 1; opening the same epoch again with the same terms is a no-op. */
export function openEpoch(state: NetworkState, command: { epoch: unknown; start: unknown; end: unknown; rewardPool: unknown }): NetworkEvent[] {
  const checks = new Checks();
  const epoch = checks.integer('epoch', command.epoch, 1, 1_000_000_000);
  const start = checks.instant('start', command.start);
  const end = checks.instant('end', command.end);
  const rewardPool = checks.amount('rewardPool', command.rewardPool);
  checks.done();
  if (end <= start) reject('invalid', 'end', 'must be after start');

  const existing = state.epochs.get(epoch);
  if (existing) {
    const terms = (s: number, e: number, pool: bigint) => ({ start: toInstant(s), end: toInstant(e), rewardPool: pool.toString() });
    if (repeatsRecorded(`epoch ${epoch}`, terms(existing.start, existing.end, existing.rewardPool), terms(start, end, rewardPool))) return [];
  }
  if (epoch !== state.lastEpoch + 1) reject('conflict', 'epoch', `the next epoch to open is ${state.lastEpoch + 1}`);
  const previous = state.epochs.get(epoch - 1);
  if (previous && start < previous.end) reject('conflict', 'start', `overlaps epoch ${previous.epoch}, which ends at ${toInstant(previous.end)}`);
  const policy = policyFor(state.policies, epoch);
  if (rewardPool > BigInt(policy.maxPoolPerEpoch)) {
    reject('conflict', 'rewardPool', `exceeds the policy's maximum pool per epoch (${policy.maxPoolPerEpoch} base units, policy version ${policy.version})`);
  }
  if (rewardPool > unallocated(state)) {
    reject('conflict', 'rewardPool', `exceeds the unallocated treasury (${unallocated(state)} base units available)`);
  }
  if (state.allocated + rewardPool > U64_MAX) reject('invalid', 'rewardPool', `would take the allocated pools (${state.allocated}) past ${U64_MAX} (u64)`);
  return [{ type: 'EpochOpened', data: { epoch, start: toInstant(start), end: toInstant(end), rewardPool: rewardPool.toString() } }];
}

/** Closes an open epoch; the close's own position is its cut-off (`cutOffOf`). */
export function closeEpoch(state: NetworkState, command: { epoch: number }): NetworkEvent[] {
  const epoch = state.epochs.get(command.epoch);
  if (!epoch) reject('not_found', 'epoch', `epoch ${command.epoch} was never opened`);
  if (epoch.status === 'closed') reject('conflict', 'epoch', `epoch ${command.epoch} is already closed`);
  return [{ type: 'EpochClosed', data: { epoch: epoch.epoch } }];
}

/** Gives a closed epoch's undistributed pool back to the treasury, once. */
export function returnEpochPool(state: NetworkState, command: { epoch: number; amount: bigint }): NetworkEvent[] {
  const epoch = state.epochs.get(command.epoch);
  if (!epoch || epoch.status !== 'closed') reject('conflict', 'epoch', `epoch ${command.epoch} is not closed`);
  if (epoch.poolReturned !== undefined) return [];
  if (command.amount <= 0n || command.amount > epoch.rewardPool) reject('invalid', 'amount', `must be from 1 to the epoch's pool (${epoch.rewardPool})`);
  return [{ type: 'EpochPoolReturned', data: { epoch: command.epoch, amount: command.amount.toString() } }];
}

/**
 * Releases a closed epoch's clawed-back unclaimed rewards from the allocated pools, once (the `return` policy): the
 * same amount again is a no-op, another is refused. It never releases more than is allocated (the clawback's recorded
 * unclaimed total is the amount; `checkMoneyInvariants` checks the two agree).
 */
export function releaseUnclaimedRewards(state: NetworkState, command: { epoch: number; amount: bigint }): NetworkEvent[] {
  const epoch = state.epochs.get(command.epoch);
  if (!epoch || epoch.status !== 'closed') reject('conflict', 'epoch', `epoch ${command.epoch} is not closed`);
  if (epoch.unclaimedReleased !== undefined) {
    if (epoch.unclaimedReleased === command.amount) return [];
    reject('conflict', 'amount', `epoch ${command.epoch}'s unclaimed rewards are released already (${epoch.unclaimedReleased})`);
  }
  // Its leaves may hold more than its pool (balances carried in, allocated with earlier pools): the bound is what is allocated.
  if (command.amount < 0n || command.amount > state.allocated) reject('invalid', 'amount', `must be from 0 to the allocated pools (${state.allocated})`);
  return [{ type: 'UnclaimedRewardsReleased', data: { epoch: command.epoch, amount: command.amount.toString() } }];
}

/** The policy in force now: for the last epoch opened. */
export const currentPolicy = (state: NetworkState): Policy => policyFor(state.policies, state.lastEpoch);

/** Adopts a new policy version, effective from the epoch after the last one opened (never the running one). */
export function adoptPolicy(state: NetworkState, command: Record<string, unknown>): NetworkEvent[] {
  const parameters = parsePolicyParameters(command);
  const version = (state.policies[state.policies.length - 1]?.version ?? 0) + 1;
  return [{ type: 'PolicyAdopted', data: { version, effectiveFromEpoch: state.lastEpoch + 1, ...parameters } }];
}

export type NetworkCommand =
  | { type: 'FundTreasury'; data: { amount: unknown; reference: unknown } }
  | { type: 'OpenEpoch'; data: { epoch: unknown; start: unknown; end: unknown; rewardPool: unknown } }
  | { type: 'CloseEpoch'; data: { epoch: number } }
  | { type: 'ReturnEpochPool'; data: { epoch: number; amount: bigint } }
  | { type: 'ReleaseUnclaimedRewards'; data: { epoch: number; amount: bigint } }
  | { type: 'AdoptPolicy'; data: Record<string, unknown> };

/** The network ledger, one stream for the whole network. */
export const networkDecider: Decider<NetworkState, RecordedNetworkEvent, NetworkCommand> = {
  streamOf: () => NETWORK_STREAM,
  initial: initialNetwork,
  evolve: evolveNetwork,
  decide(command, state) {
    switch (command.type) {
      case 'FundTreasury':
        return fundTreasury(state, command.data);
      case 'OpenEpoch':
        return openEpoch(state, command.data);
      case 'CloseEpoch':
        return closeEpoch(state, { epoch: command.data.epoch });
      case 'ReturnEpochPool':
        return returnEpochPool(state, command.data);
      case 'ReleaseUnclaimedRewards':
        return releaseUnclaimedRewards(state, command.data);
      case 'AdoptPolicy':
        return adoptPolicy(state, command.data);
    }
  },
};
