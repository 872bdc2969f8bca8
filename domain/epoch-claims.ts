import type { Decider } from './decider';
import { reject } from './rejection';

/**
 * Claims of a web3 epoch's distribution, as the books see them. Stream `claims-<epoch>`.
 *
 * Wallets claim their leaf from the epoch's Jito merkle distributor themselves: the chain, not the books, pays them.
 * The books record two things about it:
 *
 * 1. `RewardClaimObserved`: a ClaimStatus account was found on chain for a wallet of the distribution, with the
 *    transaction that created it. Once per wallet. A claim whose amount is not the wallet's leaf is refused: that is a
 *    discrepancy for verification to report, not a claim the books accept.
 * 2. Sponsored claims (a wallet with no SOL): the engine's sponsor key pays the fee, the ClaimStatus rent (moved to the
 *    claimant in the same transaction) and the claimant's token account where missing. The same exactly-once rule as
 *    payouts (domain/epoch-payout.ts): the attempt (signature, blockhash, last valid block height, wire, sponsor, rent)
 *    is recorded before it is sent, its outcome after, and a new attempt is allowed only once the last one is proven
 *    expired. One sponsored claim per wallet per epoch: a failed attempt (its fee was paid) is not retried.
 *
 * The sponsor's public key is recorded in each attempt rather than once on `chain-setup`: the key that paid is named
 * beside what it paid, so per-epoch costs need no other stream, and a sponsor key replaced between epochs (it holds
 * only SOL, and may be rotated freely) is still attributed correctly.
 */

export interface ObservedClaim {
  epoch: number;
  wallet: string;
  /** Base units claimed (the ClaimStatus account's unlocked amount). */
  amount: string;
  /** The ClaimStatus account (base58). */
  claimStatus: string;
  /** The transaction that created the ClaimStatus account; empty when the chain no longer lists it. */
  signature: string;
  slot: string;
  /** Who paid that transaction's fee (its first signer), the fee, and the ClaimStatus rent, when the chain told. */
  feePayer?: string;
  fee?: string;
  rentLamports?: string;
}

export interface SponsoredAttempt {
  epoch: number;
  wallet: string;
  amount: string;
  attempt: number;
  /** The sponsor's signature: the fee payer's, the transaction's id. */
  signature: string;
  blockhash: string;
  lastValidBlockHeight: string;
  /** The transaction, signed by the claimant and the sponsor (base64). */
  wire: string;
  /** The sponsor's public key (base58). */
  sponsor: string;
  /** Lamports of rent the sponsor pays if it lands: the ClaimStatus rent, and the token account's where it was missing. */
  rentLamports: string;
}

export type EpochClaimsEvent =
  | { type: 'RewardClaimObserved'; data: ObservedClaim }
  | { type: 'SponsoredClaimSigned'; data: SponsoredAttempt }
  | { type: 'SponsoredClaimConfirmed'; data: { epoch: number; wallet: string; signature: string; slot: string; fee: string; rentLamports: string } }
  | { type: 'SponsoredClaimFailed'; data: { epoch: number; wallet: string; signature: string; slot: string; fee: string; error: string } }
  | { type: 'SponsoredClaimExpired'; data: { epoch: number; wallet: string; signature: string; blockHeight: string } };

export interface SponsoredClaimState {
  status: 'awaiting' | 'confirmed' | 'failed' | 'expired';
  attempts: number;
  current: SponsoredAttempt;
  slot?: string;
  feeLamports: bigint;
  /** Rent actually paid: only a confirmed attempt's (a failed transaction moves nothing but its fee). */
  rentLamports: bigint;
  error?: string;
}

export interface EpochClaimsState {
  observed: Map<string, ObservedClaim>;
  sponsored: Map<string, SponsoredClaimState>;
}

export const claimsStream = (epoch: number) => `claims-${epoch}`;
export const initialEpochClaims = (): EpochClaimsState => ({ observed: new Map(), sponsored: new Map() });

