import { PublicKey, type Keypair, type TransactionInstruction } from '@solana/web3.js';
import type { ChainSetup } from '../../domain/chain-setup';
import {
  anchorMemo,
  awaitingAttempts,
  batchesToSign,
  completeSettlement,
  distributorTerms,
  evolvePayout,
  initialPayout,
  payoutDecider,
  payoutMemo,
  payoutStream,
  planSettlement,
  recordOutcomes,
  recordSigned,
  type AttemptOutcome,
  type DistributorAccounts,
  type DistributorTerms,
  type EpochSettledData,
  type PayoutEvent,
  type PayoutState,
  type PlannedBatch,
  type SignedAttempt,
} from '../../domain/epoch-payout';
import { epochSettlementDecider } from '../../domain/epoch-settlement';
import { merkleTreeOf } from '../../domain/merkle-distribution';
import { shortfall } from '../../domain/liabilities';
import { networkDecider } from '../../domain/network';
import { claimPolicy, policyFor } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import { modeOf, requireNotPaused } from '../../domain/settlement-control';
import { settlementQueries } from '../../projections/settlement';
import { load, loadLatest, toEnvelopes, type CommandMetadata } from '../commands/streams';
import { WrongExpectedRevisionError } from '../event-store/errors';
import type { EventStore, ExpectedRevision } from '../event-store/event-store';
import { ChainError, signatureOf, type ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { decodeMerkleDistributor } from '../../domain/jito-distributor';
import { distributorAddress, distributorVault, newDistributorInstruction } from '../chain/jito-distributor';
import {
  associatedTokenAddress,
  associatedTokenAddresses,
  createAssociatedAccountIdempotent,
  memoInstruction,
  readTokenAccount,
  signTransaction,
  TOKEN_ACCOUNT_SIZE,
  transferChecked,
} from '../chain/token';
import type { ProjectionReader } from '../projections/projection-reader';
import type { EngineMetrics } from '../observability/engine-metrics';
import { loadSettlementControl, resolveAttempt, sendAttempt } from './chain-attempts';

/** Payouts per transaction at most, whatever fits in bytes: each creation of a token account costs compute. */
export const MAX_TRANSFERS_PER_TRANSACTION = 24;
/**
 * The `MerkleDistributor` account's size as this binary allocates it (240 bytes, measured: 6 more than its fields):
 * its rent is paid by the treasury authority.
 */
export const DISTRIBUTOR_ACCOUNT_SIZE = 240;
/** Attempts signed, recorded and sent together: one append before sending, one after. */
const WINDOW = 128;

export interface SettleOptions {
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
  /** Tests and benches: called after the window's attempts are recorded, and after each is sent. */
  afterStep?: (step: 'recorded' | 'sent', batch: number) => void | Promise<void>;
  /** Attempts signed and recorded together (default 128). */
  window?: number;
}

interface Leaf {
  wallet: string;
  amount: bigint;
}

/**
 * Executes epoch settlements: web2 in the books, hybrid as SPL transfers from the treasury, web3 as the epoch's Jito
 * merkle distributor, created and funded in one transaction.
 * Every attempt is recorded before it is sent and resolved by asking the chain, so a process killed at any point
 * resumes where it was, and no leaf is paid twice (domain/epoch-payout.ts holds the rule; this class keeps to it).
 * Two executors on one epoch cannot both proceed: each append expects the exact revision it read.
 */
export class PayoutExecutor {
  constructor(
    private readonly store: EventStore,
    private readonly chain: ChainGateway,
    private readonly reader: ProjectionReader,
    private readonly treasuryKey: () => Promise<Keypair>,
    private readonly metrics?: EngineMetrics,
  ) {}

  async settle(epoch: number, metadata: CommandMetadata, options: SettleOptions = {}): Promise<EpochSettledData> {
    const log = options.log ?? (() => undefined);
    const payout = new PayoutLog(this.store, epoch, metadata);
    await payout.load();
    if (payout.state.settled) return payout.state.settled;

    if (!payout.state.plan) await this.plan(epoch, payout, log);
    const plan = payout.state.plan!;
    if (plan.mode === 'web2') {
      await payout.append(completeSettlement(payout.state));
      return payout.state.settled!;
    }

    const setup = await loadChainSetup(this.store);
    if (!setup) reject('conflict', 'chain', 'the chain is not set up');
    const authority = await this.treasuryKey();
    if (authority.publicKey.toBase58() !== setup.treasuryAuthority) {
      throw new ChainError(`the treasury keypair (${authority.publicKey.toBase58()}) is not the recorded treasury authority ${setup.treasuryAuthority}`);
    }
    const leaves = plan.mode === 'hybrid' ? await this.leaves(epoch, plan.leafCount) : [];

    // First what may be on the chain already: attempts recorded before a crash or a lost answer.
    const awaiting = awaitingAttempts(payout.state);
    if (awaiting.length > 0) {
      log(`epoch ${epoch}: resolving ${awaiting.length} attempts recorded before`);
      const resolved = await Promise.all(awaiting.map((attempt) => resolveAttempt(this.chain, attempt)));
      await payout.append(recordOutcomes(payout.state, resolved));
      this.count(plan.mode, resolved);
    }

    // The whole plan must be funded before a transaction is sent: never stop half paid for want of tokens.
    await this.requireFunded(setup, plan.batches, payout.state, leaves);

    const total = plan.batches.length;
    for (;;) {
      const pending = batchesToSign(payout.state);
      options.onProgress?.(total - pending.length, total);
      if (pending.length === 0) break;
      requireNotPaused(await loadSettlementControl(this.store));
      const window = pending.slice(0, options.window ?? WINDOW);
      const { blockhash, lastValidBlockHeight } = await this.chain.latestBlockhash();
      const rentPerAccount = await this.chain.minimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE);
      const attempts: Omit<SignedAttempt, 'attempt'>[] = [];
      for (const index of window) {
        const batch = plan.batches[index];
        if (batch.kind === 'distributor') {
          const { instructions, terms, rent } = await this.distributorInstructions(plan.distributor!, setup, authority.publicKey, plan);
          const wire = signTransaction(instructions, [authority], blockhash);
          attempts.push({
            epoch,
            batch: index,
            signature: signatureOf(wire),
            blockhash,
            lastValidBlockHeight: lastValidBlockHeight.toString(),
            wire: Buffer.from(wire).toString('base64'),
            rent: rent.toString(),
            terms,
          });
          continue;
        }
        const { instructions, created } =
          batch.kind === 'anchor'
            ? { instructions: [memoInstruction(anchorMemo(plan), authority.publicKey)], created: [] }
            : this.payoutInstructions(setup, authority.publicKey, plan.epoch, plan.root, batch, leaves);
        const missing = created.length === 0 ? 0 : (await this.chain.getAccounts(created)).filter((account) => account === null).length;
        const wire = signTransaction(instructions, [authority], blockhash);
        attempts.push({
          epoch,
          batch: index,
          signature: signatureOf(wire),
          blockhash,
          lastValidBlockHeight: lastValidBlockHeight.toString(),
          wire: Buffer.from(wire).toString('base64'),
          rent: (rentPerAccount * BigInt(missing)).toString(),
        });
      }
      await payout.append(recordSigned(payout.state, attempts));
      await options.afterStep?.('recorded', window[0]);
      const outcomes: AttemptOutcome[] = [];
      for (const attempt of attempts) {
        outcomes.push(await sendAttempt(this.chain, attempt));
        await options.afterStep?.('sent', attempt.batch);
        // Each landed (or failed) transaction counts as it lands: a window is up to 128 of them.
        options.onProgress?.(total - pending.length + outcomes.length, total);
      }
      await payout.append(recordOutcomes(payout.state, outcomes));
      this.count(plan.mode, outcomes);
      const failed = outcomes.filter((outcome) => outcome.status === 'failed');
      if (failed.length > 0) {
        // A failed transaction moved nothing, and retrying at once would most likely fail the same way.
        const first = failed[0] as Extract<AttemptOutcome, { status: 'failed' }>;
        throw new ChainError(
          `epoch ${epoch}: ${failed.length} settlement transactions failed (first ${first.signature}: ${first.error}); nothing of them was paid, settle again once the cause is fixed`,
        );
      }
    }
    await payout.append(completeSettlement(payout.state));
    log(`epoch ${epoch}: settled in ${plan.mode} mode, ${plan.batches.length} transactions`);
    return payout.state.settled!;
  }

  /** Refuses (409, naming the shortfall) when the treasury on chain holds less than the payouts left to send. */
  private async requireFunded(setup: ChainSetup, batches: PlannedBatch[], state: PayoutState, leaves: Leaf[]): Promise<void> {
    const pending = batchesToSign(state);
    if (pending.length === 0) return;
    let needed = 0n;
    for (const index of pending) {
      const batch = batches[index];
      if (batch.kind === 'payout') for (const leaf of leaves.slice(batch.firstLeaf, batch.firstLeaf + batch.leafCount)) needed += leaf.amount;
      if (batch.kind === 'distributor') needed += BigInt(state.plan!.total);
    }
    const address = new PublicKey(setup.treasuryAccount);
    const balance = readTokenAccount(address, await this.chain.getAccount(address))?.amount ?? 0n;
    const short = shortfall(needed, balance);
    if (short > 0n) {
      reject(
        'conflict',
        'treasury',
        `the treasury holds ${balance} base units and epoch ${state.plan!.epoch}'s payouts left to send need ${needed}: ${short} short; nothing was sent`,
      );
    }
  }

  /** Outcomes recorded: synq_settlement_transactions_total (web3 sends the distributor, hybrid the payouts). */
  private count(mode: string, outcomes: readonly AttemptOutcome[]): void {
    for (const outcome of outcomes) this.metrics?.settlementTransaction(mode === 'web3' ? 'distributor' : 'payout', outcome.status);
  }

  /**
   * The one transaction of a web3 epoch: `new_distributor` (the PDA and its vault, rent paid by the treasury authority),
   * the distribution's total from the treasury into the vault, and the root's Memo. A distributor already at the
   * epoch's address that none of this epoch's attempts created was put there by someone else (the PDA's seeds are
   * public): nothing is sent, and the operator is told.
   */
  private async distributorInstructions(
    accounts: DistributorAccounts,
    setup: ChainSetup,
    authority: PublicKey,
    plan: { epoch: number; root: string; total: string; leafCount: number },
  ) {
    const address = new PublicKey(accounts.address);
    const existing = await this.chain.getAccount(address);
    if (existing) {
      const found = decodeMerkleDistributor(existing.data);
      reject(
        'conflict',
        'distributor',
        `epoch ${plan.epoch}'s distributor address ${accounts.address} is taken by an account none of its recorded attempts created` +
          (found ? ` (admin ${found.admin}, root ${found.root.toString('hex')})` : '') +
          `: nothing was sent; see docs/operations.md (a squatted distributor)`,
      );
    }
    const network = await loadLatest(this.store, networkDecider);
    const terms: DistributorTerms = distributorTerms(await this.chain.unixTimestamp(), claimPolicy(policyFor(network.policies, plan.epoch)).claimWindowSeconds);
    const mint = new PublicKey(setup.mint);
    const total = BigInt(plan.total);
    const instructions = [
      newDistributorInstruction(
        { mint, admin: authority, clawbackReceiver: new PublicKey(accounts.clawbackReceiver) },
        {
          version: BigInt(accounts.version),
          root: Buffer.from(plan.root, 'hex'),
          maxTotalClaim: total,
          maxNumNodes: BigInt(plan.leafCount),
          startVestingTs: BigInt(terms.startVestingTs),
          endVestingTs: BigInt(terms.endVestingTs),
          clawbackStartTs: BigInt(terms.clawbackStartTs),
        },
      ),
      transferChecked(new PublicKey(setup.treasuryAccount), mint, new PublicKey(accounts.vault), authority, total),
      memoInstruction(anchorMemo(plan), authority),
    ];
    const rent =
      (await this.chain.minimumBalanceForRentExemption(DISTRIBUTOR_ACCOUNT_SIZE)) + (await this.chain.minimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE));
    return { instructions, terms, rent };
  }

  /**
   * What settling `epoch` would refuse before it does anything, refused now (404 unknown epoch; 409 not closed, no
   * distribution, settlement paused, chain not set up): the route answers these at once instead of starting a job.
   * The same checks as `settle` makes, from the same code; the rest (the treasury's balance, the chain) is the job's.
   */
  async refusal(epoch: number): Promise<void> {
    const { state } = await load(this.store, payoutDecider, epoch);
    if (state.settled) return;
    if (!state.plan) {
      await this.planInputs(epoch);
      return;
    }
    if (state.plan.mode === 'web2') return;
    if (!(await loadChainSetup(this.store))) reject('conflict', 'chain', 'the chain is not set up');
    // Batches left to sign are refused while paused (settle checks before each window).
    if (batchesToSign(state).length > 0) requireNotPaused(await loadSettlementControl(this.store));
  }

  /** A plan's inputs, or the refusal: the epoch closed with its distribution recorded, the mode, and for the chain its setup. */
  private async planInputs(epoch: number) {
    const network = await loadLatest(this.store, networkDecider);
    const info = network.epochs.get(epoch);
    if (!info) reject('not_found', 'epoch', `epoch ${epoch} does not exist`);
    if (info.status !== 'closed') reject('conflict', 'epoch', `epoch ${epoch} is not closed`);
    const recorded = (await load(this.store, epochSettlementDecider, epoch)).state;
    if (!recorded.distribution) reject('conflict', 'epoch', `epoch ${epoch}'s distribution is not built yet: close it first (the close records it)`);
    const control = await loadSettlementControl(this.store);
    const mode = modeOf(control, epoch);
    if (mode === 'web2') return { distribution: recorded.distribution, mode, setup: undefined };
    requireNotPaused(control);
    const setup = await loadChainSetup(this.store);
    if (!setup) reject('conflict', 'chain', `epoch ${epoch} settles in ${mode} mode, and the chain is not set up`);
    return { distribution: recorded.distribution, mode, setup };
  }

  private async plan(epoch: number, payout: PayoutLog, log: (line: string) => void): Promise<void> {
    const { distribution, mode, setup } = await this.planInputs(epoch);
    let accounts: boolean[] = [];
    let distributor: DistributorAccounts | undefined;
    if (setup) {
      if (mode === 'hybrid') {
        const leaves = await this.leaves(epoch, distribution.leafCount, distribution.root);
        const mint = new PublicKey(setup.mint);
        const found = await this.chain.getAccounts(
          await associatedTokenAddresses(
            leaves.map((leaf) => leaf.wallet),
            mint,
          ),
        );
        accounts = found.map((account) => account !== null);
      }
      if (mode === 'web3') {
        const mint = new PublicKey(setup.mint);
        const address = distributorAddress(mint, BigInt(epoch));
        distributor = {
          version: epoch,
          address: address.toBase58(),
          vault: distributorVault(address, mint).toBase58(),
          admin: setup.treasuryAuthority,
          clawbackReceiver: setup.treasuryAccount,
        };
      }
    }
    log(`epoch ${epoch}: planning a ${mode} settlement of ${distribution.leafCount} payouts`);
    await payout.append(
      planSettlement(payout.state, {
        epoch,
        mode,
        root: distribution.root,
        leafCount: distribution.leafCount,
        total: distribution.total,
        leaves:
          mode === 'hybrid'
            ? accounts.map((accountExists) => ({ accountExists }))
            : Array.from({ length: distribution.leafCount }, () => ({ accountExists: true })),
        maxTransfersPerTransaction: MAX_TRANSFERS_PER_TRANSACTION,
        distributor,
      }),
    );
  }

  /** The distribution's leaves in order, from the projection; checked against the recorded root when planning. */
  private async leaves(epoch: number, leafCount: number, root?: string): Promise<Leaf[]> {
    const rows = await settlementQueries.leafAmountsAndHashes(this.reader, epoch);
    if (rows.length !== leafCount) reject('conflict', 'epoch', `the projection holds ${rows.length} of epoch ${epoch}'s ${leafCount} leaves: let it catch up`);
    if (root !== undefined) {
      const rebuilt = merkleTreeOf(rows.map((row) => row.leaf_hash))
        .getRoot()
        .toString('hex');
      if (rebuilt !== root) reject('conflict', 'root', `the projection's leaves of epoch ${epoch} hash to ${rebuilt}, not the recorded root ${root}`);
    }
    return rows.map((row) => ({ wallet: row.wallet, amount: BigInt(row.amount) }));
  }

  private payoutInstructions(
    setup: ChainSetup,
    authority: PublicKey,
    epoch: number,
    root: string,
    batch: { batch: number; firstLeaf: number; leafCount: number; creates: string },
    leaves: Leaf[],
  ) {
    const mint = new PublicKey(setup.mint);
    const treasury = new PublicKey(setup.treasuryAccount);
    const instructions: TransactionInstruction[] = [];
    const created: PublicKey[] = [];
    for (let i = 0; i < batch.leafCount; i++) {
      const leaf = leaves[batch.firstLeaf + i];
      const account = associatedTokenAddress(leaf.wallet, mint);
      if (batch.creates[i] === '1') {
        instructions.push(createAssociatedAccountIdempotent(authority, new PublicKey(leaf.wallet), mint));
        created.push(account);
      }
      instructions.push(transferChecked(treasury, mint, account, authority, leaf.amount));
    }
    instructions.push(memoInstruction(payoutMemo(epoch, batch.batch, root), authority));
    return { instructions, created };
  }
}

