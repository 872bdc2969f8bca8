import type { ChainSetup } from './chain-setup';
import type { Decider } from './decider';
import { anchorMemo, payoutMemo, type PayoutState } from './epoch-payout';
import { treasuryReservations, unsentVaultOrders, type KnownOrder } from './liabilities';
import type { EpochInfo } from './network';
import type { SettlementMode } from './settlement-control';
import { CLAWBACK_DISCRIMINATOR, NEW_CLAIM_DISCRIMINATOR, type ClaimStatusAccount, type MerkleDistributorAccount } from './jito-distributor';

/**
 * Replay-verification: what the event history implies the chain must hold, compared with what it holds. The engine
 * fetches the facts (src/verification); this module decides, from plain data, every discrepancy and its type.
 *
 * The books imply:
 * - every confirmed settlement transaction exists, succeeded, and moved exactly the planned amounts from the treasury
 *   to the planned recipients' token accounts, with the batch's memo; every anchored root is on chain as recorded;
 *   a web3 epoch's transaction created its distributor and moved exactly the total into the distributor's vault;
 * - nothing else left the treasury or the stake vault (a transfer out of band that repeats a leaf is a leaf paid twice);
 * - treasury = opening balance − hybrid payouts − web3 distributor funding; stake vault = opening balance + stake deposits proven on chain;
 *   mint supply = supply at setup − burns credited;
 * - every burn and stake deposit credited from the chain is there, succeeded, and moved what was credited;
 * - liabilities, not only transfers (domain/liabilities.ts): the treasury holds at least what is reserved (pools not
 *   yet paid, transfers ordered and not yet sent); the stake vault holds exactly the on-chain-backed stake it owes
 *   (plus its opening balance); every purchase delivered on chain left the books' balance; no backed stake is
 *   withdrawn without the transfer that pays it. (The mint supply against the books is `mint_supply_mismatch`.)
 * - every web3 epoch's distributor funded in the books is on chain with the books' root, total and leaf count; every
 *   ClaimStatus of a leaf's wallet unlocked exactly the leaf's amount; the distributor's claimed total and count are
 *   what those ClaimStatus accounts explain; its vault holds funded − claimed (nothing once clawed back, which returns
 *   the rest to the treasury, its clawback receiver); nothing left the vault but claims by leaf wallets and the clawback.
 */

export const DISCREPANCY_TYPES = [
  'payout_transaction_missing',
  'payout_transaction_failed',
  'payout_transfer_mismatch',
  'payout_memo_mismatch',
  'leaf_paid_twice',
  'unrecorded_treasury_transfer',
  'unrecorded_stake_vault_transfer',
  'treasury_balance_mismatch',
  'stake_vault_balance_mismatch',
  'mint_supply_mismatch',
  'burn_not_on_chain',
  'stake_deposit_not_on_chain',
  'anchor_missing',
  'anchor_mismatch',
  'distributor_funding_mismatch',
  'distributor_missing',
  'distributor_root_mismatch',
  'distributor_total_mismatch',
  'distributor_vault_mismatch',
  'distributor_clawed_back_early',
  'claim_amount_mismatch',
  'claim_unexplained',
  'chain_transfer_missing',
  'chain_transfer_mismatch',
  'treasury_below_reserved',
  'stake_vault_backing_mismatch',
  'delivered_purchase_in_books',
  'stake_withdrawal_not_ordered',
  'checkpoint_mismatch',
] as const;
export type DiscrepancyType = (typeof DISCREPANCY_TYPES)[number];

export interface Discrepancy {
  type: DiscrepancyType;
  epoch: number | null;
  account: string | null;
  signature: string | null;
  /** What the books imply, and what the chain holds (amounts in base units, as decimal strings). */
  expected: string | null;
  actual: string | null;
  detail: string;
}

/** A transaction as the chain reports it, reduced to what verification reads. */
export interface ChainTransactionFacts {
  signature: string;
  error: string | null;
  signers: string[];
  instructions: { programId: string; accounts: string[]; data: Uint8Array }[];
}

export interface PayoutLeaf {
  wallet: string;
  /** The wallet's associated $SYNQ token account. */
  account: string;
  amount: bigint;
}

export interface ProvenCredit {
  kind: 'burn' | 'stake_deposit';
  signature: string;
  /** The token account burnt from, or the stake vault deposited into. */
  account: string;
  amount: bigint;
  who: string;
}

/** A transfer the books ordered (domain/chain-transfer.ts), with its accounts resolved. */
export interface OrderedTransfer {
  orderId: string;
  status: 'unsigned' | 'awaiting' | 'confirmed' | 'failed' | 'expired';
  /** Every signature of its attempts, and the last one. */
  signatures: readonly string[];
  current: string | null;
  source: string;
  destination: string;
  amount: bigint;
  memo: string;
}

/** A leaf of a web3 epoch's distribution, with the ClaimStatus of its wallet on the epoch's distributor. */
export interface DistributorLeafFacts extends PayoutLeaf {
  /** The ClaimStatus PDA of (wallet, distributor). */
  claimStatus: string;
  /** Null while the wallet has not claimed (or the account there is not a ClaimStatus). */
  claim: ClaimStatusAccount | null;
}

