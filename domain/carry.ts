import { orderByKeyBytes, U64_MAX, walletKeys, type Payout } from './merkle-distribution';

/**
 * Rewards carried forward (issue 15): what a payout wallet is owed but not paid in an epoch's distribution, and when
 * it is paid after all.
 *
 * - Minimum payout. A wallet whose summed payout this epoch, with what it already has carried, is below the policy's
 *   `minimumPayout` gets no leaf (no dust transfer, no dust claim): its payout is carried out, and stays outstanding.
 *   A wallet whose sum reaches the minimum gets one leaf of its payout plus everything it has outstanding (carried in),
 *   also when it earned nothing this epoch.
 * - Unclaimed web3 rewards. After a clawback, when the policy says `carry`, the leaves nobody claimed are recorded as
 *   `UnclaimedRewardsCarried` (stream `clawback-<epoch>`, domain/clawback.ts) and become outstanding at that event's place in the log.
 *
 * Outstanding balances are owed by the treasury, reserved like an unpaid pool. Every fold of the log that builds a
 * distribution (the settlement projection, the auditor's replay) keeps them the same way: `carryForward` at each
 * `EpochClosed` in log order, `addCarried` at each `UnclaimedRewardsCarried`. Carries are per payout wallet, because
 * leaves are (domain/merkle-distribution.ts).
 *
 * Pure: no I/O, no clock.
 */

export interface CarryEntry {
  /** The payout wallet, base58. */
  wallet: string;
  /** Base units, decimal. */
  amount: string;
}

/** Leaves left unclaimed at a web3 clawback, carried into their wallets' next leaves (stream `clawback-<epoch>`). */
export interface UnclaimedRewardsCarried {
  /** The epoch whose distribution they were left unclaimed in. */
  epoch: number;
  entries: CarryEntry[];
  /** Σ entries' amounts. */
  total: string;
}

export type CarryEvent = { type: 'UnclaimedRewardsCarried'; data: UnclaimedRewardsCarried };

/** What an epoch's distribution carried: recorded on `epoch-<n>` with `EpochDistributionBuilt`, when there is any. */
export interface RewardsCarriedForward {
  epoch: number;
  /** Outstanding balances paid in this epoch's leaves, in tree order. */
  carriedIn: CarryEntry[];
  /** Payouts of this epoch below the minimum, left outstanding, in key byte order. */
  carriedOut: CarryEntry[];
}

/** Outstanding carried balances: wallet → base units (always above 0; a wallet paid off is removed). */
export type Outstanding = Map<string, bigint>;

export interface CarryOutcome {
  /** Wallet amounts for the tree: payout + carried in; every one ≥ the minimum and > 0; in key byte order. */
  leaves: Payout[];
  /** The leaves' wallets decoded, 32 bytes each in leaf order: `buildDistribution` takes them instead of decoding again. */
  leafKeys: Buffer;
  carriedIn: { wallet: string; amount: bigint }[];
  carriedOut: { wallet: string; amount: bigint }[];
  carriedInTotal: bigint;
  carriedOutTotal: bigint;
  /** The balances after this epoch (a new map; the one given is not changed). */
  outstanding: Outstanding;
}

/**
 * An epoch's leaves and carries, from its payouts (several to one wallet are summed, as the tree does), the balances
 * outstanding at its close, and its policy's minimum payout (0: no minimum, every outstanding balance is paid off).
 */
