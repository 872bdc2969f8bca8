import { transferOrderId, type ChainTransferState, type TransferOrder } from '../../domain/chain-transfer';
import * as developer from '../../domain/developer';
import * as control from '../../domain/settlement-control';
import * as stake from '../../domain/stake';
import { networkDecider } from '../../domain/network';
import { synqerDecider } from '../../domain/synqer';
import { load, loadLatest, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { loadChainSetup } from '../treasury/chain-setup';
import { loadSettlementControl } from './chain-attempts';
import type { TransferExecutor } from './transfer-executor';

/** What a books operation did on chain, answered with it: nothing (web2), or the transfer that carries it out. */
export type ChainMovement = { orderId: string; status: ChainTransferState['status']; signature: string | null } | null;

/**
 * The books' token movements that hybrid settlement carries out on chain: a purchase is delivered from the treasury,
 * an unstake withdrawal leaves the stake vault for the synqer's payout wallet, a slash leaves it for the treasury.
 * In web2 (or before the chain is set up) they stay in the books. Each is ordered once by its operation's id, so a
 * repeated request resumes the same transfer rather than making another.
 */
export class ChainMovements {
  constructor(
    private readonly store: EventStore,
    private readonly transfers: TransferExecutor,
  ) {}

  /** Hybrid settlement is in force: the mode of the epoch last opened. */
  async onChain(): Promise<boolean> {
    if (!(await loadChainSetup(this.store))) return false;
    const network = await loadLatest(this.store, networkDecider);
    const state = await loadSettlementControl(this.store);
    return control.modeOf(state, network.lastEpoch) === 'hybrid';
  }

  async deliverPurchase(developerId: string, purchaseId: string, metadata: CommandMetadata): Promise<ChainMovement> {
    if (!(await this.onChain())) return null;
    let wallet: string | undefined;
    let amount: string | undefined;
    for await (const event of this.store.readStream(developer.developerStream(developerId))) {
      if (event.type === 'DeveloperRegistered') wallet = (event.data as { wallet: string }).wallet;
      if (event.type === 'TokensPurchased' && (event.data as { purchaseId: string }).purchaseId === purchaseId)
        amount = (event.data as { amount: string }).amount;
    }
    if (!wallet || !amount) return null;
    return this.carryOut(
      {
        orderId: transferOrderId('purchase_delivery', developerId, purchaseId),
        kind: 'purchase_delivery',
        source: 'treasury',
        recipientWallet: wallet,
        toTreasury: false,
        amount,
        reference: `${developerId}/${purchaseId}`,
      },
      metadata,
    );
  }

  async returnStake(synqerId: string, requestId: string, metadata: CommandMetadata): Promise<ChainMovement> {
    if (!(await this.onChain())) return null;
    const amount = await this.stakeEventAmount(synqerId, 'StakeWithdrawn', 'requestId', requestId);
    const synqer = (await load(this.store, synqerDecider, synqerId)).state;
    const wallet = synqer?.wallets.at(-1)?.payoutWallet;
    if (!amount || !wallet) return null;
    return this.carryOut(
      {
        orderId: transferOrderId('stake_withdrawal', synqerId, requestId),
        kind: 'stake_withdrawal',
        source: 'stake_vault',
        recipientWallet: wallet,
        toTreasury: false,
        amount,
        reference: `${synqerId}/${requestId}`,
      },
      metadata,
    );
  }

  async moveSlash(synqerId: string, slashId: string, metadata: CommandMetadata): Promise<ChainMovement> {
    if (!(await this.onChain())) return null;
    const amount = await this.stakeEventAmount(synqerId, 'StakeSlashed', 'slashId', slashId);
    if (!amount || amount === '0') return null;
    return this.carryOut(
      {
        orderId: transferOrderId('slash', synqerId, slashId),
        kind: 'slash',
        source: 'stake_vault',
        recipientWallet: null,
        toTreasury: true,
        amount,
        reference: `${synqerId}/${slashId}`,
      },
      metadata,
    );
  }

  private async carryOut(order: TransferOrder, metadata: CommandMetadata): Promise<ChainMovement> {
    const state = await this.transfers.orderAndExecute(order, metadata);
    return { orderId: order.orderId, status: state.status, signature: state.confirmedSignature ?? state.current?.signature ?? null };
  }

  private async stakeEventAmount(synqerId: string, type: stake.StakeEvent['type'], key: 'requestId' | 'slashId', id: string): Promise<string | undefined> {
    for await (const event of this.store.readStream(stake.stakeStream(synqerId))) {
      const data = event.data as Record<string, string>;
      if (event.type === type && data[key] === id) return data.amount;
    }
    return undefined;
  }
}
