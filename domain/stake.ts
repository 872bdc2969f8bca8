import { checkSignature, proveStakeDeposit, requireNotCredited, type ChainProofClaim, type ObservedTransaction, type ProofAddresses } from './chain-proofs';
import type { Decider } from './decider';
import { reject, repeatsRecorded } from './rejection';
import { Checks } from './values';

/**
 * A synqer's stake. Stream `stake-<synqerId>`. Active stake can be asked back; it stays locked for the policy's cooldown
 * (counted in epochs opened), and is withdrawn once. A slash takes active stake first, then stake waiting to be
 * withdrawn, and is capped at what is held (the cap is recorded).
 */

export type StakeEvent =
  /**
   * `sourceAccount` is set on a deposit proven on chain: its `depositId` is then the transaction's signature (longer than
   * any id an operator can give) and this is the token account its $SYNQ came from into the stake vault.
   */
  | { type: 'StakeDeposited'; data: { synqerId: string; depositId: string; amount: string; sourceAccount?: string } }
  | { type: 'UnstakeRequested'; data: { synqerId: string; requestId: string; amount: string; unlockEpoch: number } }
  | { type: 'StakeWithdrawn'; data: { synqerId: string; requestId: string; amount: string } }
  | { type: 'StakeSlashed'; data: { synqerId: string; slashId: string; requested: string; amount: string; fromActive: string; reason: string } };

export interface Unstaking {
  amount: bigint;
  unlockEpoch: number;
  withdrawn: boolean;
}

export interface StakeState {
  active: bigint;
  /** Requests in the order they were made. */
  unstaking: Map<string, Unstaking>;
  slashed: bigint;
  /** Operation (`deposit:<id>`, `request:<id>`, `slash:<id>`) → its content as asked, to tell a retry from a reuse of the id. */
  operations: Map<string, Record<string, string>>;
}

export const stakeStream = (synqerId: string) => `stake-${synqerId}`;
export const initialStake = (): StakeState => ({ active: 0n, unstaking: new Map(), slashed: 0n, operations: new Map() });

export function evolveStake(state: StakeState, event: StakeEvent): StakeState {
  const operations = new Map(state.operations);
  const unstaking = new Map(state.unstaking);
  switch (event.type) {
    case 'StakeDeposited':
      operations.set(`deposit:${event.data.depositId}`, { amount: event.data.amount });
      return { ...state, operations, active: state.active + BigInt(event.data.amount) };
    case 'UnstakeRequested':
      unstaking.set(event.data.requestId, { amount: BigInt(event.data.amount), unlockEpoch: event.data.unlockEpoch, withdrawn: false });
      operations.set(`request:${event.data.requestId}`, { amount: event.data.amount });
      return { ...state, operations, unstaking, active: state.active - BigInt(event.data.amount) };
    case 'StakeWithdrawn': {
      const request = unstaking.get(event.data.requestId)!;
      unstaking.set(event.data.requestId, { ...request, withdrawn: true });
      return { ...state, unstaking };
    }
    case 'StakeSlashed': {
      operations.set(`slash:${event.data.slashId}`, { amount: event.data.requested, reason: event.data.reason });
      const fromActive = BigInt(event.data.fromActive);
      let fromUnstaking = BigInt(event.data.amount) - fromActive;
      for (const [id, request] of [...unstaking.entries()].reverse()) {
        if (fromUnstaking === 0n || request.withdrawn) continue;
        const take = request.amount < fromUnstaking ? request.amount : fromUnstaking;
        unstaking.set(id, { ...request, amount: request.amount - take });
        fromUnstaking -= take;
      }
      return { ...state, operations, unstaking, active: state.active - fromActive, slashed: state.slashed + BigInt(event.data.amount) };
    }
  }
}

/** Stake still held: active plus asked back but not yet withdrawn. */
export const heldStake = (state: StakeState) => [...state.unstaking.values()].filter((r) => !r.withdrawn).reduce((sum, r) => sum + r.amount, state.active);

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
  return [{ type: 'UnstakeRequested', data: { synqerId, requestId, amount: amount.toString(), unlockEpoch: lastOpenedEpoch + cooldownEpochs } }];
}

export function withdraw(state: StakeState, synqerId: string, command: { requestId: unknown }, lastOpenedEpoch: number): StakeEvent[] {
  const checks = new Checks();
  const requestId = checks.id('requestId', command.requestId);
  checks.done();
  const request = state.unstaking.get(requestId);
  if (!request) reject('not_found', 'requestId', `no unstake request ${requestId}`);
  if (request.withdrawn) reject('conflict', 'requestId', `unstake request ${requestId} was already withdrawn`);
  if (lastOpenedEpoch < request.unlockEpoch) {
    reject('conflict', 'requestId', `stake is locked until epoch ${request.unlockEpoch} opens (the last opened is ${lastOpenedEpoch})`);
  }
  if (request.amount === 0n) reject('conflict', 'requestId', 'nothing is left to withdraw: the request was slashed');
  return [{ type: 'StakeWithdrawn', data: { synqerId, requestId, amount: request.amount.toString() } }];
}

export function slash(state: StakeState, synqerId: string, command: { slashId: unknown; amount: unknown; reason: unknown }): StakeEvent[] {
  const checks = new Checks();
  const slashId = checks.id('slashId', command.slashId);
  const requested = checks.amount('amount', command.amount);
  const reason = checks.text('reason', command.reason);
  checks.done();
  if (repeatsRecorded(`slash ${slashId}`, state.operations.get(`slash:${slashId}`), { amount: requested.toString(), reason })) return [];
  const held = heldStake(state);
  const amount = requested < held ? requested : held;
  if (amount === 0n) reject('conflict', 'amount', 'the synqer holds no stake to slash');
  const fromActive = amount < state.active ? amount : state.active;
  return [
    {
      type: 'StakeSlashed',
      data: { synqerId, slashId, requested: requested.toString(), amount: amount.toString(), fromActive: fromActive.toString(), reason },
    },
  ];
}

export type StakeCommand =
  | { type: 'DepositStake'; data: { synqerId: string; depositId: unknown; amount: unknown } }
  | { type: 'CreditOnChainDeposit'; data: { synqerId: string; facts: OnChainDepositFacts; addresses: ProofAddresses } }
  /** `lastOpenedEpoch` and `cooldownEpochs` from the ledger and the policy in force. */
  | { type: 'RequestUnstake'; data: { synqerId: string; requestId: unknown; amount: unknown; lastOpenedEpoch: number; cooldownEpochs: number } }
  | { type: 'WithdrawStake'; data: { synqerId: string; requestId: unknown; lastOpenedEpoch: number } }
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
        return withdraw(state, synqerId, command.data, command.data.lastOpenedEpoch);
      case 'SlashStake':
        return slash(state, synqerId, command.data);
    }
  },
};
