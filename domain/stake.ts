import { checkSignature, proveStakeDeposit, requireNotCredited, type ChainProofClaim, type ObservedTransaction, type ProofAddresses } from './chain-proofs';
import { transferOrderId, type TransferOrder } from './chain-transfer';
import type { Decider } from './decider';
import { reject, repeatsRecorded } from './rejection';
import { Checks } from './values';

/**
 * A synqer's stake. Stream `stake-<synqerId>`. Active stake can be asked back; it stays locked for the policy's cooldown
 * (counted in epochs opened), and is withdrawn once. A slash takes active stake first, then stake waiting to be
 * withdrawn, and is capped at what is held (the cap is recorded).
 *
 * Stake is of two kinds, and the state keeps them apart: stake *backed* by tokens in the on-chain stake vault (deposits
 * proven on chain, which carry `sourceAccount`) and stake recorded in the books only (`POST /stake/deposits`, such as
 * the demo's genesis stakes). The vault pays back only what it received: a withdrawal or a slash moves on chain only its
 * backed part, and that transfer is ordered in the same event (`transfer`), so the books never say "withdrawn" without
 * the order that pays it. Books-only stake is settled in the books. Unstake requests and slashes take books-only stake
 * first (`backedPart`, `splitSlash`), so the vault keeps its tokens as long as possible.
 */

export type StakeEvent =
  /**
   * `sourceAccount` is set on a deposit proven on chain: its `depositId` is then the transaction's signature (longer than
   * any id an operator can give) and this is the token account its $SYNQ came from into the stake vault.
   */
  | { type: 'StakeDeposited'; data: { synqerId: string; depositId: string; amount: string; sourceAccount?: string } }
  /** `backed`: the part of `amount` that is on-chain-backed (informative: evolve derives it with `backedPart`). */
  | { type: 'UnstakeRequested'; data: { synqerId: string; requestId: string; amount: string; unlockEpoch: number; backed?: string } }
  /** `backed`: the part the vault pays back, by `transfer` (ordered in this same event); the rest is settled in the books. */
  | { type: 'StakeWithdrawn'; data: { synqerId: string; requestId: string; amount: string; backed?: string; transfer?: TransferOrder } }
  /** `backed`: the part of the slash held in the vault, moved to the treasury by `transfer` (ordered in this same event). */
  | {
      type: 'StakeSlashed';
      data: {
        synqerId: string;
        slashId: string;
        requested: string;
        amount: string;
        fromActive: string;
        reason: string;
        backed?: string;
        transfer?: TransferOrder;
      };
    };

export interface Unstaking {
  amount: bigint;
  /** The part of `amount` backed by tokens in the stake vault. */
  backed: bigint;
  unlockEpoch: number;
  withdrawn: boolean;
}

export interface StakeState {
  active: bigint;
  /** The part of `active` backed by tokens in the stake vault (deposits proven on chain). */
  activeBacked: bigint;
  /** Requests in the order they were made. */
  unstaking: Map<string, Unstaking>;
  slashed: bigint;
  /** Operation (`deposit:<id>`, `request:<id>`, `slash:<id>`) → its content as asked, to tell a retry from a reuse of the id. */
  operations: Map<string, Record<string, string>>;
}

export const stakeStream = (synqerId: string) => `stake-${synqerId}`;
export const initialStake = (): StakeState => ({ active: 0n, activeBacked: 0n, unstaking: new Map(), slashed: 0n, operations: new Map() });

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** How much of `amount` taken from `total` (of which `backed` is on-chain-backed) is backed: books-only stake goes first. */
export const backedPart = (amount: bigint, total: bigint, backed: bigint): bigint => {
  const booksOnly = total - backed;
  return amount > booksOnly ? min(amount - booksOnly, backed) : 0n;
};

/**
 * A slash of `amount` (already capped at what is held): `fromActive` from active stake, the rest from requests not yet
 * withdrawn, latest first; books-only stake first within each. Returns the requests after it and the backed part taken.
 */