/** What the chain holds of a web3 epoch's distributor (src/verification reads it for each distributor funded in the books). */
export interface DistributorFacts {
  epoch: number;
  /** The account at the planned address, decoded; null when there is none (or it is not a MerkleDistributor). */
  account: MerkleDistributorAccount | null;
  /** The planned vault's token balance; null when there is no token account. */
  vaultBalance: bigint | null;
  /** Every leaf of the books' distribution, in distribution order. */
  leaves: readonly DistributorLeafFacts[];
  /** Every signature naming the vault (the funding, claims, the clawback), oldest first; their transactions are in `transactions`. */
  vaultSignatures: readonly string[];
}

/** A claim the chain holds, as the books may record it (who claimed, how much, in which transaction when known). */
export interface ObservedClaim {
  epoch: number;
  distributor: string;
  wallet: string;
  claimStatus: string;
  amount: bigint;
  /** The transaction naming the vault whose new_claim this wallet signed; null when none was found. */
  signature: string | null;
}

export interface VerificationInput {
  setup: ChainSetup;
  programs: { token: string; memo: string; distributor: string };
  /** Every epoch's payout stream, with its leaves for hybrid epochs (in distribution order). */
  payouts: { state: PayoutState; leaves: readonly PayoutLeaf[] }[];
  credits: readonly ProvenCredit[];
  transfers: readonly OrderedTransfer[];
  /** Every transaction the chain has for the signatures asked (recorded attempts, credits, and those naming the treasury or vault). */
  transactions: ReadonlyMap<string, ChainTransactionFacts>;
  treasurySignatures: readonly string[];
  stakeVaultSignatures: readonly string[];
  balances: { treasury: bigint | null; stakeVault: bigint | null; mintSupply: bigint | null };
  /** The distributor of every web3 epoch funded in the books; an epoch funded in the books and not here is `distributor_missing`. */
  distributors: readonly DistributorFacts[];
  /** The chain clock's unix time when the facts were read (a distributor clawed back before its clawback start). */
  chainClock: bigint | null;
  /** What the books owe (src/settlement/liabilities.ts). */
  liabilities: {
    epochs: readonly EpochInfo[];
    /** Every transfer ordered, with its status; orders recorded only in the event that made them are `unordered`. */
    orders: readonly KnownOrder[];
    /** On-chain-backed stake held over all synqers. */
    backedStakeOwed: bigint;
    /** `developerId/purchaseId` and whether the purchase was recorded as delivered on chain. */
    purchases: readonly { reference: string; delivered: boolean }[];
    withdrawalsWithoutOrder: readonly { synqerId: string; requestId: string; backed: bigint }[];
    /** Each built distribution's total, by epoch (optional: runs recorded before carries did without). */
    distributions?: ReadonlyMap<number, bigint>;
    /** Rewards carried forward and not in a distribution yet, in all (of the epochs in `payouts`, when some are verified already). */
    carried?: bigint;
    /** What each epoch in `payouts` adds to `carried` (its distribution's carries, its unclaimed leaves carried). */
    carriedByEpoch?: ReadonlyMap<number, bigint>;
  };
  /**
   * An incremental run: epochs an earlier run verified and nothing since can have changed (src/verification/checkpoints.ts
   * decides which), taken as they were proven. They are in neither `payouts` nor `distributors`, and are settled with
   * nothing reserved for them (only final epochs are taken so: `isFinal`).
   */
  verifiedEpochs?: readonly EpochVerification[];
  /** Treasury signatures earlier runs looked at and found recorded or harmless, not in `treasurySignatures` again. */
  earlierTreasuryTransactions?: number;
  /** (token account:amount → epoch) of the leaves of `verifiedEpochs`, to recognise a leaf paid again out of band. */
  verifiedLeafPayments?: ReadonlyMap<string, number>;
  /** A full run: what earlier runs recorded of the epochs it verifies again, compared with what it finds now. */
  checkpoints?: readonly EpochVerification[];
}

/**
 * What a run established of one epoch's settlement on chain: its share of the run's checks and of the treasury's
 * movements. An epoch that is final (`isFinal`) stays so while no new event touches its streams and its chain facts
 * are unchanged, so a later run may take it as it is instead of reading its transactions and accounts again.
 */
export interface EpochVerification {
  epoch: number;
  mode: SettlementMode;
  /** The distribution it settles, as the books recorded it: root (hex), total (base units) and leaf count. */
  root: string;
  total: string;
  leafCount: number;
  /** `EpochSettled` is recorded. */
  settled: boolean;
  /** A web3 root anchored by a Memo alone (before distributors): its pool stays reserved until claimed. */
  anchored: boolean;
  /** web3: its distributor is clawed back on chain (no claim can change after). */
  clawedBack: boolean;
  /** What it took out of the treasury on chain as the books imply: payouts or the distributor's funding, less what the clawback returned. */
  treasuryOut: bigint;
  /** What its distribution and clawback add to the rewards carried forward and not paid yet (books). */
  carried: bigint;
  checked: Pick<VerificationResult['checked'], 'settlementTransactions' | 'payouts' | 'anchors' | 'distributors' | 'claims' | 'vaultTransactions'>;
  /** Discrepancies found in its settlement transactions and its distributor. */
  discrepancies: number;
}

/**
 * Final: nothing the chain can still do changes what was proven of it without a new event or a changed account: clean,
 * settled, not a Memo anchor (claimed from the treasury later) and, in web3, clawed back (claims closed).
 */
export const isFinal = (epoch: EpochVerification): boolean =>
  epoch.discrepancies === 0 && epoch.settled && !epoch.anchored && (epoch.mode !== 'web3' || epoch.clawedBack);

