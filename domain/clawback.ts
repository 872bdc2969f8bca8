import type { Decider } from './decider';
import type { UnclaimedRewardsPolicy } from './policy';
import { reject } from './rejection';

/**
 * The clawback of a web3 epoch's distributor, and what becomes of the rewards nobody claimed. Stream `clawback-<epoch>`.
 *
 * 1. From the distributor's clawback start (its claim deadline, by the chain clock) the treasury authority sends the
 *    program's `clawback`: what is left in the vault goes back to the treasury's token account, and the distributor is
 *    marked clawed back (no claim is accepted after it). The attempt is recorded before it is sent
 *    (`ClawbackTransactionSigned`), its outcome after: `DistributorClawedBack` once it landed, with what it moved and
 *    the leaves that were never claimed, or failed / expired. A new attempt only when the last failed or provably
 *    expired (the rule of domain/epoch-payout.ts).
 * 2. Then, once, the policy in force for the epoch decides what the unclaimed rewards become:
 *    - `carry`: `UnclaimedRewardsCarried` — still owed to their wallets: each wallet's amount is added to its leaf in
 *      the next epoch closed after this event (the carry-forward fold consumes it);
 *    - `return`: `UnclaimedRewardsReturned` — no longer owed: the tokens are the treasury's again, and the network
 *      ledger releases them from the allocated pools (`UnclaimedRewardsReleased`, domain/network.ts), so a later
 *      epoch's pool may use them.
 */

export interface UnclaimedEntry {
  wallet: string;
  /** Base units, decimal. */
  amount: string;
}

export interface ClawbackAttempt {
  epoch: number;
  attempt: number;
  signature: string;
  blockhash: string;
  lastValidBlockHeight: string;
  /** The signed transaction, base64: resent as is after a crash. */
  wire: string;
  /** What the vault held and the distributor counted as claimed when it was signed (the amount moved is measured against them). */
  vaultBefore: string;
  claimedBefore: string;
}

export interface DistributorClawedBackData {
  epoch: number;
  signature: string;
  slot: string;
  fee: string;
  /** What the clawback moved from the vault to the treasury. */
  amount: string;
  /** The distributor's total claimed (its `total_amount_claimed`) once clawed back. */
  claimed: string;
  /** The leaves with no ClaimStatus account once clawed back: nobody can claim them any more. */
  unclaimed: UnclaimedEntry[];
  /** Σ unclaimed; equal to `amount` unless someone moved tokens into the vault or a claim paid other than its leaf. */
  unclaimedTotal: string;
}

export type ClawbackEvent =
  | { type: 'ClawbackTransactionSigned'; data: ClawbackAttempt }
  | { type: 'ClawbackTransactionFailed'; data: { epoch: number; signature: string; slot: string; fee: string; error: string } }
  | { type: 'ClawbackTransactionExpired'; data: { epoch: number; signature: string; blockHeight: string } }
  | { type: 'DistributorClawedBack'; data: DistributorClawedBackData }
  | { type: 'UnclaimedRewardsCarried'; data: { epoch: number; entries: UnclaimedEntry[]; total: string } }
  | { type: 'UnclaimedRewardsReturned'; data: { epoch: number; total: string } };

export interface ClawbackState {
  status: 'unsigned' | 'awaiting' | 'clawed_back' | 'failed' | 'expired';
  attempts: number;
  current?: ClawbackAttempt;
  signatures: Set<string>;
  feeLamports: bigint;
  lastError?: string;
  clawedBack?: DistributorClawedBackData;
  /** What the policy made of the unclaimed rewards, once decided. */
  settled?: { policy: 'carry'; entries: UnclaimedEntry[]; total: string } | { policy: 'return'; total: string };
}

export const clawbackStream = (epoch: number) => `clawback-${epoch}`;
export const initialClawback = (): ClawbackState => ({ status: 'unsigned', attempts: 0, signatures: new Set(), feeLamports: 0n });

