import { reject } from '../../domain/rejection';
import { PAYOUTS, payoutsQueries, type ClawbackRow } from '../../projections/payouts';
import type { EventStore } from '../event-store/event-store';
import type { ProjectionReader } from '../projections/projection-reader';
import type { ProjectionRunner } from '../projections/projection-runner';
import { readAtLeastTheLog, READ_WAIT_MS, type ReadPositions } from '../projections/read-positions';
import { clawbackView, type ClawbackSummary, type ClawbackView } from './clawback';

/**
 * `GET /epochs/{n}/clawback` from the payouts read model (projections/payouts): one row, where `Clawback.view` replays
 * the clawback stream, whose `DistributorClawedBack` lists every leaf never claimed. Both describe it with
 * `clawbackView`, so the JSON is the same; the read model's position comes with it.
 */
export class ClawbackViews {
  constructor(
    private readonly store: EventStore,
    private readonly reader: ProjectionReader,
    private readonly runner: ProjectionRunner,
    private readonly waitMs = READ_WAIT_MS,
  ) {}

  async clawback(epoch: number): Promise<{ view: ClawbackView; positions: ReadPositions }> {
    const { answer, positions } = await readAtLeastTheLog(this.store, this.runner, PAYOUTS, () => payoutsQueries.clawback(this.reader, epoch), this.waitMs);
    const row = answer.value;
    if (!row || row.attempts === 0) reject('not_found', 'epoch', `epoch ${epoch} has no clawback recorded`);
    return { view: clawbackView(epoch, clawbackSummary(row)), positions };
  }
}

/** The clawback's row as `clawbackView` reads it: the columns of `DistributorClawedBack` are set once it is recorded. */
export function clawbackSummary(row: ClawbackRow): ClawbackSummary {
  const amount = row.amount ?? '0';
  const unclaimedTotal = row.unclaimed_total ?? '0';
  return {
    status: row.status,
    attempts: row.attempts,
    signature: row.clawed_back_signature ?? row.signature,
    feeLamports: BigInt(row.fee_lamports),
    lastError: row.last_error,
    clawedBack:
      row.clawed_back_signature === null
        ? null
        : { amount, claimed: row.claimed ?? '0', unclaimedCount: row.unclaimed_count ?? 0, unclaimedTotal, mismatch: BigInt(amount) - BigInt(unclaimedTotal) },
    policy: row.policy,
  };
}