export interface VerificationResult {
  checked: {
    settlementTransactions: number;
    payouts: number;
    anchors: number;
    credits: number;
    transfers: number;
    treasuryTransactions: number;
    /** Distributors compared with the books, ClaimStatus accounts found for their leaves, transactions naming their vaults. */
    distributors: number;
    claims: number;
    vaultTransactions: number;
  };
  discrepancies: Discrepancy[];
  /** Every claim the chain holds for a leaf of the books (to be recorded: the books learn who claimed). */
  claims: ObservedClaim[];
  /** What this run established of each epoch in `payouts` (not of `verifiedEpochs`), in `payouts` order. */
  epochs: EpochVerification[];
}

const TRANSFER = 3;
const TRANSFER_CHECKED = 12;
const BURN = 8;
const BURN_CHECKED = 15;

interface TokenMovement {
  tag: number;
  source: string;
  destination: string | null;
  amount: bigint;
}

/** SPL Token transfers and burns of a transaction's top-level instructions. */
export function tokenMovements(transaction: ChainTransactionFacts, tokenProgram: string): TokenMovement[] {
  const movements: TokenMovement[] = [];
  for (const instruction of transaction.instructions) {
    if (instruction.programId !== tokenProgram || instruction.data.length < 9) continue;
    const tag = instruction.data[0];
    const amount = readU64(instruction.data, 1);
    if (tag === TRANSFER) movements.push({ tag, source: instruction.accounts[0], destination: instruction.accounts[1], amount });
    if (tag === TRANSFER_CHECKED) movements.push({ tag, source: instruction.accounts[0], destination: instruction.accounts[2], amount });
    if (tag === BURN || tag === BURN_CHECKED) movements.push({ tag, source: instruction.accounts[0], destination: null, amount });
  }
  return movements;
}

export const memosOf = (transaction: ChainTransactionFacts, memoProgram: string): string[] =>
  transaction.instructions.filter((instruction) => instruction.programId === memoProgram).map((instruction) => new TextDecoder().decode(instruction.data));

