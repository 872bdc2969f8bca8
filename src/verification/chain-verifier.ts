import { JITO_DISTRIBUTOR_PROGRAM_ID } from '../chain/jito-distributor';
import { randomUUID } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import type { ChainSetup } from '../../domain/chain-setup';
import { evolveChainTransfer, initialChainTransfer, transferMemo, type ChainTransferEvent, type ChainTransferState } from '../../domain/chain-transfer';
import {
  verifyChain,
  recordRun,
  verificationDecider,
  verificationStream,
  type ChainTransactionFacts,
  type DistributorFacts,
  type ObservedClaim,
  type OrderedTransfer,
  type PayoutLeaf,
  type ProvenCredit,
  type VerificationRun,
} from '../../domain/chain-verification';
import { epochClaimsDecider, observeClaims } from '../../domain/epoch-claims';
import { CLAIM_STATUS_ACCOUNT_SIZE } from '../../domain/jito-distributor';
import { evolvePayout, initialPayout, type PayoutEvent, type PayoutState } from '../../domain/epoch-payout';
import { reject } from '../../domain/rejection';
import * as control from '../../domain/settlement-control';
import { settlementQueries } from '../../projections/settlement';
import { decideAndAppend, load, toEnvelopes, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { associatedTokenAddress, associatedTokenAddresses, MEMO_PROGRAM_ID, readMint, readTokenAccount, TOKEN_PROGRAM_ID } from '../chain/token';
import type { ProjectionReader } from '../projections/projection-reader';
import { loadProvenCredits } from './proven-credits';
import { loadLiabilities } from './liabilities';
import { loadDistributorFacts } from './distributors';
import type { EngineMetrics } from '../observability/engine-metrics';
import type { JobService, JobView } from '../jobs/jobs';

export interface VerificationDependencies {
  store: EventStore;
  chain: ChainGateway;
  reader: ProjectionReader;
  metrics?: EngineMetrics;
}

/** Replay-verification, composed once: for the engine (VerificationModule, settlement) and `synq verify chain` / `synq settle` alike. */
export function createVerification(deps: VerificationDependencies): ChainVerifier {
  return new ChainVerifier(deps.store, deps.chain, deps.reader, deps.metrics);
}

/**
 * Runs replay-verification (domain/chain-verification.ts): reads the event history and the chain through the gateway,
 * records the run as an event, and opens the circuit breaker when it found a discrepancy.
 */
export class ChainVerifier {
  constructor(
    private readonly store: EventStore,
    private readonly chain: ChainGateway,
    private readonly reader: ProjectionReader,
    private readonly metrics?: EngineMetrics,
  ) {}

  async run(
    metadata: Omit<CommandMetadata, 'commandId'>,
    options: {
      now?: () => Date;
      onProgress?: (done: number, total: number) => void;
      /**
       * Every claim the chain holds for a leaf of the books (wallet, amount, ClaimStatus, signature when found), given
       * after the run is recorded: where the books learn who claimed (issue 15: `RewardClaimObserved` on `claims-<epoch>`).
       */
      onClaimsObserved?: (claims: ObservedClaim[]) => void | Promise<void>;
    } = {},
  ): Promise<VerificationRun> {
    const setup = await this.chainSetup();
    const upToPosition = await this.store.lastPosition();
    const payouts = await this.loadPayouts(upToPosition);
    const mint = new PublicKey(setup.mint);
    const withLeaves: { state: PayoutState; leaves: PayoutLeaf[] }[] = [];
    for (const state of payouts) {
      const hybrid = state.plan?.mode === 'hybrid';
      withLeaves.push({ state, leaves: hybrid ? await this.leaves(state.plan!.epoch, mint) : [] });
    }
    const credits: ProvenCredit[] = await loadProvenCredits(this.store, upToPosition, setup.stakeVault);
    const transfers = await this.loadTransfers(upToPosition, setup);
    const books = await loadLiabilities(this.store, upToPosition);
    const [treasurySignatures, stakeVaultSignatures] = await Promise.all([
      this.chain.signaturesForAddress(new PublicKey(setup.treasuryAccount)),
      this.chain.signaturesForAddress(new PublicKey(setup.stakeVault)),
    ]);
    const wanted = new Set<string>([
      ...treasurySignatures,
      ...stakeVaultSignatures,
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
    const [treasury, vault, mintAccount] = await this.chain.getAccounts([new PublicKey(setup.treasuryAccount), new PublicKey(setup.stakeVault), mint]);

    const result = verifyChain({
      setup,
      programs: { token: TOKEN_PROGRAM_ID.toBase58(), memo: MEMO_PROGRAM_ID.toBase58(), distributor: JITO_DISTRIBUTOR_PROGRAM_ID.toBase58() },
      payouts: withLeaves,
      credits,
      transfers,
      transactions,
      treasurySignatures,
      stakeVaultSignatures,
      balances: {
        treasury: readTokenAccount(new PublicKey(setup.treasuryAccount), treasury)?.amount ?? null,
        stakeVault: readTokenAccount(new PublicKey(setup.stakeVault), vault)?.amount ?? null,
        mintSupply: readMint(mint, mintAccount)?.supply ?? null,
      },
      distributors,
      chainClock,
      liabilities: {
        epochs: [...books.network.epochs.values()],
        orders: books.orders,
        backedStakeOwed: books.backedStakeOwed,
        purchases: books.purchases,
        withdrawalsWithoutOrder: books.withdrawalsWithoutOrder,
        distributions: books.distributions,
        carried: books.carried,
      },
    });
    const runId = randomUUID();
    const events = recordRun(result, { runId, cluster: setup.cluster, upToPosition, completedAt: (options.now?.() ?? new Date()).toISOString() });
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
    return run;
  }

  /**
   * `run` as a job (src/jobs), a run of its own at each call: a chain that is not set up is refused at once (409).
   * Its progress is the transactions read from the chain; its result the run.
   */
  async start(jobs: JobService, metadata: Omit<CommandMetadata, 'commandId'>): Promise<JobView> {
    await this.chainSetup();
    return jobs.start({ kind: 'verification', actor: metadata.actor, correlationId: metadata.correlationId }, (job) =>
      this.run(metadata, { onProgress: (done, total) => job.progress(done, total, 'transactions') }),
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

  private async loadPayouts(upTo: bigint): Promise<PayoutState[]> {
    const states = new Map<string, PayoutState>();
    for await (const event of this.store.readAll({ category: 'payout' })) {
      if (event.position > upTo) break;
      states.set(event.stream, evolvePayout(states.get(event.stream) ?? initialPayout(), { type: event.type, data: event.data } as PayoutEvent));
    }
    return [...states.values()];
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
