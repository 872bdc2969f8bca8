import type { Decider } from './decider';
import { reject } from './rejection';

/**
 * A single movement of $SYNQ the books ordered on chain, executed exactly once. Stream `chaintransfer-<orderId>`.
 * - purchase delivery (hybrid): the treasury sends a developer the tokens it bought;
 * - stake withdrawal: the stake vault returns unstaked tokens to the synqer's payout wallet;
 * - slash: the stake vault sends slashed stake to the treasury.
 * The same rule as payouts (domain/epoch-payout.ts): each attempt is recorded before it is sent, and a new one is made
 * only when the last failed or is proven expired and absent.
 */

export type TransferKind = 'purchase_delivery' | 'stake_withdrawal' | 'slash';
export type TransferSource = 'treasury' | 'stake_vault';

export interface TransferOrder {
  orderId: string;
  kind: TransferKind;
  source: TransferSource;
  /** Recipient: a wallet (paid into its associated $SYNQ account, created if missing) or the treasury. */
  recipientWallet: string | null;
  toTreasury: boolean;
  amount: string;
  /** What ordered it: developer or synqer id, and the operation id in the books. */
  reference: string;
}

export interface TransferAttempt {
  orderId: string;
  attempt: number;
  signature: string;
  blockhash: string;
  lastValidBlockHeight: string;
  wire: string;
}

export type ChainTransferEvent =
  | { type: 'ChainTransferOrdered'; data: TransferOrder }
  | { type: 'ChainTransferSigned'; data: TransferAttempt }
  | { type: 'ChainTransferConfirmed'; data: { orderId: string; signature: string; slot: string; fee: string } }
  | { type: 'ChainTransferFailed'; data: { orderId: string; signature: string; slot: string; fee: string; error: string } }
  | { type: 'ChainTransferExpired'; data: { orderId: string; signature: string; blockHeight: string } };

export interface ChainTransferState {
  order?: TransferOrder;
  status: 'unsigned' | 'awaiting' | 'confirmed' | 'failed' | 'expired';
  attempts: number;
  current?: TransferAttempt;
  signatures: string[];
  confirmedSignature?: string;
  feeLamports: bigint;
  lastError?: string;
}

export const chainTransferStream = (orderId: string) => `chaintransfer-${orderId}`;
export const initialChainTransfer = (): ChainTransferState => ({ status: 'unsigned', attempts: 0, signatures: [], feeLamports: 0n });
export const transferMemo = (order: Pick<TransferOrder, 'orderId' | 'kind'>) => `synq:v1:${order.kind}=${order.orderId}`;

/** Order ids name the operation they carry out: `<kind>.<who>.<operation id>`. */
export const transferOrderId = (kind: TransferKind, who: string, operationId: string) => `${kind}.${who}.${operationId}`;

export function evolveChainTransfer(state: ChainTransferState, event: ChainTransferEvent): ChainTransferState {
  switch (event.type) {
    case 'ChainTransferOrdered':
      return { ...state, order: event.data };
    case 'ChainTransferSigned':
      return { ...state, status: 'awaiting', attempts: state.attempts + 1, current: event.data, signatures: [...state.signatures, event.data.signature] };
    case 'ChainTransferConfirmed':
      return { ...state, status: 'confirmed', confirmedSignature: event.data.signature, feeLamports: state.feeLamports + BigInt(event.data.fee) };
    case 'ChainTransferFailed':
      return { ...state, status: 'failed', feeLamports: state.feeLamports + BigInt(event.data.fee), lastError: event.data.error };
    case 'ChainTransferExpired':
      return { ...state, status: 'expired' };
  }
}

export function orderTransfer(state: ChainTransferState, order: TransferOrder): ChainTransferEvent[] {
  if (state.order) {
    if (JSON.stringify(state.order) === JSON.stringify(order)) return [];
    reject('conflict', 'orderId', `transfer ${order.orderId} is ordered already with other details`);
  }
  if (BigInt(order.amount) <= 0n) reject('invalid', 'amount', 'must be greater than 0');
  return [{ type: 'ChainTransferOrdered', data: order }];
}

export function signTransfer(state: ChainTransferState, attempt: Omit<TransferAttempt, 'attempt'>): ChainTransferEvent[] {
  if (!state.order) reject('not_found', 'orderId', `no transfer ${attempt.orderId} is ordered`);
  if (state.status === 'awaiting')
    reject('conflict', 'orderId', `transfer ${attempt.orderId} has an attempt (${state.current?.signature}) that may still land`);
  if (state.status === 'confirmed') reject('conflict', 'orderId', `transfer ${attempt.orderId} is done (${state.confirmedSignature})`);
  return [{ type: 'ChainTransferSigned', data: { ...attempt, attempt: state.attempts + 1 } }];
}

export function recordTransferOutcome(
  state: ChainTransferState,
  outcome:
    | { signature: string; status: 'succeeded' | 'failed'; slot: bigint; fee: bigint; error?: string }
    | { signature: string; status: 'expired'; blockHeight: bigint },
): ChainTransferEvent[] {
  const current = state.current;
  if (state.status !== 'awaiting' || !current || current.signature !== outcome.signature)
    reject('conflict', 'signature', `${outcome.signature} is not awaiting its outcome`);
  const orderId = current.orderId;
  if (outcome.status === 'expired') {
    if (outcome.blockHeight <= BigInt(current.lastValidBlockHeight))
      reject('conflict', 'signature', `${outcome.signature} can still land until block ${current.lastValidBlockHeight}`);
    return [{ type: 'ChainTransferExpired', data: { orderId, signature: outcome.signature, blockHeight: outcome.blockHeight.toString() } }];
  }
  const common = { orderId, signature: outcome.signature, slot: outcome.slot.toString(), fee: outcome.fee.toString() };
  return outcome.status === 'succeeded'
    ? [{ type: 'ChainTransferConfirmed', data: common }]
    : [{ type: 'ChainTransferFailed', data: { ...common, error: outcome.error ?? 'failed' } }];
}

export type ChainTransferCommand =
  | { type: 'OrderTransfer'; data: TransferOrder }
  | { type: 'SignTransfer'; data: Omit<TransferAttempt, 'attempt'> }
  | { type: 'RecordTransferOutcome'; data: Parameters<typeof recordTransferOutcome>[1] };

/** One ordered movement of $SYNQ, by its order id: `chaintransfer-<orderId>`. */
export const chainTransferDecider: Decider<ChainTransferState, ChainTransferEvent, ChainTransferCommand, string> = {
  streamOf: chainTransferStream,
  initial: initialChainTransfer,
  evolve: evolveChainTransfer,
  decide(command, state) {
    switch (command.type) {
      case 'OrderTransfer':
        return orderTransfer(state, command.data);
      case 'SignTransfer':
        return signTransfer(state, command.data);
      case 'RecordTransferOutcome':
        return recordTransferOutcome(state, command.data);
    }
  },
};
