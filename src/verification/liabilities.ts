import { PublicKey } from '@solana/web3.js';
import { evolveChainTransfer, initialChainTransfer, type ChainTransferEvent, type ChainTransferState, type TransferOrder } from '../../domain/chain-transfer';
import type { PayoutState } from '../../domain/epoch-payout';
import { knownOrders, treasuryReservations, type KnownOrder } from '../../domain/liabilities';
import { networkDecider, type NetworkState } from '../../domain/network';
import { evolveStake, heldBackedStake, initialStake, type StakeEvent, type StakeState } from '../../domain/stake';
import type { ChainGateway } from '../chain/chain-gateway';
import { readTokenAccount } from '../chain/token';
import { loadLatest } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { loadChainSetup } from '../treasury/chain-setup';
import { loadAllEpochStreams } from './epoch-streams';

/** What the books owe from the treasury and the stake vault, read from the log (domain/liabilities.ts decides from it). */
export interface BooksLiabilities {
  network: NetworkState;
  /** Each epoch's payout stream, by epoch. */
  payouts: Map<number, PayoutState>;
  /** Every transfer ordered: from its stream, or only from the purchase, withdrawal or slash event that ordered it. */
  orders: KnownOrder[];
  /** On-chain-backed stake held, over all synqers: what the vault owes besides the orders not yet sent. */
  backedStakeOwed: bigint;
  /** Every purchase: `developerId/purchaseId`, and whether it was delivered to the wallet (left the books' balance). */
  purchases: { reference: string; delivered: boolean }[];
  /** Backed stake recorded as withdrawn with no transfer ordered to pay it (recorded before withdrawals carried their order). */
  withdrawalsWithoutOrder: { synqerId: string; requestId: string; backed: bigint }[];
  /** Each built distribution's total, by epoch. */
  distributions: Map<number, bigint>;
  /** Rewards carried forward and not in a distribution yet, in all (domain/carry.ts). */
  carried: bigint;
}

export async function loadLiabilities(store: EventStore, upTo?: bigint): Promise<BooksLiabilities> {
  const network = await loadLatest(store, networkDecider);
  const epochs = await loadAllEpochStreams(store, upTo);
  const payouts = new Map<number, PayoutState>();
  const distributions = new Map<number, bigint>();
  let carried = 0n;
  for (const [epoch, streams] of epochs) {
    if (streams.payout) payouts.set(epoch, streams.payout);
    if (streams.distributionTotal !== undefined) distributions.set(epoch, streams.distributionTotal);
    carried += streams.carried;
  }
  return { network, payouts, ...(await loadLedgerBooks(store, upTo)), distributions, carried };
}

/** What the books owe outside the epochs' own streams: transfers ordered, stake held and owed back, purchases. */
export type LedgerBooks = Pick<BooksLiabilities, 'orders' | 'backedStakeOwed' | 'purchases' | 'withdrawalsWithoutOrder'>;

export async function loadLedgerBooks(store: EventStore, upTo?: bigint): Promise<LedgerBooks> {
  const within = (position: bigint) => upTo === undefined || position <= upTo;
  const transfers = new Map<string, ChainTransferState>();
  for await (const event of store.readAll({ category: 'chaintransfer' })) {
    if (!within(event.position)) break;
    transfers.set(
      event.stream,
      evolveChainTransfer(transfers.get(event.stream) ?? initialChainTransfer(), { type: event.type, data: event.data } as ChainTransferEvent),
    );
  }

  const embedded: TransferOrder[] = [];
  const purchases: BooksLiabilities['purchases'] = [];
  for await (const event of store.readAll({ category: 'developer' })) {
    if (!within(event.position)) break;
    if (event.type !== 'TokensPurchased') continue;
    const data = event.data as unknown as { purchaseId: string; delivery?: TransferOrder };
    purchases.push({ reference: `${event.stream.slice('developer-'.length)}/${data.purchaseId}`, delivered: data.delivery !== undefined });
    if (data.delivery) embedded.push(data.delivery);
  }

  const stakes = new Map<string, StakeState>();
  const withdrawals: { synqerId: string; requestId: string; backed: bigint }[] = [];
  for await (const event of store.readAll({ category: 'stake' })) {
    if (!within(event.position)) break;
    const state = stakes.get(event.stream) ?? initialStake();
    const data = event.data as unknown as { synqerId: string; requestId?: string; transfer?: TransferOrder };
    if (data.transfer) embedded.push(data.transfer);
    if (event.type === 'StakeWithdrawn' && !data.transfer) {
      const backed = state.unstaking.get(data.requestId!)?.backed ?? 0n;
      if (backed > 0n) withdrawals.push({ synqerId: data.synqerId, requestId: data.requestId!, backed });
    }
    stakes.set(event.stream, evolveStake(state, { type: event.type, data: event.data } as StakeEvent));
  }

  const orders = knownOrders(embedded, [...transfers.values()]);
  const ordered = new Set(orders.filter((o) => o.order.kind === 'stake_withdrawal').map((o) => o.order.reference));
  return {
    orders,
    backedStakeOwed: [...stakes.values()].reduce((sum, state) => sum + heldBackedStake(state), 0n),
    purchases,
    // A withdrawal ordered by the engine of old (its order on its own stream) is not stranded.
    withdrawalsWithoutOrder: withdrawals.filter((w) => !ordered.has(`${w.synqerId}/${w.requestId}`)),
  };
}

/**
 * What the treasury can give now without touching a reservation: its balance on chain less the pools not yet paid and
 * the transfers ordered and not yet sent. Null when the chain is not set up.
 */
export async function treasuryAvailable(store: EventStore, chain: ChainGateway): Promise<bigint | null> {
  const setup = await loadChainSetup(store);
  if (!setup) return null;
  const address = new PublicKey(setup.treasuryAccount);
  const balance = readTokenAccount(address, await chain.getAccount(address))?.amount ?? 0n;
  const books = await loadLiabilities(store);
  return (
    balance -
    treasuryReservations(books.network.epochs.values(), books.payouts, books.orders, { distributions: books.distributions, carried: books.carried }).total
  );
}