export function splitSlash(
  state: StakeState,
  amount: bigint,
): { fromActive: bigint; fromActiveBacked: bigint; unstaking: Map<string, Unstaking>; backed: bigint } {
  const fromActive = min(amount, state.active);
  const fromActiveBacked = backedPart(fromActive, state.active, state.activeBacked);
  let backed = fromActiveBacked;
  const unstaking = new Map(state.unstaking);
  let fromUnstaking = amount - fromActive;
  for (const [id, request] of [...unstaking.entries()].reverse()) {
    if (fromUnstaking === 0n || request.withdrawn) continue;
    const take = min(request.amount, fromUnstaking);
    const takeBacked = backedPart(take, request.amount, request.backed);
    unstaking.set(id, { ...request, amount: request.amount - take, backed: request.backed - takeBacked });
    backed += takeBacked;
    fromUnstaking -= take;
  }
  return { fromActive, fromActiveBacked, unstaking, backed };
}

export function evolveStake(state: StakeState, event: StakeEvent): StakeState {
  const operations = new Map(state.operations);
  const unstaking = new Map(state.unstaking);
  switch (event.type) {
    case 'StakeDeposited': {
      operations.set(`deposit:${event.data.depositId}`, { amount: event.data.amount });
      const amount = BigInt(event.data.amount);
      return { ...state, operations, active: state.active + amount, activeBacked: state.activeBacked + (event.data.sourceAccount === undefined ? 0n : amount) };
    }
    case 'UnstakeRequested': {
      const amount = BigInt(event.data.amount);
      const backed = backedPart(amount, state.active, state.activeBacked);
      unstaking.set(event.data.requestId, { amount, backed, unlockEpoch: event.data.unlockEpoch, withdrawn: false });
      operations.set(`request:${event.data.requestId}`, { amount: event.data.amount });
      return { ...state, operations, unstaking, active: state.active - amount, activeBacked: state.activeBacked - backed };
    }
    case 'StakeWithdrawn': {
      const request = unstaking.get(event.data.requestId)!;
      unstaking.set(event.data.requestId, { ...request, withdrawn: true });
      return { ...state, unstaking };
    }
    case 'StakeSlashed': {
      operations.set(`slash:${event.data.slashId}`, { amount: event.data.requested, reason: event.data.reason });
      const split = splitSlash(state, BigInt(event.data.amount));
      return {
        ...state,
        operations,
        unstaking: split.unstaking,
        active: state.active - split.fromActive,
        activeBacked: state.activeBacked - split.fromActiveBacked,
        slashed: state.slashed + BigInt(event.data.amount),
      };
    }
  }
}

/** Stake still held: active plus asked back but not yet withdrawn. */
export const heldStake = (state: StakeState) => [...state.unstaking.values()].filter((r) => !r.withdrawn).reduce((sum, r) => sum + r.amount, state.active);

/** The part of the stake held that the vault owes: on-chain-backed, not withdrawn or slashed. */
export const heldBackedStake = (state: StakeState) =>
  [...state.unstaking.values()].filter((r) => !r.withdrawn).reduce((sum, r) => sum + r.backed, state.activeBacked);

export function deposit(state: StakeState, synqerId: string, command: { depositId: unknown; amount: unknown }): StakeEvent[] {
  const checks = new Checks();
  const depositId = checks.id('depositId', command.depositId);
  const amount = checks.amount('amount', command.amount);
  checks.done();
  if (repeatsRecorded(`deposit ${depositId}`, state.operations.get(`deposit:${depositId}`), { amount: amount.toString() })) return [];
  return [{ type: 'StakeDeposited', data: { synqerId, depositId, amount: amount.toString() } }];
}

