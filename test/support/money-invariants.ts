import { PublicKey } from '@solana/web3.js';
import type { Pool } from 'pg';
import { tokenMovements, type ChainTransactionFacts } from '../../domain/chain-verification';
import type { ChainSetup } from '../../domain/chain-setup';
import type { TransferOrder } from '../../domain/chain-transfer';
import type { RewardsCarriedForward, UnclaimedRewardsCarried } from '../../domain/carry';
import type { DistributionBuilt, RewardsCalculated } from '../../domain/epoch-settlement';
import type { EpochSettledData, SettlementPlan } from '../../domain/epoch-payout';
import type { SettlementMode } from '../../domain/settlement-control';
import * as settlementQueries from '../../projections/settlement/queries';
import type { ChainGateway } from '../../src/chain/chain-gateway';
import { associatedTokenAddress, readMint, readTokenAccount, TOKEN_PROGRAM_ID } from '../../src/chain/token';
import { claimStatusAddress } from '../../src/chain/jito-distributor';
import { decodeClaimStatus, decodeMerkleDistributor } from '../../domain/jito-distributor';
import type { EventStore, RecordedEvent } from '../../src/event-store/event-store';
import { ProjectionReader } from '../../src/projections/projection-reader';

/**
 * The money model's invariants (docs/money.md), checked from the outside: the event log folded here, independently of
 * the engine's deciders and projections; the settlement read model compared with that fold; the chain's balances and
 * transactions read through the gateway. `checkMoneyInvariants` answers every violation (empty: the money adds up).
 */

export type InvariantId = 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6' | 'I7' | 'I8' | 'I9' | 'I10';

export interface Violation {
  invariant: InvariantId;
  detail: string;
}

export interface MoneySources {
  store: EventStore;
  chain?: ChainGateway;
  pool?: Pool;
}

export interface CheckOptions {
  /**
   * Every SYNQ holder on chain is known to the books (no test moved tokens out of band): the mint supply then equals the
   * treasury, the vault and the books' wallets exactly, and each wallet holds what the books imply.
   */
  closedWorld?: boolean;
}

const U64_MAX = (1n << 64n) - 1n;

interface Developer {
  wallet: string;
  purchases: Map<string, { amount: bigint; content: string }>;
  burns: Map<string, string>;
  usages: Map<string, string>;
  booksBurned: bigint;
  credits: bigint;
  tokenBalance: bigint;
  onChainBurned: bigint;
}

interface Stake {
  deposits: Map<string, string>;
  /** Unstake requests: amount still held, the part of it backed in the vault, withdrawn or not. */
  requests: Map<string, { amount: bigint; backed: bigint; withdrawn: boolean }>;
  /** Active stake, and the part of it deposited on chain (held in the vault). */
  active: bigint;
  activeBacked: bigint;
  slashes: Set<string>;
  onChainDeposited: bigint;
  withdrawn: Map<string, bigint>;
}

interface Epoch {
  pool: bigint;
  cutOff?: bigint;
  returned?: bigint;
  /** web3: unclaimed rewards released from the allocated pools after the clawback (`return` policy), and what was clawed back unclaimed. */
  released?: bigint;
  clawedBackUnclaimed?: bigint;
  rewards?: RewardsCalculated;
  distribution?: DistributionBuilt;
  /** Its carries by wallet, when it carried anything. */
  carried?: RewardsCarriedForward;
  plan?: SettlementPlan;
  confirmedBatches: Set<number>;
  settled?: EpochSettledData;
  closedAt?: bigint;
  /** From the settlement read model, in the distribution's order. */
  leaves?: { wallet: string; amount: bigint }[];
}

interface Transfer {
  order: TransferOrder;
  status: string;
  confirmedSignature?: string;
  position: bigint;
}

/** The log folded from scratch: what the books say each holder has. */
export interface MoneyBooks {
  funded: bigint;
  allocated: bigint;
  fundings: Map<string, bigint>;
  epochs: Map<number, Epoch>;
  modes: { mode: SettlementMode; effectiveFromEpoch: number }[];
  setup?: ChainSetup;
  developers: Map<string, Developer>;
  stakes: Map<string, Stake>;
  synqerWallets: Map<string, string[]>;
  transfers: Map<string, Transfer>;
  proofClaims: Map<string, number>;
  credited: Map<string, string[]>;
  /** `keyInForce`: the key that verified it (if it names one) is its synqer's reporting key where it was recorded. */
  reports: { stream: string; reportId: string; epoch: number; position: bigint; keyInForce: boolean }[];
  voided: Map<string, number>;
  /** Rewards carried forward and not in a leaf yet, by wallet (domain/carry.ts, folded here on its own terms). */
  carried: Map<string, bigint>;
  /** Where the last close or carry was recorded. */
  lastCarryAt: bigint;
  /** Hybrid books movements that must have a chain transfer order: (kind, who, operation, why). */
  mustOrder: { orderId: string; why: string }[];
  violations: Violation[];
}

