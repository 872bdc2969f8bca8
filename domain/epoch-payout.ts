import type { Decider } from './decider';
import { reject } from './rejection';
import type { SettlementMode } from './settlement-control';

/**
 * Paying a closed epoch's distribution. Stream `payout-<epoch>`.
 *
 * 1. `SettlementPlanned` fixes, once, which leaves go in which batch: one batch is one transaction, as many
 *    TransferChecked instructions as fit in 1,232 bytes, creating a recipient's token account (idempotently) where it
 *    was missing at planning, and a Memo `synq:v1:epoch=N:batch=K:root=HEX`. In web2 there are no batches: the books
 *    mark the distribution paid. In web3 the one batch is the root's anchor (a Memo signed by the treasury authority).
 * 2. Each attempt at a batch is recorded (`SettlementTransactionSigned`: signature, blockhash, last valid block
 *    height, wire bytes) before it is sent. Its outcome is recorded after: confirmed, failed (a failed transaction
 *    moves nothing), or expired (the chain was asked and does not have it, and its blockhash can no longer land).
 *    A batch gets a new attempt only when its last one failed or expired: this is the exactly-once rule, and
 *    `recordSigned` enforces it whatever the executor does.
 *    In web3 the one batch is the epoch's distributor: one transaction creates Jito's merkle distributor (version =
 *    the epoch), funds its vault with exactly the distribution's total from the treasury and anchors the root in a
 *    Memo, all or nothing; the same exactly-once rule means it is never created or funded twice.
 * 3. `EpochSettled` once every batch is confirmed, with the fees and rent paid.
 */

export const MAX_TRANSACTION_SIZE = 1232;

export interface PlannedBatch {
  batch: number;
  /** `anchor`: a Memo only (web3 epochs settled before distributors existed, kept so their logs replay). */
  kind: 'payout' | 'anchor' | 'distributor';
  /** Payout batches: leaves firstLeaf .. firstLeaf + leafCount - 1, in the distribution's order. */
  firstLeaf: number;
  leafCount: number;
  /** One character per leaf: '1' where its token account is created in this batch. */
  creates: string;
}

export interface SettlementPlan {
  epoch: number;
  mode: SettlementMode;
  /** The distribution it pays: its recorded root (hex), leaf count and total. */
  root: string;
  leafCount: number;
  total: string;
  batches: PlannedBatch[];
  /** web3: the epoch's distributor and who it answers to (base58). */
  distributor?: DistributorAccounts;
}

/** The accounts of an epoch's Jito merkle distributor, fixed when the settlement is planned. */
export interface DistributorAccounts {
  /** The distributor's `version` (a PDA seed): the epoch number. */
  version: number;
  address: string;
  /** The distributor's token account, which claims are paid from. */
  vault: string;
  /** The treasury authority: signs the creation and pays its rent. */
  admin: string;
  /** The treasury's token account: what is left after the clawback start comes back to it. */
  clawbackReceiver: string;
}

/** Unix seconds on the chain's clock, as the distributor is created with them (decimal strings). */
export interface DistributorTerms {
  startVestingTs: string;
  endVestingTs: string;
  /** The claim deadline: from then on, anyone may claw back what is unclaimed. */
  clawbackStartTs: string;
}

/** Seconds between signing and the vesting start: the program wants every timestamp in the chain clock's future when it runs. */
export const DISTRIBUTOR_LEAD_SECONDS = 300n;

/**
 * The terms an attempt creates the distributor with, from the chain clock when it is signed: everything is unlocked
 * at once (rewards are claimed as `amount_unlocked`), so vesting is a formality of one second; the clawback starts
 * `claimWindowSeconds` after it.
 */
export function distributorTerms(chainNow: bigint, claimWindowSeconds: number): DistributorTerms {
  const start = chainNow + DISTRIBUTOR_LEAD_SECONDS;
  const end = start + 1n;
  return { startVestingTs: start.toString(), endVestingTs: end.toString(), clawbackStartTs: (end + BigInt(claimWindowSeconds)).toString() };
}

export interface SignedAttempt {
  epoch: number;
  batch: number;
  attempt: number;
  signature: string;
  blockhash: string;
  lastValidBlockHeight: string;
  /** The signed transaction, base64: resent as is after a crash, and kept for auditors. */
  wire: string;
  /** Lamports of rent for the token accounts this attempt creates (those missing when it was signed). */
  rent: string;
  /** web3: the terms this attempt creates the distributor with (the landed attempt's are the distributor's). */
  terms?: DistributorTerms;
}

