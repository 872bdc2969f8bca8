import { Controller, Get, HttpCode, Inject, Module, Param, Post, Query, Req, Res } from '@nestjs/common';
import { EpochParam, PublicKeyParam, pageNumber } from '../requests/parameters';
import { PublishedData } from '../auth/proven-keys';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { DISTRIBUTION_FORMAT } from '../../domain/epoch-settlement';
import { networkDecider } from '../../domain/network';
import { reject } from '../../domain/rejection';
import { settlementQueries, type EpochRow } from '../../projections/settlement';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand } from '../openapi/openapi';
import { loadLatest, type CommandMetadata } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import { epochView } from '../network/network';
import { ProjectionReader } from '../projections/projection-reader';
import { ProjectionRunner } from '../projections/projection-runner';
import { ClaimsCache, DEFAULT_CLAIMS_CACHE_BYTES, type Claim } from './claims-cache';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { createEpochClose, EpochClosePipeline, settlementView } from './epoch-close';
import { JobService, type JobView } from '../jobs/jobs';
import { accepted, JOB_SCHEMA } from '../jobs/jobs.module';
import { EngineMetrics } from '../observability/engine-metrics';

/** Closing an epoch, as data: what the command bus carries for `POST /epochs/{n}/close`; its handler starts the close pipeline's job. */
export class CloseEpoch {
  constructor(
    readonly epoch: number,
    readonly metadata: CommandMetadata,
  ) {}
}

/** Starts the close as a job (or answers the epoch's close job already running): the pipeline runs in it. */
@CommandHandler(CloseEpoch)
export class CloseEpochHandler implements ICommandHandler<CloseEpoch, JobView> {
  constructor(
    private readonly pipeline: EpochClosePipeline,
    private readonly jobs: JobService,
  ) {}

  execute({ epoch, metadata }: CloseEpoch): Promise<JobView> {
    return this.pipeline.start(this.jobs, epoch, metadata);
  }
}

/** A proof from a recorded distribution (an event: it never changes): the caller's cache may keep it for good. */
export const PROOF_CACHE_CONTROL = 'private, max-age=31536000, immutable';

/** A wallet's claim as GET /epochs/{n}/distribution/{wallet} answers it. */
export function claimAnswer(epoch: number, wallet: string, claim: Claim) {
  return { epoch, wallet, index: claim.index, amount: claim.amount, amountLocked: '0', root: claim.root, proof: claim.proof };
}

