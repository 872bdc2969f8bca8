import type { ChainTransferState, TransferOrder } from './chain-transfer';
import type { PayoutState } from './epoch-payout';
import type { EpochInfo } from './network';

/**
 * What the treasury and the stake vault owe, from the books alone. The treasury holds tokens for others before it may
 * spend them: every epoch's pool until it is paid (or returned), and every transfer ordered and not yet sent. A new
 * order (a purchase delivery) may take only what is free of these reservations; a settlement only starts when its
 * whole plan is funded; verification checks the treasury holds at least what is reserved, and the vault exactly the
 * on-chain-backed stake it owes (domain/stake.ts). Rewards carried forward (domain/carry.ts) are owed too: reserved
 * like an unpaid pool until the distribution they are carried into is paid.
 */

/** An order as the books know it: from its `chaintransfer-<order>` stream, or only from the event that ordered it. */
export interface KnownOrder {
  order: TransferOrder;
  /** `unordered`: recorded in the event that ordered it (purchase, withdrawal, slash), its stream not written yet. */
  status: ChainTransferState['status'] | 'unordered';
}

/** Orders recorded in the books' events, with the status of their transfer streams where those exist. */
export function knownOrders(embedded: readonly TransferOrder[], streams: readonly ChainTransferState[]): KnownOrder[] {
  const known = new Map<string, KnownOrder>();
  for (const order of embedded) known.set(order.orderId, { order, status: 'unordered' });
  for (const state of streams) if (state.order) known.set(state.order.orderId, { order: state.order, status: state.status });
  return [...known.values()];
}

/**
 * What an epoch's pool still holds in the treasury: the pool less what was returned and what was paid of it; once its
 * distribution is built (`distributionTotal`), that total less what was paid (it is the pool's share with carries in
 * and out: what carried out of it stays reserved as outstanding carries instead).
 */
export function reservedPool(epoch: EpochInfo, payout: PayoutState | undefined, paid = 0n, distributionTotal?: bigint): bigint {
  // Settled in the books (web2), on chain (hybrid) or into its distributor's vault (web3): nothing more leaves the
  // treasury for it. A web3 root anchored by a Memo alone (before distributors) is claimed from the treasury later, so
  // its pool stays reserved.
  if (payout?.settled && !payout.plan?.batches.some((batch) => batch.kind === 'anchor')) return 0n;
  const pool = (distributionTotal ?? epoch.rewardPool - (epoch.poolReturned ?? 0n)) - paid;
  return pool > 0n ? pool : 0n;
}

export interface TreasuryReservations {
  pools: bigint;
  transfers: bigint;
  /** Rewards carried forward and not in a distribution yet. */
  carried: bigint;
  total: bigint;
}

/**
 * The treasury's reservations: pools of epochs not yet paid (`paid`: what was paid of each so far on chain, where known)
 * and transfers out of it ordered and not confirmed (`sent`: orders whose attempt landed, already out of the balance);
 * `distributions`: each built distribution's total; `carried`: the outstanding carried balances, in all.
 */
export function treasuryReservations(
  epochs: Iterable<EpochInfo>,
  payouts: ReadonlyMap<number, PayoutState>,
  orders: readonly KnownOrder[],
  options: { paid?: ReadonlyMap<number, bigint>; sent?: ReadonlySet<string>; distributions?: ReadonlyMap<number, bigint>; carried?: bigint } = {},
): TreasuryReservations {
  let pools = 0n;
  for (const epoch of epochs)
    pools += reservedPool(epoch, payouts.get(epoch.epoch), options.paid?.get(epoch.epoch) ?? 0n, options.distributions?.get(epoch.epoch));
  let transfers = 0n;
  for (const { order, status } of orders) {
    if (order.source !== 'treasury' || status === 'confirmed' || options.sent?.has(order.orderId)) continue;
    transfers += BigInt(order.amount);
  }
  const carried = options.carried ?? 0n;
  return { pools, transfers, carried, total: pools + transfers + carried };
}

/**
 * Carried balances outstanding, in all, from the recorded distributions' totals and the unclaimed leaves carried:
 * Σ carried out − Σ carried in + Σ unclaimed carried.
 */
export function outstandingCarried(distributions: Iterable<{ carriedIn?: string; carriedOut?: string }>, unclaimedTotals: Iterable<string>): bigint {
  let carried = 0n;
  for (const built of distributions) carried += BigInt(built.carriedOut ?? '0') - BigInt(built.carriedIn ?? '0');
  for (const total of unclaimedTotals) carried += BigInt(total);
  return carried;
}

/** Transfers out of the stake vault ordered and not confirmed: stake still owed by the vault until they land. */
export function unsentVaultOrders(orders: readonly KnownOrder[], sent: ReadonlySet<string> = new Set()): bigint {
  let total = 0n;
  for (const { order, status } of orders)
    if (order.source === 'stake_vault' && status !== 'confirmed' && !sent.has(order.orderId)) total += BigInt(order.amount);
  return total;
}

/** The treasury is short when a settlement's remaining payouts exceed its balance: the shortfall, or 0. */
export const shortfall = (needed: bigint, available: bigint): bigint => (needed > available ? needed - (available < 0n ? 0n : available) : 0n);