export type PayoutEvent =
  | { type: 'SettlementPlanned'; data: SettlementPlan }
  | { type: 'SettlementTransactionSigned'; data: SignedAttempt }
  | { type: 'SettlementTransactionConfirmed'; data: { epoch: number; batch: number; signature: string; slot: string; fee: string } }
  | { type: 'SettlementTransactionFailed'; data: { epoch: number; batch: number; signature: string; slot: string; fee: string; error: string } }
  | { type: 'SettlementTransactionExpired'; data: { epoch: number; batch: number; signature: string; blockHeight: string } }
  | { type: 'EpochSettled'; data: EpochSettledData };

export interface EpochSettledData {
  epoch: number;
  mode: SettlementMode;
  root: string;
  paid: string;
  leafCount: number;
  transactions: number;
  /** Every attempt that landed paid a fee, failed ones included. */
  feeLamports: string;
  rentLamports: string;
}

export type BatchStatus = 'unsigned' | 'awaiting' | 'confirmed' | 'failed' | 'expired';

export interface BatchState {
  status: BatchStatus;
  attempts: number;
  /** The last attempt. */
  current?: SignedAttempt;
  confirmedSignature?: string;
}

export interface PayoutState {
  plan?: SettlementPlan;
  batches: BatchState[];
  feeLamports: bigint;
  rentLamports: bigint;
  /** Every signature ever recorded for this epoch, superseded ones included: batch by signature. */
  signatures: Map<string, number>;
  settled?: EpochSettledData;
}

export const payoutStream = (epoch: number) => `payout-${epoch}`;
export const initialPayout = (): PayoutState => ({ batches: [], feeLamports: 0n, rentLamports: 0n, signatures: new Map() });

/** Extends the state in place: a settlement of 100,000 payouts folds tens of thousands of events. */
export function evolvePayout(state: PayoutState, event: PayoutEvent): PayoutState {
  switch (event.type) {
    case 'SettlementPlanned':
      state.plan = event.data;
      state.batches = event.data.batches.map(() => ({ status: 'unsigned', attempts: 0 }));
      return state;
    case 'SettlementTransactionSigned': {
      const batch = state.batches[event.data.batch];
      batch.status = 'awaiting';
      batch.attempts++;
      batch.current = event.data;
      state.signatures.set(event.data.signature, event.data.batch);
      return state;
    }
    case 'SettlementTransactionConfirmed': {
      const batch = state.batches[event.data.batch];
      batch.status = 'confirmed';
      batch.confirmedSignature = event.data.signature;
      state.feeLamports += BigInt(event.data.fee);
      state.rentLamports += BigInt(batch.current?.rent ?? '0');
      return state;
    }
    case 'SettlementTransactionFailed':
      state.batches[event.data.batch].status = 'failed';
      state.feeLamports += BigInt(event.data.fee);
      return state;
    case 'SettlementTransactionExpired':
      state.batches[event.data.batch].status = 'expired';
      return state;
    case 'EpochSettled':
      state.settled = event.data;
      return state;
  }
}

/** The Memo every payout transaction carries: what it pays, readable on any explorer. */
export const payoutMemo = (epoch: number, batch: number, root: string) => `synq:v1:epoch=${epoch}:batch=${batch}:root=${root}`;
/** The Memo anchoring a web3 distribution. */
export const anchorMemo = (plan: Pick<SettlementPlan, 'epoch' | 'root' | 'total' | 'leafCount'>) =>
  `synq:v1:anchor:epoch=${plan.epoch}:root=${plan.root}:total=${plan.total}:leaves=${plan.leafCount}`;

/** Bytes of a compact-u16 length prefix. */
const compactLength = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);
/** TransferChecked: program index, 4 account indexes, 10 bytes of data (tag, u64 amount, u8 decimals), with lengths. */
const TRANSFER_INSTRUCTION = 1 + 1 + 4 + 1 + 10;
/** CreateIdempotent: program index, 6 account indexes, 1 byte of data, with lengths. */
const CREATE_INSTRUCTION = 1 + 1 + 6 + 1 + 1;

/**
 * The exact wire size of a payout transaction (v0 message, no lookup tables, one signature): the treasury authority,
 * the treasury account, the mint, the token and memo programs, each recipient's token account, and where accounts
 * are created also the recipient wallets and the associated-token and system programs.
 */
export function payoutTransactionSize(transfers: number, creates: number, memoBytes: number): number {
  const keys = 5 + transfers + (creates > 0 ? 2 + creates : 0);
  const instructions = transfers + creates + 1;
  const memoInstruction = 1 + 1 + 1 + compactLength(memoBytes) + memoBytes;
  const message =
    1 +
    3 +
    compactLength(keys) +
    32 * keys +
    32 +
    compactLength(instructions) +
    TRANSFER_INSTRUCTION * transfers +
    CREATE_INSTRUCTION * creates +
    memoInstruction +
    1;
  return 1 + 64 + message;
}

