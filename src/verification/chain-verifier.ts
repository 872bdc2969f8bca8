import { JITO_DISTRIBUTOR_PROGRAM_ID } from '../chain/jito-distributor';
import { createHash, randomUUID } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import type { Pool, PoolClient } from 'pg';
import type { ChainSetup } from '../../domain/chain-setup';
import { evolveChainTransfer, initialChainTransfer, transferMemo, type ChainTransferEvent, type ChainTransferState } from '../../domain/chain-transfer';
import {
  isFinal,
  verifyChain,
  recordRun,
  verificationDecider,
  verificationStream,
  type ChainTransactionFacts,
  type DiscrepancyType,
  type DistributorFacts,
  type ObservedClaim,
  type OrderedTransfer,
  type PayoutLeaf,
  type ProvenCredit,
  type VerificationCoverage,
  type VerificationInput,
  type VerificationRun,
} from '../../domain/chain-verification';
import { epochClaimsDecider, observeClaims } from '../../domain/epoch-claims';
import { CLAIM_STATUS_ACCOUNT_SIZE } from '../../domain/jito-distributor';
import type { PayoutState } from '../../domain/epoch-payout';
import { networkDecider } from '../../domain/network';
import { reject } from '../../domain/rejection';
import * as control from '../../domain/settlement-control';
import { settlementQueries } from '../../projections/settlement';
import { decideAndAppend, load, loadLatest, toEnvelopes, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { associatedTokenAddress, associatedTokenAddresses, MEMO_PROGRAM_ID, readMint, readTokenAccount, TOKEN_PROGRAM_ID } from '../chain/token';
import type { ProjectionReader } from '../projections/projection-reader';
import { loadProvenCredits } from './proven-credits';
import { loadLedgerBooks } from './liabilities';
import { accountsSha256, getAccountsInChunks, loadDistributorFacts } from './distributors';
import { VerificationCheckpoints, type Checkpoints, type EpochCheckpoint, type WatchedAccount, type WatchedRole } from './checkpoints';
import { loadAllEpochStreams, loadEpochStreams, touchedEpochs, type EpochStreams } from './epoch-streams';

/** Discrepancies of transactions naming a watched account that the books do not record: looked at again by every run. */
const UNRECORDED: ReadonlySet<DiscrepancyType> = new Set(['leaf_paid_twice', 'unrecorded_treasury_transfer', 'unrecorded_stake_vault_transfer']);
import type { EngineMetrics } from '../observability/engine-metrics';
import type { JobService, JobView } from '../jobs/jobs';

export interface VerificationDependencies {
  store: EventStore;
  chain: ChainGateway;
  reader: ProjectionReader;
  /** Where runs keep their checkpoints (migrations/009) and queue on one another. */
  pool: Pool;
  metrics?: EngineMetrics;
}

/** Replay-verification, composed once: for the engine (VerificationModule, settlement) and `synq verify chain` / `synq settle` alike. */
export function createVerification(deps: VerificationDependencies): ChainVerifier {
  return new ChainVerifier(deps.store, deps.chain, deps.reader, new VerificationCheckpoints(deps.pool), deps.metrics);
}

export interface RunOptions {
  /**
   * Verify the whole history again, every epoch's transactions, distributors and claims and every transaction naming
   * the treasury and the stake vault, and compare it with the checkpoints (which it then rewrites). Otherwise a run
   * starts from the checkpoints the last run left and verifies what is new or can have changed since (a run without
   * usable checkpoints is full).
   */
  full?: boolean;
  now?: () => Date;
  onProgress?: (done: number, total: number) => void;
  /**
   * Every claim the chain holds for a leaf of the epochs this run verified (wallet, amount, ClaimStatus, signature when
   * found), given after the run is recorded: where the books learn who claimed (issue 15: `RewardClaimObserved` on
   * `claims-<epoch>`). An epoch taken from a checkpoint is clawed back and its claims are in the books already.
   */
  onClaimsObserved?: (claims: ObservedClaim[]) => void | Promise<void>;
}

/**
 * Runs replay-verification (domain/chain-verification.ts): reads the event history and the chain through the gateway,
 * records the run as an event, and opens the circuit breaker when it found a discrepancy.
 *
 * Incremental by default (issue 17 item 9): a run starts from the checkpoints of the run before
 * (src/verification/checkpoints.ts) and verifies again only what is new or can have changed since: epochs not final
 * yet (not settled, not clean, web3 claims still open), epochs whose streams have new events, clawed-back epochs whose
 * distributor or vault account changed, and the transactions naming the treasury or the stake vault after the last one
 * seen (and those found unrecorded before). Final epochs are taken as proven, with their share of the checks and of the
 * treasury. The books outside the epochs' streams (transfers, purchases, stakes, credits) are folded whole, as are
 * their transactions: they grow with activity, not with epochs. A full run checks everything and compares.
 */
export class ChainVerifier {
  constructor(
    private readonly store: EventStore,
    private readonly chain: ChainGateway,
    private readonly reader: ProjectionReader,
    private readonly checkpoints: VerificationCheckpoints,
    private readonly metrics?: EngineMetrics,
  ) {}

  async run(metadata: Omit<CommandMetadata, 'commandId'>, options: RunOptions = {}): Promise<VerificationRun> {
    const setup = await this.chainSetup();
    return this.checkpoints.exclusively((client) => this.verify(setup, client, metadata, options));
  }

  private async verify(setup: ChainSetup, client: PoolClient, metadata: Omit<CommandMetadata, 'commandId'>, options: RunOptions): Promise<VerificationRun> {
    const upToPosition = await this.store.lastPosition();
    const mint = new PublicKey(setup.mint);
    const treasuryAccount = new PublicKey(setup.treasuryAccount);
    const stakeVault = new PublicKey(setup.stakeVault);
    const setupSha256 = createHash('sha256')
      .update(
        JSON.stringify([
          setup.cluster,
          setup.mint,
          setup.treasuryAccount,
          setup.stakeVault,
          setup.treasuryOpeningBalance,
          setup.stakeVaultOpeningBalance,
          setup.mintSupplyAtSetup,
        ]),
      )
      .digest('hex');
    const recorded = await this.checkpoints.load(client);
    const since = options.full ? null : await this.usable(recorded, setup.cluster, setupSha256);
    const network = await loadLatest(this.store, networkDecider);

    // The epochs: taken from their checkpoints where nothing they rest on changed, read and verified again otherwise.
    let reused: EpochCheckpoint[] = [];
    let streams: Map<number, EpochStreams>;
    if (since) {
      const touched = await touchedEpochs(this.store, since.upToPosition, upToPosition);
      reused = await this.unchanged([...since.epochs.values()].filter((checkpoint) => !touched.has(checkpoint.verification.epoch)));
      const taken = new Set(reused.map((checkpoint) => checkpoint.verification.epoch));
      const wanted = new Set([...network.epochs.keys(), ...touched].filter((epoch) => !taken.has(epoch)));
      streams = await loadEpochStreams(
        this.store,
        upToPosition,
        [...wanted].sort((a, b) => a - b),
      );
    } else {
      streams = await loadAllEpochStreams(this.store, upToPosition);
    }
    const payouts = [...streams.values()].sort((a, b) => a.epoch - b.epoch).flatMap((epoch) => (epoch.payout ? [epoch.payout] : []));
    const withLeaves: { state: PayoutState; leaves: PayoutLeaf[] }[] = [];
    for (const state of payouts) {
      const hybrid = state.plan?.mode === 'hybrid';
      withLeaves.push({ state, leaves: hybrid ? await this.leaves(state.plan!.epoch, mint) : [] });
    }
    const credits: ProvenCredit[] = await loadProvenCredits(this.store, upToPosition, setup.stakeVault);
    const transfers = await this.loadTransfers(upToPosition, setup);
    const ledger = await loadLedgerBooks(this.store, upToPosition);

    // The watched accounts: every signature naming them (a full run), or those after the last one seen and those found
    // unrecorded before.
    const watch = (role: WatchedRole, address: PublicKey) => this.watch(since?.accounts.get(role), role, address);
    const [treasuryWatch, vaultWatch] = await Promise.all([watch('treasury', treasuryAccount), watch('stake_vault', stakeVault)]);
    const wanted = new Set<string>([
      ...treasuryWatch.asked,
      ...vaultWatch.asked,
      ...credits.map((credit) => credit.signature),
      ...transfers.flatMap((t) => (t.current ? [t.current] : [])),
    ]);
    for (const state of payouts)
      for (const batch of state.batches)
        if (batch.current && (batch.status === 'confirmed' || batch.status === 'awaiting')) wanted.add(batch.current.signature);
    const distributors = await loadDistributorFacts(this.chain, this.reader, payouts, mint);
    for (const facts of distributors) for (const signature of facts.vaultSignatures) wanted.add(signature);
    const chainClock = distributors.length > 0 ? await this.chain.unixTimestamp() : null;
    const transactions = await this.fetch([...wanted], options.onProgress);
    const [treasury, vault, mintAccount] = await this.chain.getAccounts([treasuryAccount, stakeVault, mint]);

    const loaded = [...streams.values()];
    const input: VerificationInput = {
      setup,
      programs: { token: TOKEN_PROGRAM_ID.toBase58(), memo: MEMO_PROGRAM_ID.toBase58(), distributor: JITO_DISTRIBUTOR_PROGRAM_ID.toBase58() },
      payouts: withLeaves,
      credits,
      transfers,
      transactions,
      treasurySignatures: treasuryWatch.asked,
      stakeVaultSignatures: vaultWatch.asked,
      balances: {
        treasury: readTokenAccount(treasuryAccount, treasury)?.amount ?? null,
        stakeVault: readTokenAccount(stakeVault, vault)?.amount ?? null,
        mintSupply: readMint(mint, mintAccount)?.supply ?? null,
      },
      distributors,
      chainClock,
      liabilities: {
        epochs: [...network.epochs.values()],
        orders: ledger.orders,
        backedStakeOwed: ledger.backedStakeOwed,
        purchases: ledger.purchases,
        withdrawalsWithoutOrder: ledger.withdrawalsWithoutOrder,
        distributions: new Map(loaded.flatMap((epoch) => (epoch.distributionTotal === undefined ? [] : [[epoch.epoch, epoch.distributionTotal] as const]))),
        carried: loaded.reduce((sum, epoch) => sum + epoch.carried, 0n),
        carriedByEpoch: new Map(loaded.map((epoch) => [epoch.epoch, epoch.carried])),
      },
      verifiedEpochs: reused.map((checkpoint) => checkpoint.verification),
      earlierTreasuryTransactions: treasuryWatch.earlier,
      checkpoints: options.full ? [...(recorded?.epochs.values() ?? [])].map((checkpoint) => checkpoint.verification) : undefined,
    };
    let result = verifyChain(input);
    // Tokens left the treasury unrecorded: whether they repeat a leaf of an epoch taken from its checkpoint is read now.
    const hybridReused = reused.filter((checkpoint) => checkpoint.verification.mode === 'hybrid');
    if (hybridReused.length > 0 && result.discrepancies.some((d) => d.type === 'unrecorded_treasury_transfer')) {
      const payments = new Map<string, number>();
      for (const { verification } of hybridReused)
        for (const leaf of await this.leaves(verification.epoch, mint)) payments.set(`${leaf.account}:${leaf.amount}`, verification.epoch);
      result = verifyChain({ ...input, verifiedLeafPayments: payments });
    }

    const runId = randomUUID();
    const coverage: VerificationCoverage = {
      scope: since ? 'incremental' : 'full',
      reverifiedEpochs: result.epochs.map((epoch) => epoch.epoch),
      reusedEpochs: reused.length,
      ...(since ? { sinceRunId: since.runId } : {}),
    };
    const events = recordRun(result, {
      runId,
      cluster: setup.cluster,
      upToPosition,
      completedAt: (options.now?.() ?? new Date()).toISOString(),
      coverage,
    });
    const stream = verificationStream(runId);
    await this.store.append(stream, toEnvelopes(stream, events, { ...metadata, commandId: runId }), { expectedRevision: 'no_stream' });
    const run = events[0].data;
    this.metrics?.verificationRun(run);
    if (run.discrepancyCount > 0) {
      await decideAndAppend(
        this.store,
        control.settlementControlDecider,
        undefined,
        (state) => control.pauseSettlement(state, { verificationRunId: runId, discrepancies: run.discrepancyCount }),
        { ...metadata, commandId: `pause-${runId}` },
      );
    }
    await this.recordClaims(result.claims, distributors, metadata);
    await options.onClaimsObserved?.(result.claims);

    // What this run proved final becomes a checkpoint; what it verified again and is not final any more loses its own.
    const fingerprints = new Map(distributors.map((facts) => [facts.epoch, facts.accountsSha256]));
    const proven = result.epochs.filter(isFinal).map((verification): EpochCheckpoint => {
      const distributor = streams.get(verification.epoch)?.payout?.plan?.distributor;
      return {
        verification,
        ...(verification.mode === 'web3' && distributor
          ? { accounts: { distributor: distributor.address, vault: distributor.vault, sha256: fingerprints.get(verification.epoch)! } }
          : {}),
        runId,
        upToPosition,
      };
    });
    const flagged = new Set(result.discrepancies.flatMap((d) => (UNRECORDED.has(d.type) && d.signature ? [d.signature] : [])));
    await this.checkpoints.save(
      client,
      { runId, upToPosition, cluster: setup.cluster, setupSha256, scope: coverage.scope },
      {
        epochs: proven,
        dropped: result.epochs.filter((epoch) => !isFinal(epoch)).map((epoch) => epoch.epoch),
        accounts: [treasuryWatch.next(flagged), vaultWatch.next(flagged)],
        replaceAll: !since,
      },
    );
    return run;
  }

  /** The checkpoints to start from: none for another chain or setup, or when a signature they last saw is gone from the chain. */
  private async usable(recorded: Checkpoints | null, cluster: string, setupSha256: string): Promise<Checkpoints | null> {
    if (!recorded || recorded.cluster !== cluster || recorded.setupSha256 !== setupSha256) return null;
    const last = [...recorded.accounts.values()].flatMap((account) => (account.lastSignature ? [account.lastSignature] : []));
    if ((await this.chain.getTransactions(last)).some((transaction) => transaction === null)) return null;
    return recorded;
  }

  /** The checkpoints whose web3 distributor and vault accounts are as they were proven (the others are verified again). */
  private async unchanged(checkpoints: EpochCheckpoint[]): Promise<EpochCheckpoint[]> {
    const web3 = checkpoints.filter((checkpoint) => checkpoint.accounts);
    const addresses = web3.flatMap(({ accounts }) => [new PublicKey(accounts!.distributor), new PublicKey(accounts!.vault)]);
    const found = await getAccountsInChunks(this.chain, addresses);
    const changed = new Set(web3.filter((checkpoint, i) => accountsSha256(found[2 * i], found[2 * i + 1]) !== checkpoint.accounts!.sha256));
    return checkpoints.filter((checkpoint) => !changed.has(checkpoint));
  }

  /**
   * An account's signatures for this run (`asked`: all of them in a full run; else those after the last one seen and
   * those flagged before), how many earlier runs looked at and need no second look, and its watch after the run.
   */
  private async watch(before: WatchedAccount | undefined, role: WatchedRole, address: PublicKey) {
    const fresh = await this.chain.signaturesForAddress(address, before?.lastSignature ? { after: before.lastSignature } : {});
    const asked = [...new Set([...(before?.flagged ?? []), ...fresh])];
    return {
      asked,
      earlier: before ? before.seen - before.flagged.length : 0,
      next: (flagged: ReadonlySet<string>): WatchedAccount => ({
        role,
        address: address.toBase58(),
        lastSignature: fresh.at(-1) ?? before?.lastSignature ?? null,
        seen: (before?.seen ?? 0) + fresh.length,
        flagged: asked.filter((signature) => flagged.has(signature)),
      }),
    };
  }

  /**
   * `run` as a job (src/jobs), a run of its own at each call: a chain that is not set up is refused at once (409).
   * Its progress is the transactions read from the chain; its result the run.
   */
  async start(jobs: JobService, metadata: Omit<CommandMetadata, 'commandId'>, options: { full?: boolean } = {}): Promise<JobView> {
    await this.chainSetup();
    return jobs.start({ kind: 'verification', actor: metadata.actor, correlationId: metadata.correlationId }, (job) =>
      this.run(metadata, { full: options.full, onProgress: (done, total) => job.progress(done, total, 'transactions') }),
    );
  }

  private async chainSetup(): Promise<ChainSetup> {
    const setup = await loadChainSetup(this.store);
    if (!setup) reject('conflict', 'chain', 'the chain is not set up: there is nothing on chain to verify');
    return setup;
  }

  /**
   * The books learn who claimed: each claim of a leaf for exactly its amount, not recorded yet, becomes a
   * `RewardClaimObserved` on `claims-<epoch>` (once per wallet; the audit replays them). A claim of another amount is
   * not the wallet's claim in the books: the run reports it (`claim_amount_mismatch`) and nothing is recorded for it.
   */
  private async recordClaims(claims: readonly ObservedClaim[], distributors: readonly DistributorFacts[], metadata: Omit<CommandMetadata, 'commandId'>) {
    const leafAmounts = new Map(distributors.map((facts) => [facts.epoch, new Map(facts.leaves.map((leaf) => [leaf.wallet, leaf.amount]))]));
    const byEpoch = new Map<number, ObservedClaim[]>();
    for (const claim of claims) {
      if (leafAmounts.get(claim.epoch)?.get(claim.wallet) !== claim.amount) continue;
      byEpoch.set(claim.epoch, [...(byEpoch.get(claim.epoch) ?? []), claim]);
    }
    for (const [epoch, seen] of byEpoch) {
      const { state } = await load(this.store, epochClaimsDecider, epoch);
      const fresh = seen.filter((claim) => !state.observed.has(claim.wallet));
      if (fresh.length === 0) continue;
      const landed = await this.chain.getTransactions(fresh.map((claim) => claim.signature ?? '').filter((signature) => signature !== ''));
      const found = new Map(landed.flatMap((transaction) => (transaction ? [[transaction.signature, transaction] as const] : [])));
      // The program makes the claimant pay the ClaimStatus account's rent-exempt minimum.
      const rent = await this.chain.minimumBalanceForRentExemption(CLAIM_STATUS_ACCOUNT_SIZE);
      const sightings = fresh.map((claim) => {
        const transaction = claim.signature ? found.get(claim.signature) : undefined;
        return {
          epoch,
          wallet: claim.wallet,
          amount: claim.amount.toString(),
          claimStatus: claim.claimStatus,
          signature: claim.signature ?? '',
          slot: transaction?.slot.toString() ?? '0',
          ...(transaction ? { feePayer: transaction.signers[0], fee: transaction.fee.toString() } : {}),
          rentLamports: rent.toString(),
          leafAmount: claim.amount.toString(),
        };
      });
      await decideAndAppend(this.store, epochClaimsDecider, epoch, (current) => observeClaims(current, sightings), {
        ...metadata,
        commandId: `observe-claims:${epoch}:${fresh
          .map((claim) => claim.wallet)
          .join(',')
          .slice(0, 64)}:${fresh.length}`,
      });
    }
  }

  async get(runId: string): Promise<VerificationRun | undefined> {
    return (await load(this.store, verificationDecider, runId)).state;
  }

  async list(limit = 50): Promise<Omit<VerificationRun, 'discrepancies'>[]> {
    const runs: Omit<VerificationRun, 'discrepancies'>[] = [];
    for await (const event of this.store.readAll({ category: 'verification' })) {
      const { discrepancies: _listed, ...summary } = event.data as unknown as VerificationRun;
      runs.push(summary);
    }
    return runs.slice(-limit).reverse();
  }

  private async loadTransfers(upTo: bigint, setup: ChainSetup): Promise<OrderedTransfer[]> {
    const states = new Map<string, ChainTransferState>();
    for await (const event of this.store.readAll({ category: 'chaintransfer' })) {
      if (event.position > upTo) break;
      states.set(
        event.stream,
        evolveChainTransfer(states.get(event.stream) ?? initialChainTransfer(), { type: event.type, data: event.data } as ChainTransferEvent),
      );
    }
    const mint = new PublicKey(setup.mint);
    return [...states.values()].flatMap((state) => {
      const order = state.order;
      if (!order) return [];
      return [
        {
          orderId: order.orderId,
          status: state.status,
          signatures: state.signatures,
          current: state.current?.signature ?? null,
          source: order.source === 'treasury' ? setup.treasuryAccount : setup.stakeVault,
          destination: order.toTreasury ? setup.treasuryAccount : associatedTokenAddress(new PublicKey(order.recipientWallet!), mint).toBase58(),
          amount: BigInt(order.amount),
          memo: transferMemo(order),
        },
      ];
    });
  }

  private async leaves(epoch: number, mint: PublicKey): Promise<PayoutLeaf[]> {
    const rows = await settlementQueries.leafAmounts(this.reader, epoch);
    const accounts = await associatedTokenAddresses(
      rows.map((row) => row.wallet),
      mint,
    );
    return rows.map((row, i) => ({ wallet: row.wallet, account: accounts[i].toBase58(), amount: BigInt(row.amount) }));
  }

  private async fetch(signatures: string[], onProgress?: (done: number, total: number) => void): Promise<Map<string, ChainTransactionFacts>> {
    const found = new Map<string, ChainTransactionFacts>();
    const CHUNK = 2000;
    for (let i = 0; i < signatures.length; i += CHUNK) {
      const chunk = signatures.slice(i, i + CHUNK);
      const landed = await this.chain.getTransactions(chunk);
      landed.forEach((transaction, j) => {
        if (transaction)
          found.set(chunk[j], { signature: chunk[j], error: transaction.error, signers: transaction.signers, instructions: transaction.instructions });
      });
      onProgress?.(Math.min(i + CHUNK, signatures.length), signatures.length);
    }
    return found;
  }
}
