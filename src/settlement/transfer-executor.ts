import { PublicKey, type Keypair } from '@solana/web3.js';
import {
  chainTransferDecider,
  evolveChainTransfer,
  initialChainTransfer,
  orderTransfer,
  recordTransferOutcome,
  signTransfer,
  transferMemo,
  type ChainTransferEvent,
  type ChainTransferState,
  type TransferOrder,
} from '../../domain/chain-transfer';
import { reject } from '../../domain/rejection';
import { decideAndAppend, load, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { signatureOf, type ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { associatedTokenAddress, createAssociatedAccountIdempotent, memoInstruction, signTransaction, transferChecked } from '../chain/token';
import type { EngineMetrics } from '../observability/engine-metrics';
import { loadLiabilities } from '../verification/liabilities';
import { loadSettlementControl, resolveAttempt, sendAttempt } from './chain-attempts';

type Outcome = Parameters<typeof recordTransferOutcome>[1];

/**
 * Executes single $SYNQ movements the books ordered (purchase deliveries, stake withdrawals, slashes) exactly once,
 * by the rule of domain/chain-transfer.ts: record the attempt, send it, ask the chain, record what it says.
 */
export class TransferExecutor {
  constructor(
    private readonly store: EventStore,
    private readonly chain: ChainGateway,
    private readonly treasuryKey: () => Promise<Keypair>,
    private readonly metrics?: EngineMetrics,
  ) {}

  async order(order: TransferOrder, metadata: CommandMetadata): Promise<void> {
    await this.decide(order.orderId, (state) => orderTransfer(state, order), { ...metadata, commandId: `order-${order.orderId}` });
  }

  /** Orders a transfer and carries it out; a failure to reach the chain leaves it ordered, for `executePending`. */
  async orderAndExecute(order: TransferOrder, metadata: CommandMetadata): Promise<ChainTransferState> {
    await this.order(order, metadata);
    return this.execute(order.orderId, metadata);
  }

  async get(orderId: string): Promise<ChainTransferState> {
    return (await load(this.store, chainTransferDecider, orderId)).state;
  }

  async list(): Promise<ChainTransferState[]> {
    const states = new Map<string, ChainTransferState>();
    for await (const event of this.store.readAll({ category: 'chaintransfer' })) {
      states.set(
        event.stream,
        evolveChainTransfer(states.get(event.stream) ?? initialChainTransfer(), { type: event.type, data: event.data } as ChainTransferEvent),
      );
    }
    return [...states.values()];
  }

  /**
   * Resumes every transfer not done: after a crash, or once the chain is reachable again. Orders recorded only in the
   * books' event that made them (a purchase, withdrawal or slash whose process died before its transfer stream was
   * written) are ordered first.
   */
  async executePending(metadata: CommandMetadata): Promise<ChainTransferState[]> {
    for (const { order, status } of (await loadLiabilities(this.store)).orders) {
      if (status === 'unordered') await this.order(order, metadata);
    }
    const done: ChainTransferState[] = [];
    for (const state of await this.list()) if (state.order && state.status !== 'confirmed') done.push(await this.execute(state.order.orderId, metadata));
    return done;
  }

  async execute(orderId: string, metadata: CommandMetadata): Promise<ChainTransferState> {
    let state = await this.get(orderId);
    if (!state.order) reject('not_found', 'orderId', `no transfer ${orderId} is ordered`);
    if (state.status === 'awaiting') {
      state = await this.record(orderId, await resolveAttempt(this.chain, state.current!), metadata);
    }
    if (state.status === 'confirmed') return state;
    // While the circuit breaker is open nothing new is sent: the transfer stays ordered, for POST /chain/transfers/execute.
    const control = await loadSettlementControl(this.store);
    if (control.paused) return state;

    const setup = await loadChainSetup(this.store);
    if (!setup) reject('conflict', 'chain', 'the chain is not set up');
    const authority = await this.treasuryKey();
    const order = state.order!;
    const mint = new PublicKey(setup.mint);
    const source = new PublicKey(order.source === 'treasury' ? setup.treasuryAccount : setup.stakeVault);
    const instructions = [];
    let destination = new PublicKey(setup.treasuryAccount);
    if (!order.toTreasury) {
      const wallet = new PublicKey(order.recipientWallet!);
      destination = associatedTokenAddress(wallet, mint);
      instructions.push(createAssociatedAccountIdempotent(authority.publicKey, wallet, mint));
    }
    instructions.push(
      transferChecked(source, mint, destination, authority.publicKey, BigInt(order.amount)),
      memoInstruction(transferMemo(order), authority.publicKey),
    );
    const { blockhash, lastValidBlockHeight } = await this.chain.latestBlockhash();
    const wire = signTransaction(instructions, [authority], blockhash);
    const attempt = {
      orderId,
      signature: signatureOf(wire),
      blockhash,
      lastValidBlockHeight: lastValidBlockHeight.toString(),
      wire: Buffer.from(wire).toString('base64'),
    };
    await this.decide(orderId, (current) => signTransfer(current, attempt), { ...metadata, commandId: `sign-${attempt.signature}` });
    return this.record(orderId, await sendAttempt(this.chain, attempt), metadata);
  }

  private async record(orderId: string, outcome: Outcome, metadata: CommandMetadata): Promise<ChainTransferState> {
    await this.decide(orderId, (state) => recordTransferOutcome(state, outcome), { ...metadata, commandId: `outcome-${outcome.signature}-${outcome.status}` });
    this.metrics?.settlementTransaction('transfer', outcome.status);
    return this.get(orderId);
  }

  private decide(orderId: string, decide: (state: ChainTransferState) => ChainTransferEvent[], metadata: CommandMetadata) {
    return decideAndAppend(this.store, chainTransferDecider, orderId, decide, metadata);
  }
}
