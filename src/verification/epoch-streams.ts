import { evolvePayout, initialPayout, type PayoutEvent, type PayoutState } from '../../domain/epoch-payout';
import type { DistributionBuilt } from '../../domain/epoch-settlement';
import { outstandingCarried } from '../../domain/liabilities';
import type { EventStore, RecordedEvent } from '../event-store/event-store';

/**
 * An epoch's part of the books as verification reads it, from the streams named after it: `payout-<n>` (its
 * settlement), `epoch-<n>` (its distribution's total and carries) and `clawback-<n>` (unclaimed leaves carried after
 * its clawback). A new event on one of these touches the epoch: an incremental run verifies it again.
 */
export interface EpochStreams {
  epoch: number;
  payout?: PayoutState;
  /** The built distribution's total, once built. */
  distributionTotal?: bigint;
  /** What it adds to the rewards carried forward and not in a distribution yet: carried out − carried in, + unclaimed leaves carried. */
  carried: bigint;
}

const CATEGORIES = ['payout', 'epoch', 'clawback'] as const;
const EPOCH_STREAM = /^(payout|epoch|clawback)-(\d+)$/;

/** Every epoch's streams up to `upTo` (the head when undefined): one pass over each category. */
export async function loadAllEpochStreams(store: EventStore, upTo?: bigint): Promise<Map<number, EpochStreams>> {
  const epochs = new Map<number, EpochStreams>();
  for (const category of CATEGORIES) {
    for await (const event of store.readAll({ category })) {
      if (upTo !== undefined && event.position > upTo) break;
      fold(epochs, event);
    }
  }
  return epochs;
}

/** The named epochs' streams up to `upTo`, stream by stream (an incremental run: what it costs grows with these epochs only). */
export async function loadEpochStreams(store: EventStore, upTo: bigint, wanted: Iterable<number>): Promise<Map<number, EpochStreams>> {
  const epochs = new Map<number, EpochStreams>();
  for (const epoch of wanted) {
    epochs.set(epoch, { epoch, carried: 0n });
    for (const category of CATEGORIES) {
      for await (const event of store.readStream(`${category}-${epoch}`)) {
        if (event.position > upTo) break;
        fold(epochs, event);
      }
    }
  }
  return epochs;
}

/** The epochs whose streams have events after `after`, up to `upTo`: what the log changed since a run. */
export async function touchedEpochs(store: EventStore, after: bigint, upTo: bigint): Promise<Set<number>> {
  const touched = new Set<number>();
  for (const category of CATEGORIES) {
    for await (const event of store.readAll({ category, after })) {
      if (event.position > upTo) break;
      const match = EPOCH_STREAM.exec(event.stream);
      if (match) touched.add(Number(match[2]));
    }
  }
  return touched;
}

function fold(epochs: Map<number, EpochStreams>, event: RecordedEvent): void {
  const match = EPOCH_STREAM.exec(event.stream);
  if (!match) return;
  const epoch = Number(match[2]);
  let streams = epochs.get(epoch);
  if (!streams) epochs.set(epoch, (streams = { epoch, carried: 0n }));
  if (match[1] === 'payout') streams.payout = evolvePayout(streams.payout ?? initialPayout(), { type: event.type, data: event.data } as PayoutEvent);
  else if (event.type === 'EpochDistributionBuilt') {
    const built = event.data as unknown as DistributionBuilt;
    streams.distributionTotal = BigInt(built.total);
    streams.carried += outstandingCarried([built], []);
  } else if (event.type === 'UnclaimedRewardsCarried') streams.carried += outstandingCarried([], [(event.data as { total: string }).total]);
}