export function verifyChain(input: VerificationInput): VerificationResult {
  const { setup, programs, transactions } = input;
  const discrepancies: Discrepancy[] = [];
  const found = (d: Omit<Discrepancy, 'signature' | 'expected' | 'actual' | 'account'> & Partial<Discrepancy>) =>
    discrepancies.push({ account: null, signature: null, expected: null, actual: null, ...d });
  const known = new Set<string>(setup.signatures);
  let treasury = BigInt(setup.treasuryOpeningBalance);
  let stakeVault = BigInt(setup.stakeVaultOpeningBalance);
  let mintSupply = BigInt(setup.mintSupplyAtSetup);
  const checked = {
    settlementTransactions: 0,
    payouts: 0,
    anchors: 0,
    credits: 0,
    transfers: 0,
    treasuryTransactions: input.treasurySignatures.length + (input.earlierTreasuryTransactions ?? 0),
    distributors: 0,
    claims: 0,
    vaultTransactions: 0,
  };
  /** Web3 epochs whose distributor the books count as funded (their funding transaction confirmed, or landed while awaiting). */
  const funded: { epoch: number; plan: PayoutState['plan'] & object; signatures: Set<string> }[] = [];
  const claims: ObservedClaim[] = [];
  /** (account, amount) of every leaf of a hybrid epoch, to recognise a leaf paid again out of band. */
  const leafByPayment = new Map<string, number>();
  /** Paid on chain so far of each hybrid epoch's pool, and the orders whose transfer the chain holds already. */
  const paid = new Map<number, bigint>();
  const sent = new Set<string>();
  /** A payment that repeats leaves of several epochs is the latest one's, however the epochs came (verified or not). */
  const paysLeaf = (payment: string, epoch: number) => {
    if ((leafByPayment.get(payment) ?? -1) < epoch) leafByPayment.set(payment, epoch);
  };
  for (const [payment, epoch] of input.verifiedLeafPayments ?? []) paysLeaf(payment, epoch);
  /** What this run establishes of each epoch: every check and treasury movement of an epoch's sections is counted in it as well. */
  const byEpoch = new Map<number, EpochVerification>();
  const tally = (epoch: number, what: keyof EpochVerification['checked']) => {
    checked[what]++;
    byEpoch.get(epoch)!.checked[what]++;
  };
  const takeFromTreasury = (epoch: number, amount: bigint) => {
    treasury -= amount;
    byEpoch.get(epoch)!.treasuryOut += amount;
  };
  const foundIn = (epoch: number, { type, ...d }: Omit<Discrepancy, 'signature' | 'expected' | 'actual' | 'account' | 'epoch'> & Partial<Discrepancy>) => {
    byEpoch.get(epoch)!.discrepancies++;
    found({ type, epoch, ...d });
  };

  for (const { state, leaves } of input.payouts) {
    const plan = state.plan;
    if (!plan) continue;
    const epoch = plan.epoch;
    byEpoch.set(epoch, {
      epoch,
      mode: plan.mode,
      root: plan.root,
      total: plan.total,
      leafCount: plan.leafCount,
      settled: state.settled !== undefined,
      anchored: plan.batches.some((batch) => batch.kind === 'anchor'),
      clawedBack: false,
      treasuryOut: 0n,
      carried: input.liabilities.carriedByEpoch?.get(epoch) ?? 0n,
      checked: { settlementTransactions: 0, payouts: 0, anchors: 0, distributors: 0, claims: 0, vaultTransactions: 0 },
      discrepancies: 0,
    });
    if (plan.mode === 'web2') continue;
    for (const leaf of leaves) paysLeaf(`${leaf.account}:${leaf.amount}`, epoch);
    for (const [signature] of state.signatures) known.add(signature);
    state.batches.forEach((batch, index) => {
      const planned = plan.batches[index];
      const attempt = batch.current;
      if (!attempt) return;
      const landed = transactions.get(attempt.signature);
      // An attempt awaiting its outcome is in flight: counted if it landed, not a discrepancy (the executor resolves it).
      if (batch.status === 'awaiting' && (!landed || landed.error !== null)) return;
      if (batch.status !== 'confirmed' && batch.status !== 'awaiting') return;
      tally(epoch, 'settlementTransactions');
      const memo = planned.kind === 'payout' ? payoutMemo(epoch, planned.batch, plan.root) : anchorMemo(plan);
      // web3: the distributor's one transaction moved the whole total from the treasury into its vault.
      const funding = planned.kind === 'distributor' ? BigInt(plan.total) : 0n;
      if (planned.kind === 'distributor' && plan.distributor) funded.push({ epoch, plan, signatures: new Set(state.signatures.keys()) });
      if (funding > 0n) {
        takeFromTreasury(epoch, funding);
        paid.set(epoch, (paid.get(epoch) ?? 0n) + funding);
      }
      if (!landed) {
        foundIn(epoch, {
          type: planned.kind === 'payout' ? 'payout_transaction_missing' : 'anchor_missing',
          signature: attempt.signature,
          detail: `batch ${planned.batch} is recorded as confirmed and the chain does not have its transaction`,
        });
        if (planned.kind === 'payout')
          for (const leaf of leaves.slice(planned.firstLeaf, planned.firstLeaf + planned.leafCount)) takeFromTreasury(epoch, leaf.amount);
        return;
      }
      if (landed.error !== null) {
        foundIn(epoch, {
          type: 'payout_transaction_failed',
          signature: attempt.signature,
          actual: landed.error,
          detail: `batch ${planned.batch} is recorded as confirmed and its transaction failed on chain`,
        });
        return;
      }
      const memos = memosOf(landed, programs.memo);
      if (planned.kind === 'distributor') {
        tally(epoch, 'anchors');
        const vault = plan.distributor?.vault ?? '';
        const created = landed.instructions.some(
          (instruction) => instruction.programId === programs.distributor && instruction.accounts[0] === plan.distributor?.address,
        );
        if (!memos.includes(memo) || !created || !landed.signers.includes(setup.treasuryAuthority)) {
          foundIn(epoch, {
            type: 'anchor_mismatch',
            signature: attempt.signature,
            expected: memo,
            actual: memos.join(' | ') || null,
            detail: `the distributor transaction does not create ${plan.distributor?.address} with the recorded root's memo, signed by the treasury authority`,
          });
        }
        const moved = tokenMovements(landed, programs.token)
          .filter((movement) => movement.source === setup.treasuryAccount)
          .reduce((sum, movement) => sum + (movement.destination === vault ? movement.amount : -movement.amount), 0n);
        const strays = tokenMovements(landed, programs.token).filter((m) => m.source === setup.treasuryAccount && m.destination !== vault);
        if (moved !== funding || strays.length > 0) {
          foundIn(epoch, {
            type: 'distributor_funding_mismatch',
            account: vault,
            signature: attempt.signature,
            expected: funding.toString(),
            actual: tokenMovements(landed, programs.token)
              .filter((m) => m.source === setup.treasuryAccount)
              .reduce((sum, m) => sum + m.amount, 0n)
              .toString(),
            detail: `epoch ${epoch}'s distributor vault must receive exactly the distribution's total from the treasury, and nothing else may leave it`,
          });
        }
        return;
      }
      if (planned.kind === 'anchor') {
        tally(epoch, 'anchors');
        if (!memos.includes(memo) || !landed.signers.includes(setup.treasuryAuthority)) {
          foundIn(epoch, {
            type: 'anchor_mismatch',
            signature: attempt.signature,
            expected: memo,
            actual: memos.join(' | ') || null,
            detail: 'the anchor transaction does not carry the recorded root, signed by the treasury authority',
          });
        }
        return;
      }
      if (!memos.includes(memo))
        foundIn(epoch, {
          type: 'payout_memo_mismatch',
          signature: attempt.signature,
          expected: memo,
          actual: memos.join(' | ') || null,
          detail: `batch ${planned.batch}'s memo`,
        });
      const moved = new Map<string, bigint>();
      for (const movement of tokenMovements(landed, programs.token)) {
        if (movement.source !== setup.treasuryAccount || movement.destination === null) continue;
        moved.set(movement.destination, (moved.get(movement.destination) ?? 0n) + movement.amount);
      }
      for (const leaf of leaves.slice(planned.firstLeaf, planned.firstLeaf + planned.leafCount)) {
        tally(epoch, 'payouts');
        takeFromTreasury(epoch, leaf.amount);
        paid.set(epoch, (paid.get(epoch) ?? 0n) + leaf.amount);
        const actual = moved.get(leaf.account) ?? 0n;
        moved.delete(leaf.account);
        if (actual !== leaf.amount) {
          foundIn(epoch, {
            type: 'payout_transfer_mismatch',
            account: leaf.account,
            signature: attempt.signature,
            expected: leaf.amount.toString(),
            actual: actual.toString(),
            detail: `payout to ${leaf.wallet} in batch ${planned.batch}`,
          });
        }
      }
      for (const [account, amount] of moved) {
        foundIn(epoch, {
          type: 'payout_transfer_mismatch',
          account,
          signature: attempt.signature,
          expected: '0',
          actual: amount.toString(),
          detail: `batch ${planned.batch} paid an account its plan does not name`,
        });
      }
    });
  }

  for (const credit of input.credits) {
    known.add(credit.signature);
    checked.credits++;
    const landed = transactions.get(credit.signature);
    const type = credit.kind === 'burn' ? 'burn_not_on_chain' : 'stake_deposit_not_on_chain';
    const movements = landed && landed.error === null ? tokenMovements(landed, programs.token) : [];
    const matching =
      credit.kind === 'burn'
        ? movements.some((m) => m.destination === null && m.source === credit.account && m.amount === credit.amount)
        : movements.some((m) => m.destination === setup.stakeVault && m.amount === credit.amount);
    if (!matching) {
      found({
        type,
        epoch: null,
        account: credit.account,
        signature: credit.signature,
        expected: credit.amount.toString(),
        actual: landed ? (landed.error ?? 'no such movement') : null,
        detail: `${credit.kind === 'burn' ? 'burn' : 'stake deposit'} credited to ${credit.who} ${landed ? 'does not match the chain' : 'is not on chain'}`,
      });
    }
    if (credit.kind === 'burn') mintSupply -= credit.amount;
    else stakeVault += credit.amount;
  }

  for (const transfer of input.transfers) {
    for (const signature of transfer.signatures) known.add(signature);
    const landed = transfer.current === null ? undefined : transactions.get(transfer.current);
    if (transfer.status === 'awaiting' && (!landed || landed.error !== null)) continue;
    if (transfer.status !== 'confirmed' && transfer.status !== 'awaiting') continue;
    checked.transfers++;
    sent.add(transfer.orderId);
    // The books count an ordered transfer once it is confirmed (or has landed while awaiting its outcome).
    if (transfer.source === setup.treasuryAccount) treasury -= transfer.amount;
    if (transfer.source === setup.stakeVault) stakeVault -= transfer.amount;
    if (transfer.destination === setup.treasuryAccount) treasury += transfer.amount;
    if (!landed || landed.error !== null) {
      found({
        type: 'chain_transfer_missing',
        epoch: null,
        account: transfer.destination,
        signature: transfer.current,
        expected: transfer.amount.toString(),
        actual: landed?.error ?? null,
        detail: `transfer ${transfer.orderId} is recorded as confirmed and the chain ${landed ? 'has it failed' : 'does not have it'}`,
      });
      continue;
    }
    const moved = tokenMovements(landed, programs.token)
      .filter((m) => m.source === transfer.source && m.destination === transfer.destination)
      .reduce((sum, m) => sum + m.amount, 0n);
    if (moved !== transfer.amount || !memosOf(landed, programs.memo).includes(transfer.memo)) {
      found({
        type: 'chain_transfer_mismatch',
        epoch: null,
        account: transfer.destination,
        signature: transfer.current,
        expected: transfer.amount.toString(),
        actual: moved.toString(),
        detail: `transfer ${transfer.orderId} does not move what was ordered, with its memo`,
      });
    }
  }

  // Everything else that moved tokens out of the treasury or the vault happened outside the books.
  for (const signature of new Set([...input.treasurySignatures, ...input.stakeVaultSignatures])) {
    if (known.has(signature)) continue;
    const landed = transactions.get(signature);
    if (!landed || landed.error !== null) continue;
    const memos = memosOf(landed, programs.memo);
    for (const movement of tokenMovements(landed, programs.token)) {
      // The books do not count these: the balance checks below show them too.
      if (movement.source === setup.treasuryAccount) {
        const epoch = movement.destination === null ? undefined : leafByPayment.get(`${movement.destination}:${movement.amount}`);
        const memoEpoch = memos.map((memo) => /^synq:v1:epoch=(\d+):/.exec(memo)?.[1]).find((e) => e !== undefined);
        if (epoch !== undefined || memoEpoch !== undefined) {
          // The memo names the epoch it claims to pay; without one, the epoch whose leaf it repeats.
          found({
            type: 'leaf_paid_twice',
            epoch: memoEpoch !== undefined ? Number(memoEpoch) : epoch!,
            account: movement.destination,
            signature,
            expected: '0',
            actual: movement.amount.toString(),
            detail: 'a transfer outside the recorded settlement repeats a payout',
          });
        } else {
          found({
            type: 'unrecorded_treasury_transfer',
            epoch: null,
            account: movement.destination,
            signature,
            expected: '0',
            actual: movement.amount.toString(),
            detail: 'tokens left the treasury in a transaction the books do not record',
          });
        }
      }
      if (movement.source === setup.stakeVault) {
        found({
          type: 'unrecorded_stake_vault_transfer',
          epoch: null,
          account: movement.destination,
          signature,
          expected: '0',
          actual: movement.amount.toString(),
          detail: 'tokens left the stake vault in a transaction the books do not record',
        });
      }
    }
  }

  // Web3 distributors: the chain's account, its claims and its vault against the books.
  const distributorFacts = new Map(input.distributors.map((facts) => [facts.epoch, facts]));
  for (const { epoch, plan, signatures } of funded) {
    const accounts = plan.distributor!;
    const total = BigInt(plan.total);
    const facts = distributorFacts.get(epoch);
    const onChain = facts?.account ?? null;
    tally(epoch, 'distributors');
    if (!onChain) {
      foundIn(epoch, {
        type: 'distributor_missing',
        account: accounts.address,
        expected: total.toString(),
        actual: null,
        detail: `epoch ${epoch}'s distributor is funded in the books with ${total} and the chain has no distributor at ${accounts.address}`,
      });
      continue;
    }
    const root = onChain.root.toString('hex');
    if (root !== plan.root) {
      foundIn(epoch, {
        type: 'distributor_root_mismatch',
        account: accounts.address,
        expected: plan.root,
        actual: root,
        detail: `epoch ${epoch}'s distributor pays against a root that is not the books' distribution: its claims are not the books' leaves`,
      });
    }
    if (onChain.maxTotalClaim !== total) {
      foundIn(epoch, {
        type: 'distributor_total_mismatch',
        account: accounts.address,
        expected: total.toString(),
        actual: onChain.maxTotalClaim.toString(),
        detail: `epoch ${epoch}'s distributor's max_total_claim is not the distribution's total`,
      });
    }
    if (onChain.maxNumNodes !== BigInt(plan.leafCount)) {
      foundIn(epoch, {
        type: 'distributor_total_mismatch',
        account: accounts.address,
        expected: plan.leafCount.toString(),
        actual: onChain.maxNumNodes.toString(),
        detail: `epoch ${epoch}'s distributor's max_num_nodes is not the distribution's leaf count`,
      });
    }
    if (onChain.clawedBack && input.chainClock !== null && input.chainClock < onChain.clawbackStartTs) {
      foundIn(epoch, {
        type: 'distributor_clawed_back_early',
        account: accounts.address,
        expected: onChain.clawbackStartTs.toString(),
        actual: input.chainClock.toString(),
        detail: `epoch ${epoch}'s distributor is clawed back while the chain clock (${input.chainClock}) is before its clawback start (${onChain.clawbackStartTs})`,
      });
    }

    // Every ClaimStatus of a leaf's wallet: one claim, of exactly the leaf's amount.
    const leaves = facts!.leaves;
    const leafByWallet = new Map(leaves.map((leaf) => [leaf.wallet, leaf]));
    const claimedBy = new Map<string, string>();
    let claimed = 0n;
    let count = 0n;
    for (const leaf of leaves) {
      if (!leaf.claim) continue;
      tally(epoch, 'claims');
      count++;
      claimed += leaf.claim.unlockedAmount + leaf.claim.lockedAmountWithdrawn;
      claims.push({
        epoch,
        distributor: accounts.address,
        wallet: leaf.wallet,
        claimStatus: leaf.claimStatus,
        amount: leaf.claim.unlockedAmount,
        signature: null,
      });
      if (leaf.claim.unlockedAmount !== leaf.amount || leaf.claim.lockedAmount !== 0n || leaf.claim.claimant !== leaf.wallet) {
        foundIn(epoch, {
          type: 'claim_amount_mismatch',
          account: leaf.claimStatus,
          expected: leaf.amount.toString(),
          actual: leaf.claim.unlockedAmount.toString(),
          detail:
            `${leaf.wallet}'s claim on epoch ${epoch}'s distributor unlocked ${leaf.claim.unlockedAmount}` +
            (leaf.claim.lockedAmount !== 0n ? ` (and locked ${leaf.claim.lockedAmount})` : '') +
            (leaf.claim.claimant !== leaf.wallet ? ` for claimant ${leaf.claim.claimant}` : '') +
            `, and the books' leaf is ${leaf.amount}`,
        });
      }
    }
    if (onChain.totalAmountClaimed !== claimed) {
      foundIn(epoch, {
        type: 'claim_unexplained',
        account: accounts.address,
        expected: claimed.toString(),
        actual: onChain.totalAmountClaimed.toString(),
        detail: `epoch ${epoch}'s distributor counts ${onChain.totalAmountClaimed} claimed, and its leaves' ClaimStatus accounts explain ${claimed}`,
      });
    }
    if (onChain.numNodesClaimed !== count) {
      foundIn(epoch, {
        type: 'claim_unexplained',
        account: accounts.address,
        expected: count.toString(),
        actual: onChain.numNodesClaimed.toString(),
        detail: `epoch ${epoch}'s distributor counts ${onChain.numNodesClaimed} claims, and ${count} of its leaves' wallets have a ClaimStatus`,
      });
    }

    // What left the vault: claims by leaf wallets and the clawback to the receiver the books planned, nothing else.
    for (const signature of facts!.vaultSignatures) {
      if (signatures.has(signature)) continue;
      const landed = transactions.get(signature);
      if (!landed || landed.error !== null) continue;
      tally(epoch, 'vaultTransactions');
      for (const instruction of landed.instructions) {
        if (instruction.programId === programs.distributor && instruction.accounts[0] === accounts.address) {
          const tag = Buffer.from(instruction.data.subarray(0, 8));
          if (tag.equals(NEW_CLAIM_DISCRIMINATOR)) {
            const claimant = instruction.accounts[4];
            const amount = instruction.data.length >= 16 ? readU64(instruction.data, 8) : 0n;
            const leaf = leafByWallet.get(claimant);
            if (leaf) {
              claimedBy.set(claimant, signature);
            } else {
              foundIn(epoch, {
                type: 'claim_unexplained',
                account: instruction.accounts[3],
                signature,
                expected: '0',
                actual: amount.toString(),
                detail: `${claimant} claimed ${amount} from epoch ${epoch}'s distributor and has no leaf in the books' distribution`,
              });
            }
          } else if (tag.equals(CLAWBACK_DISCRIMINATOR) && instruction.accounts[2] !== accounts.clawbackReceiver) {
            foundIn(epoch, {
              type: 'claim_unexplained',
              account: instruction.accounts[2],
              signature,
              expected: accounts.clawbackReceiver,
              actual: instruction.accounts[2],
              detail: `epoch ${epoch}'s distributor was clawed back to an account that is not the planned clawback receiver`,
            });
          }
        }
      }
      for (const movement of tokenMovements(landed, programs.token)) {
        if (movement.source !== accounts.vault) continue;
        foundIn(epoch, {
          type: 'claim_unexplained',
          account: movement.destination,
          signature,
          expected: '0',
          actual: movement.amount.toString(),
          detail: `tokens left epoch ${epoch}'s distributor vault outside a claim or the clawback`,
        });
      }
    }
    for (const claim of claims) if (claim.epoch === epoch) claim.signature = claimedBy.get(claim.wallet) ?? null;

    // The vault: funded − claimed by the leaves; once clawed back, nothing (the rest went back to the clawback receiver).
    const remaining = total - claimed;
    const expectedVault = onChain.clawedBack ? 0n : remaining;
    if (facts!.vaultBalance !== expectedVault) {
      foundIn(epoch, {
        type: 'distributor_vault_mismatch',
        account: accounts.vault,
        expected: expectedVault.toString(),
        actual: facts!.vaultBalance?.toString() ?? null,
        detail:
          `epoch ${epoch}'s vault must hold funded ${total} − claimed by its leaves ${claimed}` +
          (onChain.clawedBack ? ` − clawed back ${remaining} = 0` : ` = ${remaining}`) +
          `: it holds ${facts!.vaultBalance ?? 'no account'}`,
      });
    }
    // The clawback returns the rest to the treasury (its planned receiver), outside any transaction the books record.
    byEpoch.get(epoch)!.clawedBack = onChain.clawedBack;
    if (onChain.clawedBack && onChain.clawbackReceiver === setup.treasuryAccount && remaining > 0n) takeFromTreasury(epoch, -remaining);
  }

  // Epochs an earlier run proved final: their share of the checks and of the treasury, as proven.
  const verifiedEpochs = new Set<number>();
  let verifiedCarried = 0n;
  for (const verified of input.verifiedEpochs ?? []) {
    verifiedEpochs.add(verified.epoch);
    treasury -= verified.treasuryOut;
    verifiedCarried += verified.carried;
    for (const what of Object.keys(verified.checked) as (keyof EpochVerification['checked'])[]) checked[what] += verified.checked[what];
  }

  const compare = (type: DiscrepancyType, account: string, expected: bigint, actual: bigint | null, what: string) => {
    if (actual !== expected)
      found({
        type,
        epoch: null,
        account,
        expected: expected.toString(),
        actual: actual?.toString() ?? null,
        detail: `${what}: the books imply ${expected}, the chain holds ${actual ?? 'no account'}`,
      });
  };
  compare('treasury_balance_mismatch', setup.treasuryAccount, treasury, input.balances.treasury, 'treasury balance');
  compare('stake_vault_balance_mismatch', setup.stakeVault, stakeVault, input.balances.stakeVault, 'stake vault balance');
  compare('mint_supply_mismatch', setup.mint, mintSupply, input.balances.mintSupply, 'mint supply');

  // Liabilities: what the treasury and the vault owe, whatever moved.
  const { liabilities } = input;
  const payoutsByEpoch = new Map(input.payouts.flatMap(({ state }) => (state.plan ? [[state.plan.epoch, state] as const] : [])));
  // A verified epoch is settled and not an anchor: nothing is reserved for it, as a full run finds.
  const reserved = treasuryReservations(
    liabilities.epochs.filter((epoch) => !verifiedEpochs.has(epoch.epoch)),
    payoutsByEpoch,
    liabilities.orders,
    {
      paid,
      sent,
      distributions: liabilities.distributions,
      carried: liabilities.carried === undefined && verifiedCarried === 0n ? undefined : (liabilities.carried ?? 0n) + verifiedCarried,
    },
  );
  if (input.balances.treasury !== null && input.balances.treasury < reserved.total) {
    found({
      type: 'treasury_below_reserved',
      epoch: null,
      account: setup.treasuryAccount,
      expected: reserved.total.toString(),
      actual: input.balances.treasury.toString(),
      detail: `the treasury holds ${input.balances.treasury}, less than it owes: ${reserved.pools} for pools not yet paid${reserved.carried > 0n ? `, ${reserved.carried} for rewards carried forward` : ''} and ${reserved.transfers} for transfers ordered and not yet sent (${reserved.total - input.balances.treasury} short)`,
    });
  }
  const owed = BigInt(setup.stakeVaultOpeningBalance) + liabilities.backedStakeOwed + unsentVaultOrders(liabilities.orders, sent);
  if (input.balances.stakeVault !== owed) {
    found({
      type: 'stake_vault_backing_mismatch',
      epoch: null,
      account: setup.stakeVault,
      expected: owed.toString(),
      actual: input.balances.stakeVault?.toString() ?? null,
      detail: `the stake vault must hold the on-chain-backed stake it owes (${liabilities.backedStakeOwed} held, the rest ordered back and not yet sent, and its opening balance): it holds ${input.balances.stakeVault ?? 'no account'}`,
    });
  }
  const inBooks = new Set(liabilities.purchases.filter((p) => !p.delivered).map((p) => p.reference));
  for (const { order } of liabilities.orders) {
    if (order.kind !== 'purchase_delivery' || !inBooks.has(order.reference)) continue;
    found({
      type: 'delivered_purchase_in_books',
      epoch: null,
      account: order.recipientWallet,
      expected: '0',
      actual: order.amount,
      detail: `purchase ${order.reference} is delivered to the wallet by ${order.orderId} and still counts in the books' spendable balance`,
    });
  }
  for (const withdrawal of liabilities.withdrawalsWithoutOrder) {
    found({
      type: 'stake_withdrawal_not_ordered',
      epoch: null,
      account: setup.stakeVault,
      expected: withdrawal.backed.toString(),
      actual: '0',
      detail: `${withdrawal.synqerId}'s unstake request ${withdrawal.requestId} is withdrawn in the books and no transfer returns its ${withdrawal.backed} on-chain-backed base units`,
    });
  }
  // A full run against what earlier runs recorded: an epoch final now and then must have been proven the same.
  for (const recorded of input.checkpoints ?? []) {
    const now = byEpoch.get(recorded.epoch);
    if (!now || !isFinal(now)) continue; // an epoch no longer final shows its own discrepancies
    const [then, seen] = [proofOf(recorded), proofOf(now)];
    if (then !== seen)
      found({
        type: 'checkpoint_mismatch',
        epoch: recorded.epoch,
        expected: then,
        actual: seen,
        detail: `what run checkpoints record of epoch ${recorded.epoch} is not what this run proves of it again: incremental runs took a wrong account of it`,
      });
  }
  return { checked, discrepancies, claims, epochs: [...byEpoch.values()] };
}