/** What the engine read from the chain about a stake deposit, as plain data (src/stakes fetches it through the gateway). */
export interface OnChainDepositFacts {
  signature: string;
  /** The claim on `chainproof-<signature>`, if the signature was claimed before. */
  claim: ChainProofClaim | undefined;
  /** The landed transaction; null when the chain does not know the signature. */
  transaction: ObservedTransaction | null;
}

/**
 * Credits a stake deposit proven on chain (domain/chain-proofs.ts `proveStakeDeposit`): $SYNQ transferred into the stake
 * vault with the memo `synq:stake:<synqerId>`. Recorded as `StakeDeposited` whose depositId is the signature. Refused
 * when the signature is credited already, to this synqer or any other account.
 */
export function depositOnChain(state: StakeState, synqerId: string, facts: OnChainDepositFacts, addresses: ProofAddresses): StakeEvent[] {
  const signature = checkSignature(facts.signature);
  requireNotCredited(facts.claim, stakeStream(synqerId), state.operations.has(`deposit:${signature}`));
  const deposit = proveStakeDeposit(facts.transaction, addresses, synqerId);
  return [{ type: 'StakeDeposited', data: { synqerId, depositId: signature, amount: deposit.amount.toString(), sourceAccount: deposit.sourceAccount } }];
}

/** `lastOpenedEpoch` and `cooldownEpochs` from the ledger and the policy in force. */
export function requestUnstake(
  state: StakeState,
  synqerId: string,
  command: { requestId: unknown; amount: unknown },
  lastOpenedEpoch: number,
  cooldownEpochs: number,
): StakeEvent[] {
  const checks = new Checks();
  const requestId = checks.id('requestId', command.requestId);
  const amount = checks.amount('amount', command.amount);
  checks.done();
  if (repeatsRecorded(`unstake request ${requestId}`, state.operations.get(`request:${requestId}`), { amount: amount.toString() })) return [];
  if (amount > state.active) reject('conflict', 'amount', `exceeds the active stake (${state.active} base units)`);
  const backed = backedPart(amount, state.active, state.activeBacked);
  return [
    {
      type: 'UnstakeRequested',
      data: { synqerId, requestId, amount: amount.toString(), unlockEpoch: lastOpenedEpoch + cooldownEpochs, backed: backed.toString() },
    },
  ];
}

/** Where the vault returns backed stake (plain data from the books, src/stakes): the synqer's payout wallet, if any. */
export interface VaultContext {
  payoutWallet: string | null;
}

/**
 * Withdraws an unlocked request. Its backed part leaves the vault for the synqer's payout wallet: the transfer is ordered
 * in the withdrawal's own event, so no crash can leave one without the other. A request withdrawn already is a retry
 * (the transfer it ordered is resumed by the caller), not a conflict.
 */
export function withdraw(
  state: StakeState,
  synqerId: string,
  command: { requestId: unknown },
  lastOpenedEpoch: number,
  vault: VaultContext | null = null,
): StakeEvent[] {
  const checks = new Checks();
  const requestId = checks.id('requestId', command.requestId);
  checks.done();
  const request = state.unstaking.get(requestId);
  if (!request) reject('not_found', 'requestId', `no unstake request ${requestId}`);
  if (request.withdrawn) return [];
  if (lastOpenedEpoch < request.unlockEpoch) {
    reject('conflict', 'requestId', `stake is locked until epoch ${request.unlockEpoch} opens (the last opened is ${lastOpenedEpoch})`);
  }
  if (request.amount === 0n) reject('conflict', 'requestId', 'nothing is left to withdraw: the request was slashed');
  const data: Extract<StakeEvent, { type: 'StakeWithdrawn' }>['data'] = { synqerId, requestId, amount: request.amount.toString() };
  if (request.backed > 0n) {
    if (!vault) reject('conflict', 'requestId', `${request.backed} base units of this request are held in the stake vault and the chain is not set up`);
    if (!vault.payoutWallet)
      reject(
        'conflict',
        'requestId',
        `${request.backed} base units of this request are held in the stake vault: the synqer has no payout wallet to return them to`,
      );
    data.backed = request.backed.toString();
    data.transfer = {
      orderId: transferOrderId('stake_withdrawal', synqerId, requestId),
      kind: 'stake_withdrawal',
      source: 'stake_vault',
      recipientWallet: vault.payoutWallet,
      toTreasury: false,
      amount: request.backed.toString(),
      reference: `${synqerId}/${requestId}`,
    };
  }
  return [{ type: 'StakeWithdrawn', data }];
}