export function evolveClawback(state: ClawbackState, event: ClawbackEvent): ClawbackState {
  switch (event.type) {
    case 'ClawbackTransactionSigned':
      return {
        ...state,
        status: 'awaiting',
        attempts: state.attempts + 1,
        current: event.data,
        signatures: new Set(state.signatures).add(event.data.signature),
      };
    case 'ClawbackTransactionFailed':
      return { ...state, status: 'failed', feeLamports: state.feeLamports + BigInt(event.data.fee), lastError: event.data.error };
    case 'ClawbackTransactionExpired':
      return { ...state, status: 'expired' };
    case 'DistributorClawedBack':
      return { ...state, status: 'clawed_back', feeLamports: state.feeLamports + BigInt(event.data.fee), clawedBack: event.data };
    case 'UnclaimedRewardsCarried':
      return { ...state, settled: { policy: 'carry', entries: event.data.entries, total: event.data.total } };
    case 'UnclaimedRewardsReturned':
      return { ...state, settled: { policy: 'return', total: event.data.total } };
  }
}

/** The epoch's distributor as the settlement created it, and the chain clock now: what a clawback attempt needs. */
export interface ClawbackWindow {
  epoch: number;
  /** Null: the epoch has no funded distributor (not web3, nobody earned, or not settled yet). */
  distributor: { address: string; clawbackStartTs: string } | null;
  /** The chain clock's unix seconds now. */
  chainNow: bigint;
}

/** Seconds left before the clawback may start (0 once it may). */
export const secondsLeft = (clawbackStartTs: string, chainNow: bigint): bigint =>
  chainNow >= BigInt(clawbackStartTs) ? 0n : BigInt(clawbackStartTs) - chainNow;

/** Refuses (409) a clawback of an epoch without a funded distributor, or before its clawback start by the chain clock. */
export function requireClawbackWindow(window: ClawbackWindow): void {
  if (!window.distributor)
    reject('conflict', 'epoch', `epoch ${window.epoch} has no funded distributor to claw back (it is not a settled web3 epoch with leaves)`);
  const left = secondsLeft(window.distributor.clawbackStartTs, window.chainNow);
  if (left > 0n) {
    const at = new Date(Number(window.distributor.clawbackStartTs) * 1000).toISOString();
    reject(
      'conflict',
      'epoch',
      `epoch ${window.epoch}'s rewards may be claimed until ${at} (unix ${window.distributor.clawbackStartTs}): the clawback starts in ${left} seconds by the chain clock`,
    );
  }
}

/** Records an attempt before it is sent: only inside the window, and only when no earlier attempt can still land. */
export function signClawback(state: ClawbackState, command: { window: ClawbackWindow; attempt: Omit<ClawbackAttempt, 'attempt' | 'epoch'> }): ClawbackEvent[] {
  const epoch = command.window.epoch;
  if (state.status === 'clawed_back') reject('conflict', 'epoch', `epoch ${epoch}'s distributor is clawed back already (${state.clawedBack!.signature})`);
  if (state.status === 'awaiting') reject('conflict', 'epoch', `epoch ${epoch}'s clawback has an attempt (${state.current!.signature}) that may still land`);
  requireClawbackWindow(command.window);
  if (state.signatures.has(command.attempt.signature)) reject('conflict', 'signature', `${command.attempt.signature} is recorded already`);
  for (const field of ['vaultBefore', 'claimedBefore', 'lastValidBlockHeight'] as const)
    if (!/^(0|[1-9]\d*)$/.test(command.attempt[field])) reject('invalid', field, 'must be a whole number');
  return [{ type: 'ClawbackTransactionSigned', data: { epoch, attempt: state.attempts + 1, ...command.attempt } }];
}

export type ClawbackOutcome =
  | {
      signature: string;
      status: 'succeeded';
      slot: bigint;
      fee: bigint;
      /** Read once it landed: the vault (0 after a clawback) and the distributor's total claimed. */
      vaultAfter: bigint;
      claimedAfter: bigint;
      /** The leaves with no ClaimStatus account, read once it landed. */
      unclaimed: readonly UnclaimedEntry[];
    }
  | { signature: string; status: 'failed'; slot: bigint; fee: bigint; error: string }
  | { signature: string; status: 'expired'; blockHeight: bigint };

/**
 * What the chain said of the awaiting attempt. Landed: the amount moved is what the vault held at signing less what
 * claims took from it since (the distributor's total claimed grew by it) less what is left in it.
 */