/** Extends the state in place: an epoch of 100,000 claims folds 100,000 events. */
export function evolveEpochClaims(state: EpochClaimsState, event: EpochClaimsEvent): EpochClaimsState {
  switch (event.type) {
    case 'RewardClaimObserved':
      state.observed.set(event.data.wallet, event.data);
      return state;
    case 'SponsoredClaimSigned': {
      const before = state.sponsored.get(event.data.wallet);
      state.sponsored.set(event.data.wallet, {
        status: 'awaiting',
        attempts: (before?.attempts ?? 0) + 1,
        current: event.data,
        feeLamports: before?.feeLamports ?? 0n,
        rentLamports: before?.rentLamports ?? 0n,
      });
      return state;
    }
    case 'SponsoredClaimConfirmed': {
      const claim = state.sponsored.get(event.data.wallet)!;
      claim.status = 'confirmed';
      claim.slot = event.data.slot;
      claim.feeLamports += BigInt(event.data.fee);
      claim.rentLamports += BigInt(event.data.rentLamports);
      return state;
    }
    case 'SponsoredClaimFailed': {
      const claim = state.sponsored.get(event.data.wallet)!;
      claim.status = 'failed';
      claim.slot = event.data.slot;
      claim.feeLamports += BigInt(event.data.fee);
      claim.error = event.data.error;
      return state;
    }
    case 'SponsoredClaimExpired':
      state.sponsored.get(event.data.wallet)!.status = 'expired';
      return state;
  }
}

/** A claim found on chain, with the leaf the books have for its wallet (null: the wallet has no leaf in this epoch). */
export interface ClaimSighting extends ObservedClaim {
  leafAmount: string | null;
}

/** Why a sighting cannot be recorded as the wallet's claim (null: it can). What verification reports as a discrepancy. */
export function sightingProblem(sighting: ClaimSighting): string | null {
  if (sighting.leafAmount === null) return `wallet ${sighting.wallet} has no leaf in epoch ${sighting.epoch}`;
  if (sighting.amount !== sighting.leafAmount) return `claimed ${sighting.amount}, but the leaf of ${sighting.wallet} is ${sighting.leafAmount}`;
  return null;
}

/** Records claims seen on chain: each wallet once; a repeat is nothing new; an amount other than the leaf's is refused. */
export function observeClaims(state: EpochClaimsState, sightings: readonly ClaimSighting[]): EpochClaimsEvent[] {
  const events: EpochClaimsEvent[] = [];
  const seen = new Set<string>();
  for (const sighting of sightings) {
    const problem = sightingProblem(sighting);
    if (problem) reject('conflict', 'amount', problem);
    if (seen.has(sighting.wallet)) continue;
    seen.add(sighting.wallet);
    const { leafAmount: _leaf, ...claim } = sighting;
    const recorded = state.observed.get(claim.wallet);
    if (recorded) {
      if (recorded.claimStatus !== claim.claimStatus || recorded.amount !== claim.amount)
        reject('conflict', 'wallet', `the claim of ${claim.wallet} is recorded already with ClaimStatus ${recorded.claimStatus} and amount ${recorded.amount}`);
      continue;
    }
    events.push({ type: 'RewardClaimObserved', data: claim });
  }
  return events;
}

/** What a sponsored claim must satisfy beside the transaction itself (checked by the engine against the chain). */
export interface SponsoredClaimRequest {
  attempt: Omit<SponsoredAttempt, 'attempt'>;
  /** The policy's `sponsoredClaimMinimum` for the epoch. */
  minimum: string;
  /** Whether the chain has the wallet's ClaimStatus already. */
  claimedOnChain: boolean;
}

/**
 * Records a sponsored claim's attempt before it is sent. The same transaction posted again (same signature) is
 * nothing new: its caller resolves the recorded attempt. Refused: below the policy's minimum, a wallet that claimed
 * already, and a second sponsored claim (a new attempt only once the last is proven expired).
 */
export function signSponsoredClaim(state: EpochClaimsState, request: SponsoredClaimRequest): EpochClaimsEvent[] {
  const { attempt } = request;
  const existing = state.sponsored.get(attempt.wallet);
  if (existing?.current.signature === attempt.signature) return [];
  if (BigInt(attempt.amount) < BigInt(request.minimum))
    reject('conflict', 'amount', `${attempt.amount} is below the sponsored-claim minimum of ${request.minimum}: claim it with your own SOL`);
  const observed = state.observed.get(attempt.wallet);
  if (observed) reject('conflict', 'wallet', `${attempt.wallet} has claimed already (${observed.signature || observed.claimStatus})`);
  if (request.claimedOnChain) reject('conflict', 'wallet', `${attempt.wallet} has claimed already`);
  if (existing && existing.status !== 'expired')
    reject(
      'conflict',
      'wallet',
      existing.status === 'awaiting'
        ? `a sponsored claim of ${attempt.wallet} (${existing.current.signature}) may still land`
        : `${attempt.wallet} has had its sponsored claim in epoch ${attempt.epoch} (${existing.current.signature}, ${existing.status})`,
    );
  if (BigInt(attempt.lastValidBlockHeight) < 0n || BigInt(attempt.rentLamports) < 0n) reject('invalid', 'transaction', 'negative heights or rent');
  return [{ type: 'SponsoredClaimSigned', data: { ...attempt, attempt: (existing?.attempts ?? 0) + 1 } }];
}

