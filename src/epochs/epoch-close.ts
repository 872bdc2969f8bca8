import { inKeyOrder, type RewardsCarriedForward } from '../../domain/carry';
import * as network from '../../domain/network';
import { DISTRIBUTION_FORMAT, epochSettlementDecider, type EpochSettlementCommand } from '../../domain/epoch-settlement';
import { reject } from '../../domain/rejection';
import { settlementQueries, type EpochRow } from '../../projections/settlement';
import { decideAndAppend, load, loadLatest, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { ProjectionReader } from '../projections/projection-reader';
import type { ProjectionRunner } from '../projections/projection-runner';
import type { EngineMetrics } from '../observability/engine-metrics';
import { epochView } from '../network/network';
import type { JobService, JobView } from '../jobs/jobs';

export type CloseStage = 'open' | 'closed' | 'rewards_calculated' | 'distribution_built';

export interface EpochCloseProgress {
  epoch: number;
  status: network.EpochInfo['status'];
  stage: CloseStage;
  rewardPool: string;
  paid: string | null;
  synqers: number | null;
  root: string | null;
  digest: string | null;
}

/** An epoch's rewards and distribution as `GET /epochs` and `GET /epochs/{n}` answer them; null until calculated. */
export function settlementView(row: EpochRow | undefined) {
  if (!row || row.digest === null) return null;
  return {
    policyVersion: row.policy_version,
    cutOffPosition: row.cut_off_position,
    synqers: row.synqers,
    eligible: row.eligible,
    ineligible: row.ineligible,
    bytes: row.bytes,
    sessions: row.sessions,
    paid: row.paid,
    returnedToTreasury: row.returned_to_treasury,
    digest: row.digest,
    distribution: row.root === null ? null : { root: row.root, leafCount: row.leaf_count, total: row.distribution_total },
  };
}

export interface EpochCloseDependencies {
  store: EventStore;
  /** Processes the settlement projection, whose results each step waits for. */
  runner: ProjectionRunner;
  reader: ProjectionReader;
  metrics?: EngineMetrics;
}

/** Closing an epoch, composed once: for the engine (EpochsModule: POST /epochs/{n}/close) and `synq epochs close` alike. */
export function createEpochClose(deps: EpochCloseDependencies): EpochClosePipeline {
  return new EpochClosePipeline(deps.store, deps.runner, deps.reader, deps.metrics);
}

/**
 * Closing an epoch, as a pipeline whose every step is recorded: `EpochClosed` on the network ledger (the cut-off), then
 * `EpochRewardsCalculated` and `EpochDistributionBuilt` on `epoch-<n>`. The `settlement` projection does the heavy
 * work when it meets `EpochClosed`; each later step waits for it, then records what it found. Running it again after a
 * crash resumes at the first step not recorded; a step that is recorded is a no-op.
 */
export class EpochClosePipeline {
  constructor(
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner,
    private readonly reader: ProjectionReader,
    private readonly metrics?: EngineMetrics,
  ) {}

  /** Runs (or resumes) the close; its duration and each step's go to synq_epoch_close_*_seconds. */
  async close(epoch: number, metadata: Omit<CommandMetadata, 'commandId'>, onStep: (stage: CloseStage) => void = () => undefined): Promise<CloseStage> {
    const timer = this.metrics?.startEpochClose();
    try {
      const stage = await this.closeSteps(epoch, metadata, (reached) => {
        timer?.step(reached);
        onStep(reached);
      });
      timer?.end('completed');
      return stage;
    } catch (error) {
      timer?.end('failed');
      throw error;
    }
  }

  private async closeSteps(epoch: number, metadata: Omit<CommandMetadata, 'commandId'>, onStep: (stage: CloseStage) => void): Promise<CloseStage> {
    const info = (await loadLatest(this.store, network.networkDecider)).epochs.get(epoch);
    if (!info) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    if (info.status === 'open') {
      await decideAndAppend(
        this.store,
        network.networkDecider,
        undefined,
        // The cut-off is EpochClosed's own position: what is recorded before it counts, nothing after it does.
        (state) => (state.epochs.get(epoch)?.status === 'closed' ? [] : network.networkDecider.decide({ type: 'CloseEpoch', data: { epoch } }, state)),
        { ...metadata, commandId: `close-epoch:${epoch}` },
      );
    }
    onStep('closed');

    // The projection calculates the rewards and builds the distribution when it meets EpochClosed.
    await this.waitForSettlement(await this.closedAt(epoch));
    const row = await this.settledEpoch(epoch);
    if (row.digest === null || row.root === null) throw new Error(`the settlement projection has no results for closed epoch ${epoch}`);
    await this.recordOnEpochStream(epoch, metadata, 'rewards', {
      type: 'RecordRewards',
      data: {
        epoch,
        policyVersion: row.policy_version!,
        cutOffPosition: row.cut_off_position!,
        pool: row.reward_pool,
        paid: row.paid!,
        returnedToTreasury: row.returned_to_treasury!,
        synqers: row.synqers!,
        eligible: row.eligible!,
        ineligible: row.ineligible!,
        bytes: row.bytes!,
        sessions: row.sessions!,
        totalWeight: row.total_weight!,
        digest: row.digest!,
      },
    });
    if (BigInt(row.returned_to_treasury!) > 0n) {
      await decideAndAppend(
        this.store,
        network.networkDecider,
        undefined,
        (state) => network.networkDecider.decide({ type: 'ReturnEpochPool', data: { epoch, amount: BigInt(row.returned_to_treasury!) } }, state),
        { ...metadata, commandId: `return-epoch-pool:${epoch}` },
      );
    }
    onStep('rewards_calculated');

    await this.recordOnEpochStream(epoch, metadata, 'distribution', {
      type: 'RecordDistribution',
      data: {
        epoch,
        format: DISTRIBUTION_FORMAT,
        root: row.root!,
        leafCount: row.leaf_count!,
        total: row.distribution_total!,
        maxTotalClaim: row.distribution_total!,
        maxNumNodes: row.leaf_count!,
        // Only where a minimum was in force or something was carried: distributions of old replay as recorded.
        ...(row.carried_in === null ? {} : { carriedIn: row.carried_in, carriedOut: row.carried_out! }),
      },
      carried: await this.carriedForward(epoch, row),
    });
    onStep('distribution_built');
    // Answer once the reads agree with what was recorded.
    await this.waitForSettlement(await this.store.lastPosition());
    return 'distribution_built';
  }

  /**
   * `close` as a job (src/jobs): an epoch never opened is refused at once (404); otherwise the epoch's close job, the
   * one already running for it if there is one. Its progress is the steps recorded (phase: the stage reached), its
   * result the epoch as `GET /epochs/{n}` answers it once the reads agree with the close.
   */
  async start(jobs: JobService, epoch: number, metadata: Omit<CommandMetadata, 'commandId'>): Promise<JobView> {
    if (!(await loadLatest(this.store, network.networkDecider)).epochs.has(epoch)) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    const steps: CloseStage[] = ['open', 'closed', 'rewards_calculated', 'distribution_built'];
    return jobs.start({ kind: 'close', epoch, work: `close:${epoch}`, actor: metadata.actor, correlationId: metadata.correlationId }, async (job) => {
      job.progress(0, steps.length - 1, 'open');
      await this.close(epoch, metadata, (stage) => job.progress(steps.indexOf(stage), steps.length - 1, stage));
      return this.view(epoch);
    });
  }

  /** The epoch on the ledger, how far its close has come, and its rewards and distribution once calculated (`GET /epochs/{n}`). */
  async view(epoch: number) {
    const info = (await loadLatest(this.store, network.networkDecider)).epochs.get(epoch);
    if (!info) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    const row = await settlementQueries.epochRow(this.reader, epoch);
    return { ...epochView(info), stage: await this.stage(epoch), settlement: settlementView(row) };
  }

  /** How far the close of `epoch` has come, from the recorded events alone. */
  async stage(epoch: number): Promise<CloseStage> {
    const info = (await loadLatest(this.store, network.networkDecider)).epochs.get(epoch);
    if (!info) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    if (info.status === 'open') return 'open';
    const { state } = await load(this.store, epochSettlementDecider, epoch);
    return state.distribution ? 'distribution_built' : state.rewards ? 'rewards_calculated' : 'closed';
  }

  /**
   * How far each epoch's close has come (or the one asked for; none if it was never opened), with its rewards and
   * distribution once the settlement projection has them.
   */
  async progress(epoch?: number): Promise<EpochCloseProgress[]> {
    const ledger = await loadLatest(this.store, network.networkDecider);
    const epochs = [...ledger.epochs.values()].filter((info) => epoch === undefined || info.epoch === epoch);
    const views: EpochCloseProgress[] = [];
    for (const info of epochs) {
      const stage = await this.stage(info.epoch);
      const row = stage === 'open' ? undefined : await this.settledEpoch(info.epoch).catch(() => undefined);
      views.push({
        epoch: info.epoch,
        status: info.status,
        stage,
        rewardPool: info.rewardPool.toString(),
        paid: row?.paid ?? null,
        synqers: row?.synqers ?? null,
        root: row?.root ?? null,
        digest: row?.digest ?? null,
      });
    }
    return views;
  }

  /** The epoch's carries by wallet, in key byte order as the tree orders them; none when it carried nothing. */
  private async carriedForward(epoch: number, row: EpochRow): Promise<RewardsCarriedForward | undefined> {
    if (row.carried_in === null || (BigInt(row.carried_in) === 0n && BigInt(row.carried_out!) === 0n)) return undefined;
    const { carriedIn, carriedOut } = await settlementQueries.epochCarries(this.reader, epoch);
    return { epoch, carriedIn: inKeyOrder(carriedIn, (entry) => entry.wallet), carriedOut: inKeyOrder(carriedOut, (entry) => entry.wallet) };
  }

  async settledEpoch(epoch: number): Promise<EpochRow> {
    const row = await settlementQueries.epochRow(this.reader, epoch);
    if (row === undefined) reject('not_found', 'epoch', `epoch ${epoch} is not in the settlement projection yet`);
    return row;
  }

  private async recordOnEpochStream(epoch: number, metadata: Omit<CommandMetadata, 'commandId'>, step: string, command: EpochSettlementCommand): Promise<void> {
    await decideAndAppend(this.store, epochSettlementDecider, epoch, (state) => epochSettlementDecider.decide(command, state), {
      ...metadata,
      commandId: `${step}:${epoch}`,
    });
  }

  private async closedAt(epoch: number): Promise<bigint> {
    for await (const event of this.store.readStream(network.NETWORK_STREAM)) {
      if (event.type === 'EpochClosed' && (event.data as { epoch: number }).epoch === epoch) return event.position;
    }
    throw new Error(`epoch ${epoch} has no EpochClosed event`);
  }

  private async waitForSettlement(position: bigint): Promise<void> {
    try {
      await this.runner.waitFor({ position, names: ['settlement'], timeoutMs: 600_000 });
    } catch (error) {
      reject('conflict', 'epoch', `the settlement projection cannot reach position ${position}: ${(error as Error).message}`);
    }
  }
}