export function recordClawbackOutcome(state: ClawbackState, outcome: ClawbackOutcome): ClawbackEvent[] {
  const current = state.current;
  if (state.status !== 'awaiting' || !current || current.signature !== outcome.signature)
    reject('conflict', 'signature', `${outcome.signature} is not a clawback attempt awaiting its outcome`);
  const epoch = current.epoch;
  if (outcome.status === 'expired') {
    if (outcome.blockHeight <= BigInt(current.lastValidBlockHeight))
      reject('conflict', 'signature', `${outcome.signature} can still land until block ${current.lastValidBlockHeight}`);
    return [{ type: 'ClawbackTransactionExpired', data: { epoch, signature: outcome.signature, blockHeight: outcome.blockHeight.toString() } }];
  }
  const common = { epoch, signature: outcome.signature, slot: outcome.slot.toString(), fee: outcome.fee.toString() };
  if (outcome.status === 'failed') return [{ type: 'ClawbackTransactionFailed', data: { ...common, error: outcome.error } }];
  const claimedSince = outcome.claimedAfter - BigInt(current.claimedBefore);
  const amount = BigInt(current.vaultBefore) - (claimedSince > 0n ? claimedSince : 0n) - outcome.vaultAfter;
  const wallets = new Set<string>();
  let unclaimedTotal = 0n;
  for (const entry of outcome.unclaimed) {
    if (wallets.has(entry.wallet)) reject('invalid', 'unclaimed', `${entry.wallet} is listed twice`);
    wallets.add(entry.wallet);
    unclaimedTotal += BigInt(entry.amount);
  }
  return [
    {
      type: 'DistributorClawedBack',
      data: {
        ...common,
        amount: (amount > 0n ? amount : 0n).toString(),
        claimed: outcome.claimedAfter.toString(),
        unclaimed: outcome.unclaimed.map((entry) => ({ wallet: entry.wallet, amount: entry.amount })),
        unclaimedTotal: unclaimedTotal.toString(),
      },
    },
  ];
}

/**
 * Once clawed back, the policy in force for the epoch decides, once, what the unclaimed rewards become (see the
 * file's comment). Leaves of 0 are not carried. Deciding again answers nothing, whatever the policy now.
 */
export function applyUnclaimedPolicy(state: ClawbackState, command: { epoch: number; policy: UnclaimedRewardsPolicy }): ClawbackEvent[] {
  if (state.settled) return [];
  if (!state.clawedBack) reject('conflict', 'epoch', `epoch ${command.epoch}'s distributor is not clawed back yet`);
  const { epoch, unclaimed, unclaimedTotal } = state.clawedBack;
  if (command.policy === 'carry') {
    const entries = unclaimed.filter((entry) => BigInt(entry.amount) > 0n);
    return [{ type: 'UnclaimedRewardsCarried', data: { epoch, entries, total: unclaimedTotal } }];
  }
  if (command.policy === 'return') return [{ type: 'UnclaimedRewardsReturned', data: { epoch, total: unclaimedTotal } }];
  reject('invalid', 'unclaimedRewards', `must be one of carry, return`);
}

/** The clawed-back amount differs from the unclaimed leaves' sum (recorded all the same; verification flags it). */
export function clawbackMismatch(data: DistributorClawedBackData): bigint {
  return BigInt(data.amount) - BigInt(data.unclaimedTotal);
}

export type ClawbackCommand =
  | { type: 'SignClawback'; data: Parameters<typeof signClawback>[1] }
  | { type: 'RecordClawbackOutcome'; data: ClawbackOutcome }
  | { type: 'ApplyUnclaimedPolicy'; data: { epoch: number; policy: UnclaimedRewardsPolicy } };

/** An epoch's clawback, by the epoch's number: `clawback-<epoch>`. */
export const clawbackDecider: Decider<ClawbackState, ClawbackEvent, ClawbackCommand, number> = {
  streamOf: clawbackStream,
  initial: initialClawback,
  evolve: evolveClawback,
  decide(command, state) {
    switch (command.type) {
      case 'SignClawback':
        return signClawback(state, command.data);
      case 'RecordClawbackOutcome':
        return recordClawbackOutcome(state, command.data);
      case 'ApplyUnclaimedPolicy':
        return applyUnclaimedPolicy(state, command.data);
    }
  },
};