export type SponsoredOutcome =
  | { wallet: string; signature: string; status: 'succeeded' | 'failed'; slot: bigint; fee: bigint; error?: string }
  | { wallet: string; signature: string; status: 'expired'; blockHeight: bigint };

/** The outcome of the wallet's current sponsored attempt; recorded once (a repeat of the recorded outcome is nothing new). */
export function recordSponsoredOutcome(state: EpochClaimsState, outcome: SponsoredOutcome): EpochClaimsEvent[] {
  const claim = state.sponsored.get(outcome.wallet);
  if (!claim || claim.current.signature !== outcome.signature)
    reject('conflict', 'signature', `${outcome.signature} is not a sponsored claim of ${outcome.wallet}`);
  const expected = outcome.status === 'succeeded' ? 'confirmed' : outcome.status;
  if (claim.status !== 'awaiting') {
    if (claim.status === expected) return [];
    reject('conflict', 'signature', `${outcome.signature} is recorded ${claim.status}`);
  }
  const { epoch, wallet } = claim.current;
  if (outcome.status === 'expired') {
    if (outcome.blockHeight <= BigInt(claim.current.lastValidBlockHeight))
      reject('conflict', 'signature', `${outcome.signature} can still land until block ${claim.current.lastValidBlockHeight}`);
    return [{ type: 'SponsoredClaimExpired', data: { epoch, wallet, signature: outcome.signature, blockHeight: outcome.blockHeight.toString() } }];
  }
  const common = { epoch, wallet, signature: outcome.signature, slot: outcome.slot.toString(), fee: outcome.fee.toString() };
  return outcome.status === 'succeeded'
    ? [{ type: 'SponsoredClaimConfirmed', data: { ...common, rentLamports: claim.current.rentLamports } }]
    : [{ type: 'SponsoredClaimFailed', data: { ...common, error: outcome.error ?? 'failed' } }];
}

/** What an epoch's claims cost the engine, for cost reporting: claims seen, those sponsored, and the sponsor's lamports. */
export function claimCosts(state: EpochClaimsState): { claims: number; sponsoredClaims: number; sponsorLamports: bigint; claimantLamports: bigint } {
  let sponsoredClaims = 0;
  let sponsorLamports = 0n;
  for (const claim of state.sponsored.values()) {
    if (claim.status === 'confirmed') sponsoredClaims++;
    sponsorLamports += claim.feeLamports + claim.rentLamports;
  }
  const claimed = new Set(state.observed.keys());
  for (const [wallet, claim] of state.sponsored) if (claim.status === 'confirmed') claimed.add(wallet);
  // What wallets paid themselves: the fee and the ClaimStatus rent of each claim they sent as its fee payer.
  let claimantLamports = 0n;
  for (const claim of state.observed.values()) {
    if (claim.feePayer !== claim.wallet) continue;
    claimantLamports += BigInt(claim.fee ?? '0') + BigInt(claim.rentLamports ?? '0');
  }
  return { claims: claimed.size, sponsoredClaims, sponsorLamports, claimantLamports };
}

/** The signatures of confirmed sponsored claims: how a claim seen on chain is known to be sponsored. */
export const sponsoredSignatures = (state: EpochClaimsState): Set<string> =>
  new Set([...state.sponsored.values()].filter((claim) => claim.status === 'confirmed').map((claim) => claim.current.signature));

export type EpochClaimsCommand =
  | { type: 'ObserveClaims'; data: { sightings: readonly ClaimSighting[] } }
  | { type: 'SignSponsoredClaim'; data: SponsoredClaimRequest }
  | { type: 'RecordSponsoredOutcome'; data: SponsoredOutcome };

/** An epoch's claims, by the epoch's number: `claims-<epoch>`. Its evolve extends the state in place. */
export const epochClaimsDecider: Decider<EpochClaimsState, EpochClaimsEvent, EpochClaimsCommand, number> = {
  streamOf: claimsStream,
  initial: initialEpochClaims,
  evolve: evolveEpochClaims,
  decide(command, state) {
    switch (command.type) {
      case 'ObserveClaims':
        return observeClaims(state, command.data.sightings);
      case 'SignSponsoredClaim':
        return signSponsoredClaim(state, command.data);
      case 'RecordSponsoredOutcome':
        return recordSponsoredOutcome(state, command.data);
    }
  },
  evolvesInPlace: true,
};
