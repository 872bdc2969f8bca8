import type { PayoutState, SignedAttempt, EpochSettledData } from '../../domain/epoch-payout';
import { networkDecider } from '../../domain/network';
import { policyFor } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import { PAYOUTS, payoutsQueries, type PayoutRow } from '../../projections/payouts';
import { loadLatest } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { ProjectionReader } from '../projections/projection-reader';
import type { ProjectionRunner } from '../projections/projection-runner';
import { readAtLeastTheLog, READ_WAIT_MS, type ReadPositions } from '../projections/read-positions';
import { describePayout, type SettlementView } from './settle-epoch';

/**
 * `GET /epochs/{n}/settlement` from the payouts read model (projections/payouts): one query however many batches the
 * epoch has, where `SettleEpoch.view` replays the epoch's payout stream (and, web3, its claims). Both describe the
 * settlement with `describePayout`, so the JSON is the same; the read model's position comes with it.
 */
export class SettlementViews {
  constructor(
    private readonly store: EventStore,
    private readonly reader: ProjectionReader,
    private readonly runner: ProjectionRunner,
    private readonly waitMs = READ_WAIT_MS,
  ) {}

  async settlement(epoch: number): Promise<{ view: SettlementView; positions: ReadPositions }> {
    const { answer, positions } = await readAtLeastTheLog(this.store, this.runner, PAYOUTS, () => payoutsQueries.payout(this.reader, epoch), this.waitMs);
    const row = answer.value;
    if (!row) reject('not_found', 'epoch', `epoch ${epoch} has no settlement yet`);
    const network = await loadLatest(this.store, networkDecider);
    const costs = row.claim_costs;
    const claims = row.distributor ? { ...costs, claimantLamports: BigInt(costs.claimantLamports), sponsorLamports: BigInt(costs.sponsorLamports) } : undefined;
    return { view: describePayout(payoutState(row), policyFor(network.policies, epoch).solPriceInSynq, claims), positions };
  }
}

/**
 * The part of the payout stream's fold that `describePayout` reads, from the read model: the plan without its
 * per-leaf `creates`, each batch's status and attempts with its last attempt's signature and distributor terms (not its
 * wire bytes), fees, rent, and whether it is settled. test/settlement-views.test.ts compares the two views.
 */
export function payoutState(row: PayoutRow): PayoutState {
  return {
    plan: {
      epoch: row.epoch,
      mode: row.mode,
      root: row.root,
      leafCount: row.leaf_count,
      total: row.total,
      batches: row.batches.map(({ kind, first_leaf: firstLeaf, leaf_count: leafCount }, batch) => ({ batch, kind, firstLeaf, leafCount, creates: '' })),
      ...(row.distributor ? { distributor: row.distributor } : {}),
    },
    batches: row.batches.map(({ status, attempts, signature, confirmed_signature: confirmedSignature, terms }) => ({
      status,
      attempts,
      ...(signature === null ? {} : { current: { signature, ...(terms ? { terms } : {}) } as SignedAttempt }),
      ...(confirmedSignature === null ? {} : { confirmedSignature }),
    })),
    feeLamports: BigInt(row.fee_lamports),
    rentLamports: BigInt(row.rent_lamports),
    signatures: new Map(),
    ...(row.settled ? { settled: {} as EpochSettledData } : {}),
  };
}