/** The payout stream of one epoch as this executor last read or wrote it; appends expect exactly that revision. */
class PayoutLog {
  state: PayoutState = initialPayout();
  private revision: ExpectedRevision = 'no_stream';
  private appended = 0;

  constructor(
    private readonly store: EventStore,
    private readonly epoch: number,
    private readonly metadata: CommandMetadata,
  ) {}

  async load(): Promise<void> {
    const folded = await load(this.store, payoutDecider, this.epoch);
    this.state = folded.state;
    this.revision = folded.revision;
  }

  async append(events: PayoutEvent[]): Promise<void> {
    if (events.length === 0) return;
    const stream = payoutStream(this.epoch);
    // Event ids derive from the stream position they are written at: a retried append is a no-op, never a duplicate.
    const at = this.revision === 'no_stream' ? 0n : (this.revision as bigint) + 1n;
    const metadata = { ...this.metadata, commandId: `${this.metadata.commandId}:${at}:${this.appended++}` };
    try {
      const result = await this.store.append(stream, toEnvelopes(stream, events, metadata), { expectedRevision: this.revision });
      this.revision = result.nextExpectedRevision;
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError)
        reject(
          'conflict',
          'epoch',
          `epoch ${this.epoch} is being settled by another process at the same time; this one stopped, and whatever it sent is recorded and resolved by the next run`,
        );
      throw error;
    }
    for (const event of events) this.state = evolvePayout(this.state, event);
  }
}
