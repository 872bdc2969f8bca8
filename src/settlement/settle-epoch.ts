import type { Keypair } from '@solana/web3.js';
import { createdDistributor, payoutDecider, type PayoutState } from '../../domain/epoch-payout';
import { claimCosts, epochClaimsDecider } from '../../domain/epoch-claims';
import { networkDecider } from '../../domain/network';
import { policyFor } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import { load, loadLatest, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { ChainGateway } from '../chain/chain-gateway';
import type { ProjectionReader } from '../projections/projection-reader';
import type { EngineMetrics } from '../observability/engine-metrics';
import type { ChainVerifier } from '../verification/chain-verifier';
import type { JobService, JobView } from '../jobs/jobs';
import { ChainMovements } from './chain-movements';
import { PayoutExecutor } from './payout-executor';
import { TransferExecutor } from './transfer-executor';

const LAMPORTS_PER_SOL = 1_000_000_000n;

/** What the claims of a web3 epoch cost, and who paid: wallets paying their own claims, or the sponsor key. */
export interface ClaimsCost {
  claims: number;
  sponsoredClaims: number;
  claimantLamports: bigint;
  sponsorLamports: bigint;
}

/**
 * What an epoch's settlement cost: lamports the treasury paid (fees, rent of token accounts, of the distributor and
 * its vault), and for web3 what the claims cost the wallets and the sponsor; where the policy prices SOL, all of it
 * as a share of the rewards paid.
 */
export function settlementCost(state: PayoutState, solPriceInSynq: string | undefined, claims?: ClaimsCost) {
  const treasury = state.feeLamports + state.rentLamports;
  const lamports = treasury + (claims ? claims.claimantLamports + claims.sponsorLamports : 0n);
  const paid = BigInt(state.plan && state.plan.batches.every((batch) => batch.kind !== 'anchor') && state.plan.mode !== 'web2' ? state.plan.total : '0');
  let percentOfPaid: string | null = null;
  if (solPriceInSynq !== undefined && paid > 0n) {
    // In hundred-thousandths of a percent, rounded down, then written with five decimals.
    const scaled = (lamports * BigInt(solPriceInSynq) * 100n * 100_000n) / (LAMPORTS_PER_SOL * paid);
    percentOfPaid = `${scaled / 100_000n}.${(scaled % 100_000n).toString().padStart(5, '0')}`;
  }
  return {
    feeLamports: state.feeLamports.toString(),
    rentLamports: state.rentLamports.toString(),
    /** Paid by the treasury authority. */
    totalLamports: treasury.toString(),
    claims: claims
      ? {
          claims: claims.claims,
          sponsoredClaims: claims.sponsoredClaims,
          /** Fees and ClaimStatus rent paid by the wallets that claimed on their own. */
          claimantLamports: claims.claimantLamports.toString(),
          /** Fees and rent the sponsor key paid for sponsored claims. */
          sponsorLamports: claims.sponsorLamports.toString(),
        }
      : null,
    /** Treasury, claimants and sponsor together. */
    allLamports: lamports.toString(),
    percentOfPaid,
  };
}

export function describePayout(state: PayoutState, solPriceInSynq: string | undefined, claims?: ClaimsCost) {
  const plan = state.plan!;
  const count = (status: string) => state.batches.filter((batch) => batch.status === status).length;
  const created = createdDistributor(state);
  const deadline = created ? Number(created.terms.clawbackStartTs) : null;
  return {
    epoch: plan.epoch,
    mode: plan.mode,
    root: plan.root,
    leafCount: plan.leafCount,
    total: plan.total,
    // web3: Jito's merkle distributor holding the epoch's claims, and its vault (base58); funded once confirmed.
    distributor: plan.distributor?.address ?? null,
    vault: plan.distributor?.vault ?? null,
    funded: created !== null,
    claimDeadline: deadline === null ? null : { unixTimestamp: deadline, at: new Date(deadline * 1000).toISOString() },
    status: state.settled ? 'settled' : 'in_progress',
    transactions: {
      planned: plan.batches.length,
      confirmed: count('confirmed'),
      awaiting: count('awaiting'),
      failed: count('failed'),
      expired: count('expired'),
      unsigned: count('unsigned'),
    },
    cost: settlementCost(state, solPriceInSynq, claims),
    batches: plan.batches.map((batch, i) => ({
      batch: batch.batch,
      kind: batch.kind,
      firstLeaf: batch.firstLeaf,
      leafCount: batch.leafCount,
      status: state.batches[i].status,
      attempts: state.batches[i].attempts,
      signature: state.batches[i].confirmedSignature ?? state.batches[i].current?.signature ?? null,
    })),
  };
}

export type SettlementView = ReturnType<typeof describePayout>;

export interface SettleEpochOptions {
  /** Transactions settled so far, of all the plan's. */
  onProgress?: (done: number, total: number) => void;
  /** The settlement is done; the verification (hybrid, web3) comes next. */
  onSettled?: () => void;
  /** The verification's transactions read from the chain so far (0 of 0 as it begins). */
  onVerifying?: (done: number, total: number) => void;
}

/** The phases of a settlement job's progress: its transactions, then (hybrid, web3) the verification that follows. */
export const SETTLEMENT_PHASES = { transactions: 'transactions', verifying: 'verifying' } as const;

/**
 * Settling an epoch, then verifying the chain: `POST /epochs/{n}/settlement` and `synq settle N` both run this.
 * The epoch is settled in the mode it was opened under (resuming an interrupted settlement); in hybrid and web3 the
 * chain executed, so the chain is then verified against the books (a discrepancy pauses settlement).
 */
export class SettleEpoch {
  constructor(
    private readonly store: EventStore,
    private readonly payouts: PayoutExecutor,
    private readonly verifier: ChainVerifier,
  ) {}

  async run(epoch: number, metadata: CommandMetadata, options: SettleEpochOptions = {}) {
    const settled = await this.payouts.settle(epoch, metadata, { onProgress: options.onProgress });
    options.onSettled?.();
    if (settled.mode !== 'web2') options.onVerifying?.(0, 0);
    const run =
      settled.mode === 'web2'
        ? null
        : await this.verifier.run({ actor: metadata.actor, correlationId: metadata.correlationId }, { onProgress: options.onVerifying });
    return { ...(await this.view(epoch)), verification: run && { runId: run.runId, discrepancyCount: run.discrepancyCount, byType: run.byType } };
  }

  /**
   * `run` as a job (src/jobs): what can be refused at once is refused here (404, 409); otherwise the epoch's settlement
   * job, the one already running for it if there is one. Its result is `run`'s answer; its progress the transactions,
   * then the verification's.
   */
  async start(jobs: JobService, epoch: number, metadata: CommandMetadata): Promise<JobView> {
    await this.payouts.refusal(epoch);
    return jobs.start({ kind: 'settlement', epoch, work: `settlement:${epoch}`, actor: metadata.actor, correlationId: metadata.correlationId }, (job) =>
      this.run(epoch, metadata, {
        onProgress: (done, total) => job.progress(done, total, SETTLEMENT_PHASES.transactions),
        onVerifying: (done, total) => job.progress(done, total, SETTLEMENT_PHASES.verifying),
      }),
    );
  }

  /** The epoch's settlement as recorded: its plan, each transaction's status and what it cost. */
  async view(epoch: number): Promise<SettlementView> {
    const { state } = await load(this.store, payoutDecider, epoch);
    if (!state.plan) reject('not_found', 'epoch', `epoch ${epoch} has no settlement yet`);
    const network = await loadLatest(this.store, networkDecider);
    const claims = state.plan.distributor ? claimCosts((await load(this.store, epochClaimsDecider, epoch)).state) : undefined;
    return describePayout(state, policyFor(network.policies, epoch).solPriceInSynq, claims);
  }
}

export interface SettlementDependencies {
  store: EventStore;
  chain: ChainGateway;
  reader: ProjectionReader;
  /** The treasury authority's key (src/chain/treasury-key.ts `treasuryKeyLoader`). */
  treasuryKey: () => Promise<Keypair>;
  /** The verification that follows an on-chain settlement (src/verification `createVerification`). */
  verifier: ChainVerifier;
  metrics?: EngineMetrics;
}

/** What settlement can do, composed once: for the engine (SettlementModule) and the command line (`synq settle`) alike. */
export interface Settlement {
  payouts: PayoutExecutor;
  transfers: TransferExecutor;
  movements: ChainMovements;
  settleEpoch: SettleEpoch;
}

export function createSettlement(deps: SettlementDependencies): Settlement {
  const payouts = new PayoutExecutor(deps.store, deps.chain, deps.reader, deps.treasuryKey, deps.metrics);
  const transfers = new TransferExecutor(deps.store, deps.chain, deps.treasuryKey, deps.metrics);
  return { payouts, transfers, movements: new ChainMovements(deps.store, transfers), settleEpoch: new SettleEpoch(deps.store, payouts, deps.verifier) };
}
