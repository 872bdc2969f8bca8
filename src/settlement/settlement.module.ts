import { Body, Controller, Get, HttpCode, Inject, Module, Param, ParseIntPipe, Post, Req } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { payoutDecider, type PayoutState } from '../../domain/epoch-payout';
import { networkDecider } from '../../domain/network';
import { policyFor } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import * as control from '../../domain/settlement-control';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { decideAndAppend, load, loadLatest } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import type { ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { loadTreasuryKey } from '../chain/treasury-key';
import { ProjectionReader } from '../projections/projection-reader';
import { loadSettlementControl } from './chain-attempts';
import { PayoutExecutor } from './payout-executor';
import { ChainVerifier } from '../verification/chain-verifier';
import { VerificationModule } from '../verification/verification.module';
import { ChainMovements } from './chain-movements';
import { TransferExecutor } from './transfer-executor';
import { EngineMetrics } from '../observability/engine-metrics';

const LAMPORTS_PER_SOL = 1_000_000_000n;

/** What an epoch's settlement cost: lamports, and where the policy prices SOL, a share of the rewards paid. */
export function settlementCost(state: PayoutState, solPriceInSynq: string | undefined) {
  const lamports = state.feeLamports + state.rentLamports;
  const paid = BigInt(state.plan?.mode === 'hybrid' ? state.plan.total : '0');
  let percentOfPaid: string | null = null;
  if (solPriceInSynq !== undefined && paid > 0n) {
    // In hundred-thousandths of a percent, rounded down, then written with five decimals.
    const scaled = (lamports * BigInt(solPriceInSynq) * 100n * 100_000n) / (LAMPORTS_PER_SOL * paid);
    percentOfPaid = `${scaled / 100_000n}.${(scaled % 100_000n).toString().padStart(5, '0')}`;
  }
  return { feeLamports: state.feeLamports.toString(), rentLamports: state.rentLamports.toString(), totalLamports: lamports.toString(), percentOfPaid };
}

export function describePayout(state: PayoutState, solPriceInSynq: string | undefined) {
  const plan = state.plan!;
  const count = (status: string) => state.batches.filter((batch) => batch.status === status).length;
  return {
    epoch: plan.epoch,
    mode: plan.mode,
    root: plan.root,
    leafCount: plan.leafCount,
    total: plan.total,
    status: state.settled ? 'settled' : 'in_progress',
    transactions: { planned: plan.batches.length, confirmed: count('confirmed'), awaiting: count('awaiting'), failed: count('failed'), expired: count('expired'), unsigned: count('unsigned') },
    cost: settlementCost(state, solPriceInSynq),
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

@Controller()
export class SettlementController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly executor: PayoutExecutor,
    private readonly verifier: ChainVerifier,
  ) {}

  /** Settles a closed epoch in its mode. Repeating it resumes an interrupted settlement, or answers the settled one. */
  @Post('epochs/:epoch/settlement')
  @HttpCode(200)
  @Roles('operator')
  async settle(@Param('epoch', ParseIntPipe) epoch: number, @Req() request: AuthenticatedRequest) {
    const metadata = commandMetadata(request, `settle-${epoch}-${randomUUID()}`);
    const settled = await this.executor.settle(epoch, metadata);
    // Hybrid and web3: the chain executed, now the chain is verified against the books (a discrepancy pauses settlement).
    const run = settled.mode === 'web2' ? null : await this.verifier.run({ actor: metadata.actor, correlationId: metadata.correlationId });
    return { ...(await this.get(epoch)), verification: run && { runId: run.runId, discrepancyCount: run.discrepancyCount, byType: run.byType } };
  }

  @Get('epochs/:epoch/settlement')
  @Roles('operator', 'auditor')
  async get(@Param('epoch', ParseIntPipe) epoch: number) {
    const { state } = await load(this.store, payoutDecider, epoch);
    if (!state.plan) reject('not_found', 'epoch', `epoch ${epoch} has no settlement yet`);
    const network = await loadLatest(this.store, networkDecider);
    return describePayout(state, policyFor(network.policies, epoch).solPriceInSynq);
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
  async execute(@Req() request: AuthenticatedRequest) {
    await this.transfers.executePending(commandMetadata(request, `transfers-${randomUUID()}`));
    return this.list();
  }
}

const treasuryKeyOf = (config: AppConfig) => {
  let key: ReturnType<typeof loadTreasuryKey> | undefined;
  return () => (key ??= loadTreasuryKey(config));
};

@Module({
  imports: [VerificationModule],
  controllers: [SettlementController, ChainTransfersController],
  providers: [
    {
      provide: TransferExecutor,
      inject: [EVENT_STORE, CHAIN_GATEWAY, APP_CONFIG, { token: EngineMetrics, optional: true }],
      useFactory: (store: EventStore, chain: ChainGateway, config: AppConfig, metrics?: EngineMetrics) => new TransferExecutor(store, chain, treasuryKeyOf(config), metrics),
    },
    { provide: ChainMovements, inject: [EVENT_STORE, TransferExecutor], useFactory: (store: EventStore, transfers: TransferExecutor) => new ChainMovements(store, transfers) },
    {
      provide: PayoutExecutor,
      inject: [EVENT_STORE, CHAIN_GATEWAY, ProjectionReader, APP_CONFIG, { token: EngineMetrics, optional: true }],
      useFactory: (store: EventStore, chain: ChainGateway, reader: ProjectionReader, config: AppConfig, metrics?: EngineMetrics) =>
        new PayoutExecutor(store, chain, reader, treasuryKeyOf(config), metrics),
    },
  ],
  exports: [PayoutExecutor, TransferExecutor, ChainMovements],
})
export class SettlementModule {}
