import { PAYOUTS, payoutsQueries } from '../../projections/payouts';
import { settlementQueries } from '../../projections/settlement';
import type { CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { ProjectionReader } from '../projections/projection-reader';
import type { ProjectionRunner } from '../projections/projection-runner';
import { readAtLeastTheLog, READ_WAIT_MS } from '../projections/read-positions';
import { claimDeadline, epochDistributor, type ClaimListing, type ClaimObserver } from './claims';

/** How long an observation of an epoch's ClaimStatus accounts serves the list of its claims before the chain is read again. */
export const OBSERVE_EVERY_MS = 30_000;

export interface ClaimListingsDependencies {
  store: EventStore;
  reader: ProjectionReader;
  runner: ProjectionRunner;
  observer: Pick<ClaimObserver, 'observe'>;
  observeEveryMs?: number;
  waitMs?: number;
}

/**
 * `GET /epochs/{n}/claims`: each leaf (in leaf order, `limit` from `offset`) claimed or not, and totals over all
 * leaves, from the payouts read model's claims (projections/payouts) and the settlement read model's leaves: a page
 * and the totals in two queries, however many leaves the epoch has. Claims are known once observed on chain
 * (`ClaimObserver.observe` reads every leaf's ClaimStatus account and records the new ones); the list observes the
 * chain first when this engine has not done so for the epoch within `observeEveryMs`, and says when it did
 * (`X-Claims-Observed-At`): a claim landed since then is listed from the next observation on.
 */
export class ClaimListings {
  /** Per epoch: when the last observation began, or the one under way. */
  private readonly observations = new Map<number, { startedAt: number; done: Promise<void> }>();

  constructor(private readonly deps: ClaimListingsDependencies) {}

  async list(epoch: number, page: { limit: number; offset: number }, metadata?: CommandMetadata) {
    const { store, reader, runner } = this.deps;
    const found = await epochDistributor(store, epoch);
    const observedAt = await this.observe(epoch, metadata);
    const distribution = await settlementQueries.epochRow(reader, epoch);
    const leaves = await settlementQueries.leavesPage(reader, epoch, page.limit, page.offset);
    const wallets = leaves.map((leaf) => leaf.wallet);
    const { answer, positions } = await readAtLeastTheLog(
      store,
      runner,
      PAYOUTS,
      () => payoutsQueries.claimListing(reader, epoch, wallets),
      this.deps.waitMs ?? READ_WAIT_MS,
    );
    const value = answer.value;
    const observed = new Map((value?.claims ?? []).map((claim) => [claim.wallet, claim]));
    const leafCount = distribution?.leaf_count ?? 0;
    const total = BigInt(distribution?.distribution_total ?? '0');
    const claimed = value?.observed ?? { count: 0, amount: '0' };
    const listing = (leaf: { wallet: string; amount: string }): ClaimListing => {
      const claim = observed.get(leaf.wallet);
      return {
        wallet: leaf.wallet,
        amount: leaf.amount,
        claimed: claim !== undefined,
        slot: claim?.slot ?? null,
        blockTime: null,
        signature: claim?.signature || null,
        sponsored: claim?.sponsored ?? false,
      };
    };
    const body = {
      epoch,
      distributor: found.distributor.toBase58(),
      claimDeadline: claimDeadline(found.terms),
      totals: {
        leaves: leafCount,
        claimed: { count: claimed.count, amount: claimed.amount },
        unclaimed: { count: leafCount - claimed.count, amount: (total - BigInt(claimed.amount)).toString() },
        sponsored: { count: value?.sponsored.count ?? 0, sponsorLamports: value?.sponsored.sponsorLamports ?? '0' },
      },
      claims: leaves.map(listing),
    };
    return { body, positions, observedAt: new Date(observedAt) };
  }

  /** Observes the epoch's claims on chain unless an observation began within `observeEveryMs` (or is under way); when the one answered began. */
  private async observe(epoch: number, metadata?: CommandMetadata): Promise<number> {
    const last = this.observations.get(epoch);
    if (last && Date.now() - last.startedAt < (this.deps.observeEveryMs ?? OBSERVE_EVERY_MS)) {
      await last.done;
      return last.startedAt;
    }
    const startedAt = Date.now();
    const done = this.deps.observer.observe(epoch, metadata).then(() => undefined);
    const entry = { startedAt, done };
    this.observations.set(epoch, entry);
    // A failed observation (the chain unreachable) is not a watermark: the next list tries again.
    done.catch(() => {
      if (this.observations.get(epoch) === entry) this.observations.delete(epoch);
    });
    await done;
    return startedAt;
  }
}