/** The part of `amount` taken from `total` (of which `backed` is in the vault) that is backed: books-only stake goes first. */
const backedPart = (amount: bigint, total: bigint, backed: bigint): bigint => {
  const booksOnly = total - backed;
  if (amount <= booksOnly) return 0n;
  return amount - booksOnly < backed ? amount - booksOnly : backed;
};

const modeOf = (modes: MoneyBooks['modes'], epoch: number): SettlementMode => {
  let mode: SettlementMode = 'web2';
  for (const choice of modes) if (choice.effectiveFromEpoch <= epoch) mode = choice.mode;
  return mode;
};

export async function foldBooks(store: EventStore): Promise<MoneyBooks> {
  const books: MoneyBooks = {
    funded: 0n,
    allocated: 0n,
    fundings: new Map(),
    epochs: new Map(),
    modes: [],
    developers: new Map(),
    stakes: new Map(),
    synqerWallets: new Map(),
    transfers: new Map(),
    proofClaims: new Map(),
    credited: new Map(),
    reports: [],
    voided: new Map(),
    carried: new Map(),
    lastCarryAt: 0n,
    mustOrder: [],
    violations: [],
  };
  const violation = (invariant: InvariantId, detail: string) => books.violations.push({ invariant, detail });
  let lastEpoch = 0;
  const reportingKeys = new Map<string, string>();
  const stakeOf = (synqerId: string) => {
    let stake = books.stakes.get(synqerId);
    if (!stake)
      books.stakes.set(
        synqerId,
        (stake = { deposits: new Map(), requests: new Map(), active: 0n, activeBacked: 0n, slashes: new Set(), onChainDeposited: 0n, withdrawn: new Map() }),
      );
    return stake;
  };
  /** An order, recorded on its own stream or in the books event that makes it (the same content either way). */
  const ordered = (order: TransferOrder, position: bigint, where: string) => {
    const earlier = books.transfers.get(order.orderId);
    if (!earlier) return void books.transfers.set(order.orderId, { order, status: 'unsigned', position });
    if (JSON.stringify(earlier.order) !== JSON.stringify(order)) violation('I8', `transfer ${order.orderId} is ordered again with other content (${where})`);
  };
  const hybridInForce = () => books.setup !== undefined && modeOf(books.modes, lastEpoch) === 'hybrid';
  const credit = (signature: string, where: string) => books.credited.set(signature, [...(books.credited.get(signature) ?? []), where]);
  const sameIdOtherContent = (kind: string, id: string, stream: string) =>
    violation('I8', `${stream}: ${kind} ${id} is recorded twice with different content (a reused id must be refused)`);

  for await (const event of store.readAll()) {
    const data = event.data as Record<string, unknown>;
    const s = (key: string) => String(data[key]);
    const big = (key: string) => BigInt(s(key));
    switch (event.type) {
      case 'TreasuryFunded':
        if (books.fundings.has(s('reference'))) sameIdOtherContent('funding', s('reference'), event.stream);
        books.fundings.set(s('reference'), big('amount'));
        books.funded += big('amount');
        break;
      case 'EpochOpened':
        books.allocated += big('rewardPool');
        books.epochs.set(Number(data.epoch), { pool: big('rewardPool'), confirmedBatches: new Set() });
        lastEpoch = Number(data.epoch);
        break;
      case 'EpochClosed': {
        const epoch = books.epochs.get(Number(data.epoch));
        if (epoch) {
          if (epoch.cutOff !== undefined) violation('I8', `epoch ${String(data.epoch)} is closed twice`);
          // The cut-off is the position just before the close (domain/network.ts cutOffOf, read here on its own terms);
          // older closes name it in their data.
          epoch.cutOff = data.cutOffPosition !== undefined ? big('cutOffPosition') : event.position - 1n;
          epoch.closedAt = event.position;
        }
        break;
      }
      case 'EpochPoolReturned': {
        const epoch = books.epochs.get(Number(data.epoch));
        if (epoch) {
          if (epoch.returned !== undefined) violation('I8', `epoch ${String(data.epoch)}'s pool is returned twice`);
          epoch.returned = big('amount');
        }
        books.allocated -= big('amount');
        break;
      }
      case 'UnclaimedRewardsReleased': {
        // A web3 epoch's unclaimed rewards clawed back under the `return` policy: owed to nobody, no longer allocated.
        const epoch = books.epochs.get(Number(data.epoch));
        if (epoch) {
          if (epoch.released !== undefined) violation('I8', `epoch ${String(data.epoch)}'s unclaimed rewards are released twice`);
          epoch.released = big('amount');
        }
        books.allocated -= big('amount');
        break;
      }
      case 'DistributorClawedBack': {
        const epoch = books.epochs.get(Number(data.epoch));
        if (epoch) epoch.clawedBackUnclaimed = big('unclaimedTotal');
        break;
      }
      case 'EpochRewardsCalculated':
      case 'EpochDistributionBuilt': {
        const epoch = books.epochs.get(Number(data.epoch));
        if (!epoch) break;
        if (event.type === 'EpochRewardsCalculated') {
          if (epoch.rewards) violation('I8', `epoch ${String(data.epoch)}'s rewards are recorded twice`);
          epoch.rewards = data as unknown as RewardsCalculated;
        } else {
          if (epoch.distribution) violation('I8', `epoch ${String(data.epoch)}'s distribution is recorded twice`);
          epoch.distribution = data as unknown as DistributionBuilt;
        }
        break;
      }
      case 'RewardsCarriedForward': {
        books.lastCarryAt = event.position;
        const carried = data as unknown as RewardsCarriedForward;
        const epoch = books.epochs.get(carried.epoch);
        if (epoch?.carried) violation('I8', `epoch ${carried.epoch}'s carries are recorded twice`);
        if (epoch) epoch.carried = carried;
        // I6: a carried balance is paid whole and once, and never goes below 0.
        for (const { wallet, amount } of carried.carriedIn) {
          const balance = books.carried.get(wallet) ?? 0n;
          if (BigInt(amount) !== balance)
            violation('I6', `epoch ${carried.epoch} carries ${amount} into ${wallet}'s leaf, which has ${balance} carried (included twice, or in part)`);
          books.carried.delete(wallet);
        }
        for (const { wallet, amount } of carried.carriedOut) {
          if (BigInt(amount) <= 0n) violation('I6', `epoch ${carried.epoch} carries out ${amount} for ${wallet}`);
          books.carried.set(wallet, (books.carried.get(wallet) ?? 0n) + BigInt(amount));
        }
        break;
      }
      case 'UnclaimedRewardsCarried': {
        books.lastCarryAt = event.position;
        const unclaimed = data as unknown as UnclaimedRewardsCarried;
        let total = 0n;
        for (const { wallet, amount } of unclaimed.entries) {
          if (BigInt(amount) < 0n) violation('I6', `epoch ${unclaimed.epoch}'s unclaimed ${wallet} is carried with ${amount}`);
          books.carried.set(wallet, (books.carried.get(wallet) ?? 0n) + BigInt(amount));
          total += BigInt(amount);
        }
        if (total !== BigInt(unclaimed.total)) violation('I6', `epoch ${unclaimed.epoch}'s unclaimed carried total ${unclaimed.total}, its entries ${total}`);
        break;
      }
      case 'SettlementPlanned':
        books.epochs.get(Number(data.epoch))!.plan = data as unknown as SettlementPlan;
        break;
      case 'SettlementTransactionConfirmed': {
        const epoch = books.epochs.get(Number(data.epoch))!;
        if (epoch.confirmedBatches.has(Number(data.batch))) violation('I6', `epoch ${String(data.epoch)} batch ${String(data.batch)} is confirmed twice`);
        epoch.confirmedBatches.add(Number(data.batch));
        break;
      }
      case 'EpochSettled': {
        const epoch = books.epochs.get(Number(data.epoch))!;
        if (epoch.settled) violation('I6', `epoch ${String(data.epoch)} is settled twice`);
        epoch.settled = data as unknown as EpochSettledData;
        break;
      }
      case 'SettlementModeChosen':
        books.modes = [
          ...books.modes.filter((m) => m.effectiveFromEpoch < Number(data.effectiveFromEpoch)),
          { mode: s('mode') as SettlementMode, effectiveFromEpoch: Number(data.effectiveFromEpoch) },
        ];
        break;
      case 'ChainInitialized':
        books.setup = data as unknown as ChainSetup;
        break;
      case 'SynqerRegistered':
        books.synqerWallets.set(s('synqerId'), [s('payoutWallet')]);
        reportingKeys.set(s('synqerId'), s('reportingKey'));
        break;
      case 'ReportingKeyRotated':
        reportingKeys.set(s('synqerId'), s('reportingKey'));
        break;
      case 'PayoutWalletChanged':
        books.synqerWallets.get(s('synqerId'))?.push(s('payoutWallet'));
        break;
      case 'DeveloperRegistered':
        books.developers.set(s('developerId'), {
          wallet: s('wallet'),
          purchases: new Map(),
          burns: new Map(),
          usages: new Map(),
          booksBurned: 0n,
          credits: 0n,
          tokenBalance: 0n,
          onChainBurned: 0n,
        });
        break;
      case 'TokensPurchased':
      case 'TokensBurnedForCredits':
      case 'CreditsConsumed':
      case 'OnChainBurnCredited': {
        const developerId = event.stream.slice('developer-'.length);
        const account = books.developers.get(developerId);
        if (!account) break;
        if (event.type === 'TokensPurchased') {
          if (account.purchases.has(s('purchaseId'))) sameIdOtherContent('purchase', s('purchaseId'), event.stream);
          account.purchases.set(s('purchaseId'), { amount: big('amount'), content: JSON.stringify(data) });
          if (data.delivery) ordered(data.delivery as TransferOrder, event.position, event.stream);
          else account.tokenBalance += big('amount');
          if (hybridInForce())
            books.mustOrder.push({ orderId: `purchase_delivery.${developerId}.${s('purchaseId')}`, why: 'a purchase while hybrid is in force' });
        } else if (event.type === 'TokensBurnedForCredits') {
          if (account.burns.has(s('burnId'))) sameIdOtherContent('burn', s('burnId'), event.stream);
          account.burns.set(s('burnId'), s('amount'));
          account.booksBurned += big('amount');
          account.tokenBalance -= big('amount');
          account.credits += big('credits');
          if (account.tokenBalance < 0n)
            violation('I5', `${developerId}'s books token balance went negative (${account.tokenBalance}) at position ${event.position}`);
        } else if (event.type === 'CreditsConsumed') {
          if (account.usages.has(s('usageId'))) sameIdOtherContent('usage', s('usageId'), event.stream);
          account.usages.set(s('usageId'), s('credits'));
          account.credits -= big('credits');
          if (account.credits < 0n) violation('I5', `${developerId}'s credits went negative (${account.credits}) at position ${event.position}`);
        } else {
          account.credits += big('credits');
          account.onChainBurned += big('amount');
          credit(s('signature'), event.stream);
        }
        break;
      }
      case 'StakeDeposited': {
        const stake = stakeOf(s('synqerId'));
        if (stake.deposits.has(s('depositId'))) sameIdOtherContent('deposit', s('depositId'), event.stream);
        stake.deposits.set(s('depositId'), s('amount'));
        stake.active += big('amount');
        if (data.sourceAccount !== undefined) {
          stake.activeBacked += big('amount');
          stake.onChainDeposited += big('amount');
          credit(s('depositId'), event.stream);
        }
        break;
      }
      case 'UnstakeRequested': {
        const stake = stakeOf(s('synqerId'));
        if (stake.requests.has(s('requestId'))) sameIdOtherContent('unstake request', s('requestId'), event.stream);
        const backed = backedPart(big('amount'), stake.active, stake.activeBacked);
        stake.requests.set(s('requestId'), { amount: big('amount'), backed, withdrawn: false });
        stake.active -= big('amount');
        stake.activeBacked -= backed;
        break;
      }
      case 'StakeWithdrawn': {
        const stake = stakeOf(s('synqerId'));
        if (stake.withdrawn.has(s('requestId'))) violation('I8', `${event.stream}: request ${s('requestId')} is withdrawn twice`);
        stake.withdrawn.set(s('requestId'), big('amount'));
        if (data.transfer) ordered(data.transfer as TransferOrder, event.position, event.stream);
        // The part backed in the vault (books-only stake is asked back first) goes back through the vault, whatever the mode.
        const request = stake.requests.get(s('requestId'));
        if (request) request.withdrawn = true;
        if (books.setup && request && request.backed > 0n)
          books.mustOrder.push({
            orderId: `stake_withdrawal.${s('synqerId')}.${s('requestId')}`,
            why: `a withdrawal of ${request.backed} held in the stake vault`,
          });
        break;
      }
      case 'StakeSlashed': {
        const stake = stakeOf(s('synqerId'));
        if (stake.slashes.has(s('slashId'))) sameIdOtherContent('slash', s('slashId'), event.stream);
        stake.slashes.add(s('slashId'));
        if (data.transfer) ordered(data.transfer as TransferOrder, event.position, event.stream);
        // Active stake first, then requests not withdrawn, latest first; in each, books-only stake first.
        const fromActive = big('amount') < stake.active ? big('amount') : stake.active;
        let slashBacked = backedPart(fromActive, stake.active, stake.activeBacked);
        stake.active -= fromActive;
        stake.activeBacked -= slashBacked;
        let rest = big('amount') - fromActive;
        for (const request of [...stake.requests.values()].reverse()) {
          if (rest === 0n || request.withdrawn) continue;
          const take = request.amount < rest ? request.amount : rest;
          const takeBacked = backedPart(take, request.amount, request.backed);
          request.amount -= take;
          request.backed -= takeBacked;
          slashBacked += takeBacked;
          rest -= take;
        }
        if (books.setup && slashBacked > 0n)
          books.mustOrder.push({ orderId: `slash.${s('synqerId')}.${s('slashId')}`, why: `a slash of ${slashBacked} held in the stake vault` });
        break;
      }
      case 'ChainTransferOrdered': {
        ordered(data as unknown as TransferOrder, event.position, event.stream);
        break;
      }
      case 'ChainTransferSigned':
      case 'ChainTransferFailed':
      case 'ChainTransferExpired': {
        const transfer = books.transfers.get(s('orderId'));
        if (transfer) transfer.status = event.type === 'ChainTransferSigned' ? 'awaiting' : event.type === 'ChainTransferFailed' ? 'failed' : 'expired';
        break;
      }
      case 'ChainTransferConfirmed': {
        const transfer = books.transfers.get(s('orderId'));
        if (transfer) {
          if (transfer.status === 'confirmed') violation('I9', `transfer ${s('orderId')} is confirmed twice`);
          transfer.status = 'confirmed';
          transfer.confirmedSignature = s('signature');
        }
        break;
      }
      case 'ChainProofClaimed': {
        const signature = s('signature');
        books.proofClaims.set(signature, (books.proofClaims.get(signature) ?? 0) + 1);
        break;
      }
      case 'MetricReportAccepted':
        books.reports.push({
          stream: event.stream,
          reportId: s('reportId'),
          epoch: Number(data.epoch),
          position: event.position,
          keyInForce: data.reportingKey === undefined || data.reportingKey === reportingKeys.get(s('synqerId')),
        });
        break;
      case 'MetricReportVoided': {
        const key = `${event.stream}/${s('reportId')}`;
        books.voided.set(key, (books.voided.get(key) ?? 0) + 1);
        break;
      }
    }
  }
  return books;
}

