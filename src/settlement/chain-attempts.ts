import type { AttemptOutcome } from '../../domain/epoch-payout';
import * as control from '../../domain/settlement-control';
import { load } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { ChainError, type ChainGateway } from '../chain/chain-gateway';

/**
 * What both executors (payouts and single transfers) do with an attempt once it is recorded: send it and ask the
 * chain what became of it. The rule lives in the domain (epoch-payout.ts, chain-transfer.ts); this is its I/O.
 */

/** An attempt as it is recorded before sending: its signature, signed wire bytes (base64) and last valid height. */
export interface RecordedAttempt {
  signature: string;
  wire: string;
  lastValidBlockHeight: string;
}

/** Sends the recorded bytes and waits until they landed (succeeded or failed) or can no longer land. */
export async function sendAttempt(chain: ChainGateway, attempt: RecordedAttempt): Promise<AttemptOutcome> {
  try {
    await chain.sendTransaction(Buffer.from(attempt.wire, 'base64'));
  } catch (error) {
    // Refused before executing (a cluster's preflight): it cannot land; confirmation finds it expired in time.
    if (!(error instanceof ChainError)) throw error;
  }
  const confirmation = await chain.confirmTransaction(attempt.signature, BigInt(attempt.lastValidBlockHeight));
  // The domain refuses an expiry at a height the attempt could still land at, whatever the gateway said.
  if (confirmation.status === 'expired') return { signature: attempt.signature, status: 'expired', blockHeight: await chain.blockHeight() };
  const { slot, fee } = confirmation;
  return confirmation.status === 'succeeded'
    ? { signature: attempt.signature, status: 'succeeded', slot, fee }
    : { signature: attempt.signature, status: 'failed', slot, fee, error: confirmation.error };
}

/** After a crash or a lost answer: the chain is asked first; only an attempt it does not have is sent again, as is. */
export async function resolveAttempt(chain: ChainGateway, attempt: RecordedAttempt): Promise<AttemptOutcome> {
  const landed = await chain.getTransaction(attempt.signature);
  if (landed) {
    return landed.error === null
      ? { signature: attempt.signature, status: 'succeeded', slot: landed.slot, fee: landed.fee }
      : { signature: attempt.signature, status: 'failed', slot: landed.slot, fee: landed.fee, error: landed.error };
  }
  const height = await chain.blockHeight();
  if (height > BigInt(attempt.lastValidBlockHeight)) return { signature: attempt.signature, status: 'expired', blockHeight: height };
  return sendAttempt(chain, attempt);
}

/** The settlement modes chosen and the circuit breaker, as recorded now. */
export async function loadSettlementControl(store: EventStore): Promise<control.SettlementControlState> {
  return (await load(store, control.settlementControlDecider, undefined)).state;
}
