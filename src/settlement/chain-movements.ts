import type { ChainTransferState, TransferOrder } from '../../domain/chain-transfer';
import * as developer from '../../domain/developer';
import * as control from '../../domain/settlement-control';
import * as stake from '../../domain/stake';
import { networkDecider } from '../../domain/network';
import { loadLatest, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { loadChainSetup } from '../treasury/chain-setup';
import { loadSettlementControl } from './chain-attempts';
import type { TransferExecutor } from './transfer-executor';

/** What a books operation did on chain, answered with it: nothing (web2), or the transfer that carries it out. */
export type ChainMovement = { orderId: string; status: ChainTransferState['status']; signature: string | null } | null;

/**
 * The books' token movements carried out on chain: a purchase in hybrid is delivered from the treasury, the
 * on-chain-backed part of a withdrawal leaves the stake vault for the synqer's payout wallet, that of a slash leaves it
 * for the treasury. Each is ordered in the books' own event (one token, one balance; no crash between the two), and
 * carried out here once by its operation's id, so a repeated request resumes the same transfer rather than making another.
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

  /** Carries out the delivery a hybrid purchase ordered in its own event (`TokensPurchased.delivery`); null if it stayed in the books. */
  async deliverPurchase(developerId: string, purchaseId: string, metadata: CommandMetadata): Promise<ChainMovement> {
    const order = await this.orderIn(developer.developerStream(developerId), 'TokensPurchased', 'purchaseId', purchaseId, 'delivery');
    return order ? this.carryOut(order, metadata) : null;
  }

  /** Carries out the vault transfer a withdrawal ordered in its own event: its on-chain-backed part; null if it had none. */
  async returnStake(synqerId: string, requestId: string, metadata: CommandMetadata): Promise<ChainMovement> {
    const order = await this.orderIn(stake.stakeStream(synqerId), 'StakeWithdrawn', 'requestId', requestId, 'transfer');
    return order ? this.carryOut(order, metadata) : null;
  }

  /** Carries out the move to the treasury a slash of on-chain-backed stake ordered in its own event; null if it had none. */
  async moveSlash(synqerId: string, slashId: string, metadata: CommandMetadata): Promise<ChainMovement> {
    const order = await this.orderIn(stake.stakeStream(synqerId), 'StakeSlashed', 'slashId', slashId, 'transfer');
    return order ? this.carryOut(order, metadata) : null;
  }

  private async carryOut(order: TransferOrder, metadata: CommandMetadata): Promise<ChainMovement> {
    const state = await this.transfers.orderAndExecute(order, metadata);
    return { orderId: order.orderId, status: state.status, signature: state.confirmedSignature ?? state.current?.signature ?? null };
  }

  private async orderIn(stream: string, type: string, key: string, id: string, field: 'delivery' | 'transfer'): Promise<TransferOrder | undefined> {
    for await (const event of this.store.readStream(stream)) {
      const data = event.data as Record<string, unknown>;
      if (event.type === type && data[key] === id) return data[field] as TransferOrder | undefined;
    }
    return undefined;
  }
}
