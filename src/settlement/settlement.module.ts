import { Body, Controller, Get, HttpCode, Inject, Module, Param, Post, Req, Res } from '@nestjs/common';
import { EpochParam } from '../requests/parameters';
import { randomUUID } from 'node:crypto';
import { networkDecider } from '../../domain/network';
import * as control from '../../domain/settlement-control';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { decideAndAppend, loadLatest } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import type { ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { treasuryKeyLoader } from '../chain/treasury-key';
import { ProjectionReader } from '../projections/projection-reader';
import { ProjectionRunner } from '../projections/projection-runner';
import { sendReadPositions } from '../projections/read-positions';
import { loadSettlementControl } from './chain-attempts';
import { PayoutExecutor } from './payout-executor';
import { ChainVerifier } from '../verification/chain-verifier';
import { VerificationModule } from '../verification/verification.module';
import { ChainMovements } from './chain-movements';
import { TransferExecutor } from './transfer-executor';
import { createSettlement, SettleEpoch, type Settlement } from './settle-epoch';
import { SettlementViews } from './settlement-views';
import { EngineMetrics } from '../observability/engine-metrics';
import { JobService } from '../jobs/jobs';
import { accepted, JOB_SCHEMA } from '../jobs/jobs.module';

@Controller()
export class SettlementController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly settleEpoch: SettleEpoch,
    private readonly views: SettlementViews,
    private readonly jobs: JobService,
  ) {}

  /**
   * Settles a closed epoch in its mode, then (hybrid, web3) verifies the chain, as a job: 202 with the job at once
   * (its result, once succeeded, is the settlement). While the epoch's settlement job runs, asking again answers it;
   * after, asking again resumes an interrupted settlement, or answers the settled one.
   */
  @Post('epochs/:epoch/settlement')
  @HttpCode(202)
  @Roles('operator')
  @ApiCommand({
    summary: 'Settle a closed epoch in its mode, exactly once, as a job (again: the running job, or resumes, or answers the settlement)',
    status: 202,
    answers:
      'The job (Location: /jobs/{id}); once succeeded its result is the settlement, once failed its error is the problem (409 treasury short, 503 chain)',
    answerSchema: JOB_SCHEMA,
    errors: [404, 409],
    notes: { 404: 'No such epoch', 409: 'The epoch is not closed or has no distribution yet, settlement is paused, or the chain is not set up' },
  })
  async settle(
    @Param('epoch', EpochParam) epoch: number,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ) {
    return accepted(response, await this.settleEpoch.start(this.jobs, epoch, commandMetadata(request, `settle-${epoch}-${randomUUID()}`)));
  }

  /** From the payouts read model; `X-Projection-Position` and `X-Log-Position` say where it stands (src/projections/read-positions.ts). */
  @Get('epochs/:epoch/settlement')
  @Roles('operator', 'auditor')
  async get(@Param('epoch', EpochParam) epoch: number, @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void }) {
    const { view, positions } = await this.views.settlement(epoch);
    sendReadPositions(response, positions);
    return view;
  }

  @Get('settlement')
  @Roles('operator', 'auditor')
  async status() {
    const state = await this.control();
    const network = await loadLatest(this.store, networkDecider);
    return {
      nextEpoch: network.lastEpoch + 1,
      modeOfNextEpoch: control.modeOf(state, network.lastEpoch + 1),
      modes: state.modes,
      paused: state.paused ?? null,
    };
  }

  /** An operator decision, effective from the next epoch opened; web2 is always allowed (the rollback path). */
  @Post('settlement/mode')
  @HttpCode(200)
  @Roles('operator')
  @ApiCommand({
    summary: 'Choose the settlement mode from the next epoch opened',
    body: Schema.object({ mode: Schema.oneOf(['web2', 'hybrid', 'web3']), reason: Schema.text() }),
    status: 200,
    answers: 'The settlement control',
    errors: [409],
  })
  async chooseMode(@Body() body: { mode?: unknown; reason?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    const network = await loadLatest(this.store, networkDecider);
    const chainReady = (await loadChainSetup(this.store)) !== undefined;
    await decideAndAppend(
      this.store,
      control.settlementControlDecider,
      undefined,
      (state) => control.chooseMode(state, { mode: body?.mode, reason: body?.reason }, network.lastEpoch, chainReady),
      commandMetadata(request, `mode-${randomUUID()}`),
    );
    return this.status();
  }

  /** Closes the circuit breaker after a discrepancy, with the operator's reason recorded. */
  @Post('settlement/resume')
  @HttpCode(200)
  @Roles('operator')
  @ApiCommand({
    summary: 'Resume settlement paused by a verification discrepancy',
    body: Schema.object({ reason: Schema.text() }),
    status: 200,
    answers: 'The settlement control',
    errors: [409],
    notes: { 409: 'Settlement is not paused' },
  })
  async resume(@Body() body: { reason?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    await decideAndAppend(
      this.store,
      control.settlementControlDecider,
      undefined,
      (state) => control.resumeSettlement(state, { reason: body?.reason }),
      commandMetadata(request, `resume-${randomUUID()}`),
    );
    return this.status();
  }

  private control() {
    return loadSettlementControl(this.store);
  }
}

/** Single token movements the books ordered on chain (purchase deliveries, stake withdrawals, slashes). */
@Controller('chain/transfers')
export class ChainTransfersController {
  constructor(private readonly transfers: TransferExecutor) {}

  @Get()
  @Roles('operator', 'auditor')
  async list() {
    const states = await this.transfers.list();
    return {
      transfers: states.map((state) => ({
        ...state.order,
        status: state.status,
        attempts: state.attempts,
        signature: state.confirmedSignature ?? state.current?.signature ?? null,
        feeLamports: state.feeLamports.toString(),
        lastError: state.lastError ?? null,
      })),
    };
  }

  /** Carries out every transfer not done yet: after a crash, a failure, or an outage of the chain. */
  @Post('execute')
  @HttpCode(200)
  @Roles('operator')
  @ApiCommand({ summary: 'Carry out every chain transfer not done yet', status: 200, answers: 'Every transfer', errors: [409, 503] })
  async execute(@Req() request: AuthenticatedRequest) {
    await this.transfers.executePending(commandMetadata(request, `transfers-${randomUUID()}`));
    return this.list();
  }
}

/** Settlement's executors and use cases, composed by createSettlement (src/settlement/settle-epoch.ts) as the command line composes them. */
const SETTLEMENT = Symbol('settlement');

@Module({
  imports: [VerificationModule],
  controllers: [SettlementController, ChainTransfersController],
  providers: [
    {
      provide: SETTLEMENT,
      inject: [EVENT_STORE, CHAIN_GATEWAY, ProjectionReader, APP_CONFIG, ChainVerifier, { token: EngineMetrics, optional: true }],
      useFactory: (store: EventStore, chain: ChainGateway, reader: ProjectionReader, config: AppConfig, verifier: ChainVerifier, metrics?: EngineMetrics) =>
        createSettlement({ store, chain, reader, treasuryKey: treasuryKeyLoader(config), verifier, metrics }),
    },
    { provide: PayoutExecutor, inject: [SETTLEMENT], useFactory: (settlement: Settlement) => settlement.payouts },
    { provide: TransferExecutor, inject: [SETTLEMENT], useFactory: (settlement: Settlement) => settlement.transfers },
    { provide: ChainMovements, inject: [SETTLEMENT], useFactory: (settlement: Settlement) => settlement.movements },
    { provide: SettleEpoch, inject: [SETTLEMENT], useFactory: (settlement: Settlement) => settlement.settleEpoch },
    {
      provide: SettlementViews,
      inject: [EVENT_STORE, ProjectionReader, ProjectionRunner],
      useFactory: (store: EventStore, reader: ProjectionReader, runner: ProjectionRunner) => new SettlementViews(store, reader, runner),
    },
  ],
  exports: [PayoutExecutor, TransferExecutor, ChainMovements],
})
export class SettlementModule {}