export interface LeafToPay {
  /** Whether the recipient's $SYNQ token account exists now. */
  accountExists: boolean;
}

/**
 * Plans an epoch's settlement, once. `leaves` are the distribution's leaves in order; a batch takes leaves while the
 * transaction stays within 1,232 bytes and `maxTransfersPerTransaction` (the compute budget's limit).
 */
export function planSettlement(
  state: PayoutState,
  command: {
    epoch: number;
    mode: SettlementMode;
    root: string;
    leafCount: number;
    total: string;
    leaves: readonly LeafToPay[];
    maxTransfersPerTransaction: number;
    /** web3: the distributor's accounts. */
    distributor?: DistributorAccounts;
  },
): PayoutEvent[] {
  if (state.plan) {
    if (state.plan.root === command.root && state.plan.mode === command.mode) return [];
    reject('conflict', 'epoch', `epoch ${command.epoch}'s settlement is planned already (${state.plan.mode}, root ${state.plan.root})`);
  }
  if (command.leaves.length !== command.leafCount)
    reject('conflict', 'leaves', `the distribution has ${command.leafCount} leaves, ${command.leaves.length} were given`);
  const batches: PlannedBatch[] = [];
  // An epoch nobody earned in has nothing to claim: no distributor.
  if (command.mode === 'web3' && command.leafCount > 0) {
    if (!command.distributor) reject('invalid', 'distributor', `a web3 settlement of epoch ${command.epoch} needs its distributor's accounts`);
    if (command.distributor.version !== command.epoch) reject('invalid', 'distributor', `epoch ${command.epoch}'s distributor has version ${command.epoch}`);
    batches.push({ batch: 0, kind: 'distributor', firstLeaf: 0, leafCount: command.leafCount, creates: '' });
  }
  if (command.mode === 'hybrid') {
    let first = 0;
    while (first < command.leaves.length) {
      const memoBytes = payoutMemo(command.epoch, batches.length, command.root).length;
      let creates = '';
      let createCount = 0;
      for (let i = first; i < command.leaves.length && creates.length < command.maxTransfersPerTransaction; i++) {
        const create = !command.leaves[i].accountExists;
        if (payoutTransactionSize(creates.length + 1, createCount + (create ? 1 : 0), memoBytes) > MAX_TRANSACTION_SIZE) break;
        creates += create ? '1' : '0';
        if (create) createCount++;
      }
      batches.push({ batch: batches.length, kind: 'payout', firstLeaf: first, leafCount: creates.length, creates });
      first += creates.length;
    }
  }
  return [
    {
      type: 'SettlementPlanned',
      data: {
        epoch: command.epoch,
        mode: command.mode,
        root: command.root,
        leafCount: command.leafCount,
        total: command.total,
        batches,
        ...(command.mode === 'web3' && command.leafCount > 0 ? { distributor: command.distributor } : {}),
      },
    },
  ];
}

/** Batches that need an attempt now: never tried, or whose last attempt failed or expired. */
export const batchesToSign = (state: PayoutState): number[] =>
  state.batches.flatMap((batch, i) => (batch.status === 'unsigned' || batch.status === 'failed' || batch.status === 'expired' ? [i] : []));

/** Attempts sent (or about to be) whose outcome is not recorded: the chain is asked about these before anything else. */
export const awaitingAttempts = (state: PayoutState): SignedAttempt[] =>
  state.batches.flatMap((batch) => (batch.status === 'awaiting' && batch.current ? [batch.current] : []));

/** The exactly-once rule: a batch gets a new signature only when none of its attempts can still land. */
export function recordSigned(state: PayoutState, attempts: readonly Omit<SignedAttempt, 'attempt'>[]): PayoutEvent[] {
  const plan = requirePlan(state);
  return attempts.map((attempt) => {
    const batch = state.batches[attempt.batch];
    if (!batch) reject('invalid', 'batch', `epoch ${plan.epoch} has no batch ${attempt.batch}`);
    if (batch.status === 'awaiting') reject('conflict', 'batch', `batch ${attempt.batch} has an attempt (${batch.current?.signature}) that may still land`);
    if (batch.status === 'confirmed') reject('conflict', 'batch', `batch ${attempt.batch} is paid (${batch.confirmedSignature})`);
    if (state.signatures.has(attempt.signature)) reject('conflict', 'signature', `${attempt.signature} is recorded already`);
    return { type: 'SettlementTransactionSigned', data: { ...attempt, attempt: batch.attempts + 1 } };
  });
}