@Controller('epochs')
export class EpochsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly pipeline: EpochClosePipeline,
    private readonly reader: ProjectionReader,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly claims: ClaimsCache,
  ) {}

  /**
   * Closes the epoch, calculates its rewards and builds its distribution, as a job: 202 with the job at once (its
   * result, once succeeded, is the epoch). While the epoch's close job runs, asking again answers it; after a failure
   * or an interruption, asking again resumes the close.
   */
  @Post(':epoch/close')
  @HttpCode(202)
  @Roles('operator')
  @ApiCommand({
    summary: 'Close an epoch as a job: cut-off, rewards, Merkle distribution (again: the running job, or resumes)',
    status: 202,
    answers: 'The job (Location: /jobs/{id}); once succeeded its result is the epoch, once failed its error is the problem (409 projection)',
    answerSchema: JOB_SCHEMA,
    errors: [404],
    notes: { 404: 'The epoch was never opened' },
  })
  async close(
    @Param('epoch', EpochParam) epoch: number,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ) {
    return accepted(response, await this.commands.execute<CloseEpoch, JobView>(new CloseEpoch(epoch, commandMetadata(request, randomUUID()))));
  }

  @Get()
  @Roles('operator', 'ingest', 'auditor')
  async list() {
    const ledger = await loadLatest(this.store, networkDecider);
    const rows = await settlementQueries.epochs(this.reader);
    const settled = new Map(rows.map((row) => [row.epoch, row]));
    return { epochs: [...ledger.epochs.values()].map((info) => ({ ...epochView(info), settlement: settlementView(settled.get(info.epoch)) })) };
  }

  /** The epoch on the ledger, how far its close has come, and its rewards and distribution once calculated. */
  @Get(':epoch')
  @Roles('operator', 'ingest', 'auditor')
  async epoch(@Param('epoch', EpochParam) epoch: number) {
    return this.pipeline.view(epoch);
  }

  /** Per-synqer results, largest reward first: `?limit=` (up to 1000) and `?offset=`. */
  @Get(':epoch/rewards')
  @Roles('operator', 'auditor')
  async rewards(@Param('epoch', EpochParam) epoch: number, @Query('limit') limit?: string, @Query('offset') offset?: string) {
    const take = pageNumber('limit', limit, 100, 1, 1000);
    const skip = pageNumber('offset', offset, 0, 0, 1_000_000_000);
    const rows = await settlementQueries.rewardsPage(this.reader, epoch, take, skip);
    return {
      epoch,
      results: rows.map((row) => ({
        synqerId: row.synqer_id,
        payoutWallet: row.payout_wallet,
        bytes: row.bytes,
        sessions: row.sessions,
        uptimeSeconds: row.uptime_seconds,
        uptimeBps: row.uptime_bps,
        qosBps: row.qos_bps,
        activeStake: row.active_stake,
        stakeBoostBps: row.stake_boost_bps,
        eligible: row.eligible,
        reasons: row.reasons === '' ? [] : String(row.reasons).split(','),
        weight: row.weight,
        reward: row.reward,
      })),
    };
  }

  /** Root, total and leaf count, in the format of Jito's merkle-distributor. */
  @Get(':epoch/distribution')
  @Roles('operator', 'auditor', 'developer', 'ingest')
  async distribution(@Param('epoch', EpochParam) epoch: number) {
    const row = await this.distributionRow(epoch);
    return {
      epoch,
      format: DISTRIBUTION_FORMAT,
      root: row.root,
      total: row.distribution_total,
      leafCount: row.leaf_count,
      maxTotalClaim: row.distribution_total,
      maxNumNodes: row.leaf_count,
    };
  }

  /** A wallet's claim: amount, leaf index and proof (hex, bottom up), from the stored tree levels (kept in memory once asked for). */
  @Get(':epoch/distribution/:wallet')
  @Roles('operator', 'auditor', 'developer', 'ingest')
  @PublishedData()
  async claim(
    @Param('epoch', EpochParam) epoch: number,
    @Param('wallet', PublicKeyParam) wallet: string,
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ) {
    // Usually answered before Nest by src/epochs/proof-fast-path.ts, from memory; here when the epoch is not loaded yet.
    const cached = this.claims.claim(epoch, wallet);
    if (cached) {
      response.setHeader('Cache-Control', PROOF_CACHE_CONTROL);
      return claimAnswer(epoch, wallet, cached);
    }
    if (cached === null) reject('not_found', 'wallet', `wallet ${wallet} has no claim in epoch ${epoch}`);
    // One query: the leaf, and on each level below the root the node its proof needs (settlementQueries.claimProof).
    const rows = await settlementQueries.claimProof(this.reader, epoch, wallet);
    if (rows.length === 0) {
      await this.distributionRow(epoch);
      reject('not_found', 'wallet', `wallet ${wallet} has no claim in epoch ${epoch}`);
    }
    const { leaf_index: index, amount, root } = rows[0];
    const proof = rows
      .filter((row) => row.level !== null)
      .map((row) => {
        if (row.node === null || row.node.length !== 32) throw new Error(`epoch ${epoch}: tree level ${row.level} lacks a node of leaf ${index}'s proof`);
        return row.node.toString('hex');
      });
    return { epoch, wallet, index, amount, amountLocked: '0', root, proof };
  }

  private async distributionRow(epoch: number): Promise<EpochRow> {
    const row = await settlementQueries.epochRow(this.reader, epoch);
    if (row === undefined) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    if (row.root === null) reject('not_found', 'epoch', `epoch ${epoch} has no distribution yet (close it first)`);
    return row;
  }
}

@Module({
  controllers: [EpochsController],
  providers: [
    CloseEpochHandler,
    {
      provide: ClaimsCache,
      inject: [ProjectionReader, APP_CONFIG],
      useFactory: (reader: ProjectionReader, config: AppConfig) =>
        new ClaimsCache(reader, config.claimsCacheMegabytes === undefined ? DEFAULT_CLAIMS_CACHE_BYTES : config.claimsCacheMegabytes * 2 ** 20),
    },
    {
      provide: EpochClosePipeline,
      inject: [EVENT_STORE, ProjectionRunner, ProjectionReader, { token: EngineMetrics, optional: true }],
      useFactory: (store: EventStore, runner: ProjectionRunner, reader: ProjectionReader, metrics?: EngineMetrics) =>
        createEpochClose({ store, runner, reader, metrics }),
    },
  ],
})
export class EpochsModule {}