function sources(target: MoneySources | { engine: { eventStore: EventStore; chain: ChainGateway; database: { pool: Pool } } }): MoneySources {
  if ('engine' in target) return { store: target.engine.eventStore, chain: target.engine.chain, pool: target.engine.database.pool };
  return target;
}

/** Every violation of docs/money.md's invariants in the books, the settlement read model and the chain. */
export async function checkMoneyInvariants(
  target: MoneySources | { engine: { eventStore: EventStore; chain: ChainGateway; database: { pool: Pool } } },
  options: CheckOptions = {},
): Promise<Violation[]> {
  const { store, chain, pool } = sources(target);
  const trace = (what: string) => process.env.MONEY_DEBUG && process.stderr.write(`  check: ${what}\n`);
  const books = await foldBooks(store);
  trace('folded');
  const violations = [...books.violations];
  const violation = (invariant: InvariantId, detail: string) => violations.push({ invariant, detail });

  // I3 (books): unclaimed rewards are released only after a clawback, and never more than it left unclaimed.
  for (const [number, epoch] of books.epochs)
    if (epoch.released !== undefined && (epoch.clawedBackUnclaimed === undefined || epoch.released > epoch.clawedBackUnclaimed))
      violation(
        'I3',
        `epoch ${number} releases ${epoch.released} of unclaimed rewards; its clawback left ${epoch.clawedBackUnclaimed ?? 'nothing (none recorded)'} unclaimed`,
      );
  // I3 (books): the pools allocated never exceed the treasury funded.
  if (books.allocated > books.funded) violation('I3', `the books allocate ${books.allocated} to epoch pools out of a treasury funded with ${books.funded}`);

  // I5: credits issued = burns in the books + burns proven on chain, spent at most once; a books burn spends only tokens
  // that stayed in the books (a purchase delivered on chain is the wallet's, not the books').
  for (const [developerId, account] of books.developers) {
    let booksOnly = 0n;
    for (const [purchaseId, purchase] of account.purchases)
      if (!books.transfers.has(`purchase_delivery.${developerId}.${purchaseId}`)) booksOnly += purchase.amount;
    if (account.booksBurned > booksOnly)
      violation(
        'I5',
        `${developerId} burned ${account.booksBurned} in the books for credits, and only ${booksOnly} of its purchases stayed in the books (the rest were delivered on chain): tokens spent twice`,
      );
  }
  for (const [signature, where] of books.credited) {
    if (where.length > 1) violation('I5', `signature ${signature} is credited ${where.length} times (${where.join(', ')})`);
    if ((books.proofClaims.get(signature) ?? 0) !== 1)
      violation('I5', `signature ${signature} is credited and claimed ${books.proofClaims.get(signature) ?? 0} times`);
  }

  // I6: each closed epoch's distribution pays its rewards, within its pool, and is paid exactly.
  const reader = pool ? new ProjectionReader(pool) : undefined;
  const settlementPosition = pool
    ? BigInt((await pool.query<{ position: string }>(`SELECT position::text FROM projection_state WHERE name = 'settlement'`)).rows[0]?.position ?? '0')
    : 0n;
  for (const [number, epoch] of books.epochs) {
    const { rewards, distribution } = epoch;
    if (rewards) {
      const paid = BigInt(rewards.paid);
      if (paid > epoch.pool) violation('I6', `epoch ${number} pays ${paid}, over its pool ${epoch.pool}`);
      if (paid + BigInt(rewards.returnedToTreasury) !== epoch.pool)
        violation('I6', `epoch ${number}: paid ${paid} + returned ${rewards.returnedToTreasury} is not its pool ${epoch.pool}`);
      if (BigInt(rewards.pool) !== epoch.pool) violation('I6', `epoch ${number}'s rewards share ${rewards.pool}, its pool is ${epoch.pool}`);
    }
    // The leaves pay the rewards, plus the balances carried into them, less the payouts carried out (domain/carry.ts).
    const carriedIn = BigInt(distribution?.carriedIn ?? '0');
    const carriedOut = BigInt(distribution?.carriedOut ?? '0');
    if (distribution && rewards && BigInt(distribution.total) !== BigInt(rewards.paid) + carriedIn - carriedOut)
      violation(
        'I6',
        `epoch ${number}'s distribution totals ${distribution.total}, its rewards pay ${rewards.paid} + carried in ${carriedIn} − out ${carriedOut}`,
      );
    const entries = (list: { amount: string }[] | undefined) => (list ?? []).reduce((total, entry) => total + BigInt(entry.amount), 0n);
    if (distribution && (entries(epoch.carried?.carriedIn) !== carriedIn || entries(epoch.carried?.carriedOut) !== carriedOut))
      violation('I6', `epoch ${number}'s carried entries do not add up to its distribution's carried in ${carriedIn} and out ${carriedOut}`);
    // web3 pays the total into its distributor's vault; a root anchored by a Memo alone (before distributors) paid nothing.
    const settledPays = epoch.plan?.batches.some((batch) => batch.kind === 'anchor') ? '0' : distribution?.total;
    if (epoch.settled && distribution && epoch.settled.paid !== settledPays)
      violation('I6', `epoch ${number} is settled (${epoch.settled.mode}) paying ${epoch.settled.paid}, its distribution totals ${distribution.total}`);
    if (distribution && reader && epoch.closedAt !== undefined && settlementPosition >= epoch.closedAt) {
      const leaves = [...(await settlementQueries.leaves(reader, number))].sort((a, b) => a.leaf_index - b.leaf_index);
      epoch.leaves = leaves.map((leaf) => ({ wallet: leaf.wallet, amount: BigInt(leaf.amount) }));
      const sum = leaves.reduce((total, leaf) => total + BigInt(leaf.amount), 0n);
      if (sum !== BigInt(distribution.total) || leaves.length !== distribution.leafCount)
        violation(
          'I6',
          `epoch ${number}'s leaves in the read model sum to ${sum} over ${leaves.length}, the distribution ${distribution.total} over ${distribution.leafCount}`,
        );
      for (const leaf of leaves)
        if (BigInt(leaf.amount) > U64_MAX) violation('I9', `epoch ${number}'s leaf for ${leaf.wallet} (${leaf.amount}) does not fit in a u64`);
      const row = await settlementQueries.epochRow(reader, number);
      if (row && row.distribution_total !== null && row.distribution_total !== distribution.total)
        violation('I6', `the read model's epoch ${number} totals ${row.distribution_total}, the books ${distribution.total}`);
    }
  }

  for (const [wallet, balance] of books.carried) if (balance < 0n) violation('I6', `${wallet}'s carried balance is ${balance}`);
  const settledCarries = [...books.epochs.values()].every((e) => e.closedAt === undefined || (e.distribution && settlementPosition >= e.closedAt));
  if (reader && books.epochs.size > 0 && settledCarries && settlementPosition >= books.lastCarryAt) {
    // The read model's outstanding balances are the log's (once it has met every carry and every close has recorded its own).
    const modelled = new Map((await settlementQueries.carriedBalances(reader)).map((row) => [row.wallet, BigInt(row.amount)]));
    const mine = [...books.carried].filter(([, balance]) => balance !== 0n);
    if (modelled.size !== mine.length || mine.some(([wallet, balance]) => modelled.get(wallet) !== balance))
      violation('I6', `the read model's carried balances (${modelled.size} wallets) are not the log's (${mine.length} wallets)`);
  }

  trace('I6');
  // I7: an accepted report of a closed epoch counts in exactly its epoch's totals (at or before the cut-off, verified
  // by the reporting key in force where it was recorded, not voided), or is voided; never both, never neither.
  const counted = new Map<number, number>();
  for (const report of books.reports) {
    const epoch = books.epochs.get(report.epoch);
    if (epoch?.cutOff === undefined) continue;
    const voided = books.voided.get(`${report.stream}/${report.reportId}`) ?? 0;
    const inTotals = report.position <= epoch.cutOff && report.keyInForce;
    if (inTotals && voided > 0) violation('I7', `report ${report.reportId} counts in epoch ${report.epoch} and is voided too`);
    if (!inTotals && voided === 0)
      violation(
        'I7',
        `report ${report.reportId} was accepted (position ${report.position}) after epoch ${report.epoch}'s cut-off ${epoch.cutOff} or with a retired reporting key, and never voided: it vanished`,
      );
    if (voided > 1) violation('I7', `report ${report.reportId} is voided ${voided} times`);
    if (inTotals && voided === 0) counted.set(report.epoch, (counted.get(report.epoch) ?? 0) + 1);
  }
  if (reader) {
    for (const [number, epoch] of books.epochs) {
      if (epoch.closedAt === undefined || settlementPosition < epoch.closedAt) continue;
      const totals = await settlementQueries.reportedTotals(reader, number);
      if (totals.reports !== (counted.get(number) ?? 0))
        violation('I7', `the read model counts ${totals.reports} reports in epoch ${number}, the log ${counted.get(number) ?? 0}`);
    }
  }

  trace('I7');
  // I10: every books movement made while hybrid is in force is ordered on chain (a crash in between resumes it).
  for (const required of books.mustOrder)
    if (!books.transfers.has(required.orderId)) violation('I10', `${required.why} has no chain transfer (${required.orderId}): it is stranded`);

  // I4 (books): no synqer's vault movements exceed what it deposited on chain.
  const vaultOut = new Map<string, bigint>();
  for (const { order } of books.transfers.values()) {
    if (BigInt(order.amount) > U64_MAX) violation('I9', `transfer ${order.orderId} orders ${order.amount}, which does not fit in a u64`);
    if (order.source !== 'stake_vault') continue;
    const synqerId = order.reference.slice(0, order.reference.lastIndexOf('/'));
    vaultOut.set(synqerId, (vaultOut.get(synqerId) ?? 0n) + BigInt(order.amount));
  }
  for (const [synqerId, out] of vaultOut) {
    const deposited = books.stakes.get(synqerId)?.onChainDeposited ?? 0n;
    if (out > deposited)
      violation(
        'I4',
        `the vault is ordered to pay ${out} of ${synqerId}'s stake, and ${synqerId} deposited only ${deposited} on chain: it pays stake it never received`,
      );
  }

  trace('I4');
  if (chain && books.setup) await checkChain(books, chain, options, violation);
  return violations;
}