export type AttemptOutcome =
  | { signature: string; status: 'succeeded'; slot: bigint; fee: bigint }
  | { signature: string; status: 'failed'; slot: bigint; fee: bigint; error: string }
  /** The chain does not have it, at a block height past its last valid one. */
  | { signature: string; status: 'expired'; blockHeight: bigint };

/** Records what the chain says of attempts awaiting an outcome. An outcome for anything else is refused. */
export function recordOutcomes(state: PayoutState, outcomes: readonly AttemptOutcome[]): PayoutEvent[] {
  const plan = requirePlan(state);
  return outcomes.map((outcome) => {
    const index = state.signatures.get(outcome.signature);
    const batch = index === undefined ? undefined : state.batches[index];
    if (index === undefined || !batch || batch.status !== 'awaiting' || batch.current?.signature !== outcome.signature) {
      reject('conflict', 'signature', `${outcome.signature} is not an attempt awaiting its outcome in epoch ${plan.epoch}`);
    }
    if (outcome.status === 'expired') {
      if (outcome.blockHeight <= BigInt(batch.current!.lastValidBlockHeight)) {
        reject('conflict', 'signature', `${outcome.signature} can still land until block ${batch.current!.lastValidBlockHeight}`);
      }
      return {
        type: 'SettlementTransactionExpired',
        data: { epoch: plan.epoch, batch: index, signature: outcome.signature, blockHeight: outcome.blockHeight.toString() },
      };
    }
    const common = { epoch: plan.epoch, batch: index, signature: outcome.signature, slot: outcome.slot.toString(), fee: outcome.fee.toString() };
    return outcome.status === 'succeeded'
      ? { type: 'SettlementTransactionConfirmed', data: common }
      : { type: 'SettlementTransactionFailed', data: { ...common, error: outcome.error } };
  });
}

/** Once every batch is confirmed (at once in web2, where the books alone pay). */
export function completeSettlement(state: PayoutState): PayoutEvent[] {
  const plan = requirePlan(state);
  if (state.settled) return [];
  const open = state.batches.filter((batch) => batch.status !== 'confirmed').length;
  if (open > 0) reject('conflict', 'epoch', `epoch ${plan.epoch} has ${open} batches not confirmed`);
  return [
    {
      type: 'EpochSettled',
      data: {
        epoch: plan.epoch,
        mode: plan.mode,
        root: plan.root,
        // A web3 epoch pays its total into the distributor's vault (claims take it from there); one anchored by a Memo
        // alone (before distributors) paid nothing.
        paid: plan.batches.some((batch) => batch.kind === 'anchor') ? '0' : plan.total,
        leafCount: plan.leafCount,
        transactions: state.batches.length,
        feeLamports: state.feeLamports.toString(),
        rentLamports: state.rentLamports.toString(),
      },
    },
  ];
}

function requirePlan(state: PayoutState): SettlementPlan {
  if (!state.plan) reject('conflict', 'epoch', 'the settlement is not planned');
  return state.plan;
}

/** The terms of the epoch's distributor as created: those of its confirmed attempt (none before). */
export function createdDistributor(state: PayoutState): { accounts: DistributorAccounts; terms: DistributorTerms; signature: string } | null {
  const accounts = state.plan?.distributor;
  const batch = state.batches[0];
  if (!accounts || batch?.status !== 'confirmed' || !batch.current?.terms || !batch.confirmedSignature) return null;
  return { accounts, terms: batch.current.terms, signature: batch.confirmedSignature };
}

export type PayoutCommand =
  | { type: 'PlanSettlement'; data: Parameters<typeof planSettlement>[1] }
  | { type: 'RecordSigned'; data: { attempts: readonly Omit<SignedAttempt, 'attempt'>[] } }
  | { type: 'RecordOutcomes'; data: { outcomes: readonly AttemptOutcome[] } }
  | { type: 'CompleteSettlement' };

/** Paying an epoch's distribution, by the epoch's number: `payout-<epoch>`. Its evolve extends the state in place. */
export const payoutDecider: Decider<PayoutState, PayoutEvent, PayoutCommand, number> = {
  streamOf: payoutStream,
  initial: initialPayout,
  evolve: evolvePayout,
  decide(command, state) {
    switch (command.type) {
      case 'PlanSettlement':
        return planSettlement(state, command.data);
      case 'RecordSigned':
        return recordSigned(state, command.data.attempts);
      case 'RecordOutcomes':
        return recordOutcomes(state, command.data.outcomes);
      case 'CompleteSettlement':
        return completeSettlement(state);
    }
  },
  evolvesInPlace: true,
};