/** What a checkpoint claims of an epoch, in one canonical line (compared by full runs). */
const proofOf = (epoch: EpochVerification): string =>
  JSON.stringify([
    epoch.mode,
    epoch.root,
    epoch.total,
    epoch.leafCount,
    epoch.treasuryOut.toString(),
    epoch.carried.toString(),
    ...(['settlementTransactions', 'payouts', 'anchors', 'distributors', 'claims', 'vaultTransactions'] as const).map((what) => epoch.checked[what]),
  ]);

function readU64(data: Uint8Array, offset: number): bigint {
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(data[offset + i]);
  return value;
}

/** A verification run, recorded on `verification-<runId>` whatever it found. */
export interface VerificationRun extends Omit<VerificationResult, 'claims' | 'epochs'> {
  runId: string;
  cluster: string;
  /** Global position of the last event the run replayed. */
  upToPosition: string;
  completedAt: string;
  discrepancyCount: number;
  byType: Partial<Record<DiscrepancyType, number>>;
  /**
   * How much of the history the run checked itself (runs recorded before checkpoints have none: they were full).
   * `incremental`: the epochs in `reverifiedEpochs` and the chain activity since the checkpoints; `reusedEpochs` were taken
   * from the checkpoints as proven, with their share of `checked`. `full`: everything, checkpoints compared.
   */
  coverage?: VerificationCoverage;
}