async function checkChain(books: MoneyBooks, chain: ChainGateway, options: CheckOptions, violation: (invariant: InvariantId, detail: string) => void) {
  const setup = books.setup!;
  const trace = (what: string) => process.env.MONEY_DEBUG && process.stderr.write(`  chain: ${what}\n`);
  const mint = new PublicKey(setup.mint);
  const tokenAmount = async (address: PublicKey) => readTokenAccount(address, await chain.getAccount(address))?.amount ?? 0n;
  const treasury = await tokenAmount(new PublicKey(setup.treasuryAccount));
  const vault = await tokenAmount(new PublicKey(setup.stakeVault));
  const supply = readMint(mint, await chain.getAccount(mint))?.supply ?? 0n;

  // What the books imply each account holds: confirmed payouts and transfers, proven deposits and burns.
  let impliedTreasury = BigInt(setup.treasuryOpeningBalance);
  let impliedVault = BigInt(setup.stakeVaultOpeningBalance);
  const impliedWallets = new Map<string, bigint>();
  const toWallet = (wallet: string, amount: bigint) => impliedWallets.set(wallet, (impliedWallets.get(wallet) ?? 0n) + amount);
  let reserved = 0n;
  /** web3 distributors' vaults: a holder of their own (funded by the treasury, emptied by claims and the clawback). */
  let inDistributorVaults = 0n;
  for (const [number, epoch] of books.epochs) {
    const mode = modeOf(books.modes, number);
    if (mode === 'web2') continue;
    const distributor = epoch.plan?.distributor;
    if (mode === 'web3' && distributor && epoch.confirmedBatches.has(0)) {
      // Funded with the total; claims are the wallets' own doing, read back from their ClaimStatus accounts.
      const total = BigInt(epoch.plan!.total);
      impliedTreasury -= total;
      const address = new PublicKey(distributor.address);
      const account = decodeMerkleDistributor((await chain.getAccount(address))?.data ?? Buffer.alloc(0));
      const held = await tokenAmount(new PublicKey(distributor.vault));
      inDistributorVaults += held;
      let claimed = 0n;
      if (epoch.leaves) {
        const statuses = await chain.getAccounts(epoch.leaves.map((leaf) => claimStatusAddress(new PublicKey(leaf.wallet), address)));
        epoch.leaves.forEach((leaf, i) => {
          const status = statuses[i] && decodeClaimStatus(statuses[i]!.data);
          if (!status) return;
          if (status.unlockedAmount !== leaf.amount)
            violation('I6', `epoch ${number}: ${leaf.wallet} claimed ${status.unlockedAmount}, its leaf is ${leaf.amount}`);
          claimed += status.unlockedAmount;
          toWallet(leaf.wallet, status.unlockedAmount);
        });
      }
      if (account && account.totalAmountClaimed !== claimed)
        violation('I6', `epoch ${number}'s distributor paid ${account.totalAmountClaimed} in claims; its leaves' claims come to ${claimed}`);
      // After the clawback the rest is back in the treasury.
      const clawedBack = account?.clawedBack ? total - claimed : 0n;
      impliedTreasury += clawedBack;
      if (held !== total - claimed - clawedBack)
        violation(
          'I2',
          `epoch ${number}'s distributor vault holds ${held}; funded ${total} less ${claimed} claimed and ${clawedBack} clawed back is ${total - claimed - clawedBack}`,
        );
      continue;
    }
    // The distribution first: a returned pool's distribution may still pay balances carried into it.
    const owed = epoch.distribution
      ? BigInt(epoch.distribution.total)
      : epoch.returned !== undefined
        ? 0n
        : epoch.rewards
          ? BigInt(epoch.rewards.paid)
          : epoch.pool;
    let paid = 0n;
    if (mode === 'hybrid' && epoch.settled && !epoch.leaves) paid = BigInt(epoch.settled.paid);
    else if (mode === 'hybrid' && epoch.plan && epoch.leaves) {
      for (const batch of epoch.plan.batches) {
        if (!epoch.confirmedBatches.has(batch.batch) || batch.kind !== 'payout') continue;
        for (const leaf of epoch.leaves.slice(batch.firstLeaf, batch.firstLeaf + batch.leafCount)) {
          paid += leaf.amount;
          toWallet(leaf.wallet, leaf.amount);
        }
      }
    }
    impliedTreasury -= paid;
    reserved += owed - paid;
  }
  // Carried balances are owed by the treasury too, reserved like an unpaid pool until a distribution pays them.
  if (modeOf(books.modes, Math.max(0, ...books.epochs.keys())) !== 'web2') {
    for (const balance of books.carried.values()) reserved += balance;
  }
  for (const [, stake] of books.stakes) impliedVault += stake.onChainDeposited;
  for (const { order, status, confirmedSignature } of books.transfers.values()) {
    const amount = BigInt(order.amount);
    if (status !== 'confirmed') {
      if (order.source === 'treasury') reserved += amount;
      continue;
    }
    if (order.source === 'treasury') impliedTreasury -= amount;
    else impliedVault -= amount;
    if (order.toTreasury) impliedTreasury += amount;
    else if (order.recipientWallet) toWallet(order.recipientWallet, amount);
    // I9: the transaction moved exactly the ordered amount.
    const landed = confirmedSignature ? await chain.getTransaction(confirmedSignature) : null;
    const moved = landed
      ? tokenMovements(
          { ...landed, instructions: landed.instructions.map((i) => ({ ...i, data: new Uint8Array(i.data) })) } as ChainTransactionFacts,
          TOKEN_PROGRAM_ID.toBase58(),
        )
      : [];
    const total = moved.reduce((sum, movement) => sum + movement.amount, 0n);
    if (!landed || landed.error !== null || total !== amount)
      violation(
        'I9',
        `transfer ${order.orderId} is confirmed for ${amount}; its transaction ${confirmedSignature} moved ${landed ? total : 'nothing (not on chain)'}`,
      );
  }
  trace('transfers');
  let burned = 0n;
  for (const [, account] of books.developers) burned += account.onChainBurned;
  const impliedSupply = BigInt(setup.mintSupplyAtSetup) - burned;

  // I1: conservation. The supply is what was minted less the burns credited; in a closed world it is exactly the
  // treasury, the vault and the books' wallets.
  if (options.closedWorld ? supply !== impliedSupply : supply > impliedSupply)
    violation('I1', `the mint supply is ${supply}; minted ${setup.mintSupplyAtSetup} less ${burned} burned and credited is ${impliedSupply}`);
  const wallets = new Set<string>([...impliedWallets.keys()]);
  for (const account of books.developers.values()) wallets.add(account.wallet);
  for (const list of books.synqerWallets.values()) for (const wallet of list) wallets.add(wallet);
  trace(`wallets ${wallets.size}`);
  let inWallets = 0n;
  const walletBalances = new Map<string, bigint>();
  for (const wallet of wallets) {
    const amount = await tokenAmount(associatedTokenAddress(wallet, mint));
    walletBalances.set(wallet, amount);
    inWallets += amount;
  }
  if (options.closedWorld && supply !== treasury + vault + inDistributorVaults + inWallets)
    violation(
      'I1',
      `the mint supply ${supply} is not treasury ${treasury} + vault ${vault} + distributor vaults ${inDistributorVaults} + the books' wallets ${inWallets}: tokens are somewhere the books do not know`,
    );
  if (!options.closedWorld && supply < treasury + vault + inDistributorVaults + inWallets)
    violation('I1', `the mint supply ${supply} is less than what the known accounts hold`);

  trace('balances');
  // I2: the treasury holds what the books imply.
  if (treasury !== impliedTreasury) violation('I2', `the treasury holds ${treasury} on chain; the books imply ${impliedTreasury}`);
  // I3: it covers what is reserved: unpaid pools of on-chain epochs and ordered transfers not yet sent.
  if (treasury < reserved)
    violation('I3', `the treasury holds ${treasury} on chain, less than the ${reserved} reserved for unpaid on-chain pools and unsent transfers`);
  // I4: the vault holds exactly the stake deposited on chain that it has not paid back or slashed.
  if (vault !== impliedVault) violation('I4', `the stake vault holds ${vault} on chain; the on-chain-backed stakes it owes come to ${impliedVault}`);

  if (options.closedWorld) {
    // Each wallet: what the books delivered and paid it, less what it burned and deposited on chain as credited.
    for (const account of books.developers.values()) toWallet(account.wallet, -account.onChainBurned);
    for (const [synqerId, stake] of books.stakes) {
      if (stake.onChainDeposited === 0n) continue;
      // On-chain deposits come from the synqer's first payout wallet in the property test's world.
      const wallet = books.synqerWallets.get(synqerId)?.[0];
      if (wallet) toWallet(wallet, -stake.onChainDeposited);
    }
    for (const wallet of wallets) {
      const held = walletBalances.get(wallet) ?? 0n;
      const implied = impliedWallets.get(wallet) ?? 0n;
      if (held !== implied) violation('I1', `wallet ${wallet} holds ${held} $SYNQ; the books imply ${implied}`);
    }
  }
}

/** Fails the test with every violation, except those of `expected` invariants (a test that injected that fault). */
export async function expectMoneyInvariants(
  target: Parameters<typeof checkMoneyInvariants>[0],
  options: CheckOptions & { expected?: InvariantId[] } = {},
): Promise<Violation[]> {
  const violations = await checkMoneyInvariants(target, options);
  const unexpected = violations.filter((v) => !(options.expected ?? []).includes(v.invariant));
  expect(unexpected).toEqual([]);
  for (const invariant of options.expected ?? []) expect(violations.map((v) => v.invariant)).toContain(invariant);
  return violations;
}

export type { RecordedEvent };