export function carryForward(payouts: readonly Payout[], outstanding: ReadonlyMap<string, bigint>, minimumPayout: bigint): CarryOutcome {
  if (minimumPayout < 0n) throw new Error(`minimum payout ${minimumPayout} is negative`);
  for (const { wallet, amount } of payouts) if (amount < 0n) throw new Error(`payout to ${wallet}: amount ${amount} is negative`);
  // The payouts, then the balances outstanding, each decoded once and ordered by key bytes: the entries of one wallet
  // are side by side (no map from wallet to sum), in tree order, and their keys are handed on to the tree.
  const carriedWallets = [...outstanding.keys()];
  const count = payouts.length + carriedWallets.length;
  const walletAt = (i: number) => (i < payouts.length ? payouts[i].wallet : carriedWallets[i - payouts.length]);
  const keys = walletKeys(
    Array.from({ length: count }, (_, i) => i),
    walletAt,
  );
  const order = orderByKeyBytes(keys, count);
  const leafKeys = Buffer.allocUnsafe(keys.length);

  const outcome: CarryOutcome = { leaves: [], leafKeys, carriedIn: [], carriedOut: [], carriedInTotal: 0n, carriedOutTotal: 0n, outstanding: new Map() };
  for (let run = 0; run < count;) {
    const first = order === undefined ? run : order[run];
    const wallet = walletAt(first);
    let payout = 0n;
    let carried = 0n;
    for (; run < count; run++) {
      const i = order === undefined ? run : order[run];
      if (i !== first && !sameKey(keys, first, i)) break;
      if (i < payouts.length) payout += payouts[i].amount;
      else carried = outstanding.get(wallet)!;
    }
    if (carried < 0n) throw new Error(`wallet ${wallet}: carried balance ${carried} is negative`);
    const amount = payout + carried;
    if (amount === 0n) continue;
    if (amount >= minimumPayout) {
      if (amount > U64_MAX) throw new Error(`wallet ${wallet}: amount ${amount} exceeds u64 max (${U64_MAX})`);
      const to = 32 * outcome.leaves.length;
      for (let k = 0; k < 32; k++) leafKeys[to + k] = keys[32 * first + k];
      outcome.leaves.push({ wallet, amount });
      if (carried > 0n) {
        outcome.carriedIn.push({ wallet, amount: carried });
        outcome.carriedInTotal += carried;
      }
    } else {
      if (payout > 0n) {
        outcome.carriedOut.push({ wallet, amount: payout });
        outcome.carriedOutTotal += payout;
      }
      outcome.outstanding.set(wallet, amount);
    }
  }
  outcome.leafKeys = leafKeys.subarray(0, 32 * outcome.leaves.length);
  return outcome;
}

/** Whether the keys of entries a and b (32 bytes each in `keys`) are the same. */
function sameKey(keys: Uint8Array, a: number, b: number): boolean {
  for (let k = 0; k < 32; k++) if (keys[32 * a + k] !== keys[32 * b + k]) return false;
  return true;
}

/** The balances after unclaimed leaves are carried (a new map). */
export function addCarried(outstanding: ReadonlyMap<string, bigint>, carried: UnclaimedRewardsCarried): Outstanding {
  const after = new Map(outstanding);
  for (const { wallet, amount } of carried.entries) {
    const value = BigInt(amount);
    if (value < 0n) throw new Error(`epoch ${carried.epoch}: unclaimed ${wallet} carried with a negative amount ${amount}`);
    if (value > 0n) after.set(wallet, (after.get(wallet) ?? 0n) + value);
  }
  return after;
}

/** What an epoch's distribution records of its carries, or nothing when it has none (old logs stay as they were). */
export function carriedForwardEvent(epoch: number, outcome: CarryOutcome): RewardsCarriedForward | undefined {
  if (outcome.carriedIn.length === 0 && outcome.carriedOut.length === 0) return undefined;
  const text = (entries: { wallet: string; amount: bigint }[]) => entries.map(({ wallet, amount }) => ({ wallet, amount: amount.toString() }));
  return { epoch, carriedIn: text(outcome.carriedIn), carriedOut: text(outcome.carriedOut) };
}

/** The payouts of a reward calculation: each synqer paid something, to its payout wallet (summed per wallet later). */
export const rewardPayouts = (results: readonly { reward: bigint; payoutWallet: string | null }[]): Payout[] =>
  results.filter((r) => r.reward > 0n && r.payoutWallet !== null).map((r) => ({ wallet: r.payoutWallet!, amount: r.reward }));

export const entriesTotal = (entries: readonly CarryEntry[]): bigint => entries.reduce((total, entry) => total + BigInt(entry.amount), 0n);

/** `items` ordered by their wallets' 32 key bytes, as the tree orders its leaves (a new array). */
export function inKeyOrder<T>(items: readonly T[], walletOf: (item: T) => string): T[] {
  const order = orderByKeyBytes(walletKeys(items, walletOf), items.length);
  return order === undefined ? [...items] : Array.from(order, (i) => items[i]);
}