export interface VerificationCoverage {
  scope: 'full' | 'incremental';
  reverifiedEpochs: number[];
  reusedEpochs: number;
  /** The run whose checkpoints an incremental run started from (the last run that wrote them). */
  sinceRunId?: string;
}

export type VerificationEvent = { type: 'VerificationRunCompleted'; data: VerificationRun };
export const verificationStream = (runId: string) => `verification-${runId}`;
/** A run lists at most this many discrepancies (with counts of all): enough to act on, small enough to record. */
export const MAX_LISTED_DISCREPANCIES = 1000;

export function recordRun(
  result: Omit<VerificationResult, 'claims' | 'epochs'>,
  run: { runId: string; cluster: string; upToPosition: bigint; completedAt: string; coverage?: VerificationCoverage },
): VerificationEvent[] {
  const byType: Partial<Record<DiscrepancyType, number>> = {};
  for (const d of result.discrepancies) byType[d.type] = (byType[d.type] ?? 0) + 1;
  return [
    {
      type: 'VerificationRunCompleted',
      data: {
        runId: run.runId,
        cluster: run.cluster,
        upToPosition: run.upToPosition.toString(),
        completedAt: run.completedAt,
        checked: result.checked,
        discrepancyCount: result.discrepancies.length,
        byType,
        discrepancies: result.discrepancies.slice(0, MAX_LISTED_DISCREPANCIES),
        ...(run.coverage ? { coverage: run.coverage } : {}),
      },
    },
  ];
}

/** The first (and only) run recorded on the stream. */
export const evolveVerificationRun = (state: VerificationRun | undefined, event: VerificationEvent): VerificationRun | undefined => state ?? event.data;

export type VerificationCommand = {
  type: 'RecordVerificationRun';
  data: { result: Omit<VerificationResult, 'claims' | 'epochs'>; run: Parameters<typeof recordRun>[1] };
};

/**
 * A verification run, by its id: `verification-<runId>`. A run is recorded once, on a stream of its own (the id is new
 * for each run), so its decision does not look at the state.
 */
export const verificationDecider: Decider<VerificationRun | undefined, VerificationEvent, VerificationCommand, string> = {
  streamOf: verificationStream,
  initial: () => undefined,
  evolve: evolveVerificationRun,
  decide: (command) => recordRun(command.data.result, command.data.run),
};