export function slash(state: StakeState, synqerId: string, command: { slashId: unknown; amount: unknown; reason: unknown }): StakeEvent[] {
  const checks = new Checks();
  const slashId = checks.id('slashId', command.slashId);
  const requested = checks.amount('amount', command.amount);
  const reason = checks.text('reason', command.reason, 500, { multiline: true });
  checks.done();
  if (repeatsRecorded(`slash ${slashId}`, state.operations.get(`slash:${slashId}`), { amount: requested.toString(), reason })) return [];
  const held = heldStake(state);
  const amount = requested < held ? requested : held;
  if (amount === 0n) reject('conflict', 'amount', 'the synqer holds no stake to slash');
  const { fromActive, backed } = splitSlash(state, amount);
  const data: Extract<StakeEvent, { type: 'StakeSlashed' }>['data'] = {
    synqerId,
    slashId,
    requested: requested.toString(),
    amount: amount.toString(),
    fromActive: fromActive.toString(),
    reason,
  };
  if (backed > 0n) {
    data.backed = backed.toString();
    // The backed part leaves the vault for the treasury, ordered in this same event (the chain is set up: it was proven there).
    data.transfer = {
      orderId: transferOrderId('slash', synqerId, slashId),
      kind: 'slash',
      source: 'stake_vault',
      recipientWallet: null,
      toTreasury: true,
      amount: backed.toString(),
      reference: `${synqerId}/${slashId}`,
    };
  }
  return [{ type: 'StakeSlashed', data }];
}

export type StakeCommand =
  | { type: 'DepositStake'; data: { synqerId: string; depositId: unknown; amount: unknown } }
  | { type: 'CreditOnChainDeposit'; data: { synqerId: string; facts: OnChainDepositFacts; addresses: ProofAddresses } }
  /** `lastOpenedEpoch` and `cooldownEpochs` from the ledger and the policy in force. */
  | { type: 'RequestUnstake'; data: { synqerId: string; requestId: unknown; amount: unknown; lastOpenedEpoch: number; cooldownEpochs: number } }
  /** `vault`: where the vault returns backed stake (null when the chain is not set up). */
  | { type: 'WithdrawStake'; data: { synqerId: string; requestId: unknown; lastOpenedEpoch: number; vault: VaultContext | null } }
  | { type: 'SlashStake'; data: { synqerId: string; slashId: unknown; amount: unknown; reason: unknown } };

/** A synqer's stake, by the synqer's id: `stake-<synqerId>`. */
export const stakeDecider: Decider<StakeState, StakeEvent, StakeCommand, string> = {
  streamOf: stakeStream,
  initial: initialStake,
  evolve: evolveStake,
  decide(command, state) {
    const { synqerId } = command.data;
    switch (command.type) {
      case 'DepositStake':
        return deposit(state, synqerId, command.data);
      case 'CreditOnChainDeposit':
        return depositOnChain(state, synqerId, command.data.facts, command.data.addresses);
      case 'RequestUnstake':
        return requestUnstake(state, synqerId, command.data, command.data.lastOpenedEpoch, command.data.cooldownEpochs);
      case 'WithdrawStake':
        return withdraw(state, synqerId, command.data, command.data.lastOpenedEpoch, command.data.vault);
      case 'SlashStake':
        return slash(state, synqerId, command.data);
    }
  },
};
