import { Controller, Get, HttpCode, Inject, Module, Param, Post, Query, Req, Res } from '@nestjs/common';
import { EpochParam, pageNumber } from '../requests/parameters';
import { randomUUID } from 'node:crypto';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand } from '../openapi/openapi';
import type { ChainGateway } from '../chain/chain-gateway';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { treasuryKeyLoader } from '../chain/treasury-key';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { EngineMetrics } from '../observability/engine-metrics';
import { ProjectionReader } from '../projections/projection-reader';
import { ProjectionRunner } from '../projections/projection-runner';
import { sendReadPositions } from '../projections/read-positions';
import { commandMetadata } from '../requests/request-metadata';
import { ClaimObserver } from '../claims/claims';
import { ClaimsModule } from '../claims/claims.module';
import { Clawback, createClawback } from './clawback';
import { ClawbackViews } from './clawback-views';

/** A web3 epoch's unclaimed rewards, before its claim deadline and after it (the clawback). */
@Controller('epochs/:epoch')
export class ClawbackController {
  constructor(
    @Inject(Clawback) private readonly clawback: Clawback,
    private readonly views: ClawbackViews,
  ) {}

  /**
   * The leaves not claimed yet (no ClaimStatus account on chain), in leaf order: `?limit=` (up to 1000, default 100)
   * and `?offset=`; their count and total, the deadline (the clawback start) and the seconds left by the chain clock.
   */
  @Get('unclaimed')
  @Roles('operator', 'auditor')
  async unclaimed(@Param('epoch', EpochParam) epoch: number, @Query('limit') limit?: string, @Query('offset') offset?: string) {
    return this.clawback.unclaimed(epoch, { limit: pageNumber('limit', limit, 100, 1, 1000), offset: pageNumber('offset', offset, 0, 0, 1_000_000_000) });
  }

  /**
   * After the clawback start: the distributor's unclaimed tokens back to the treasury, once, and the unclaimed-rewards
   * policy applied (carried to the wallets' next leaves, or returned). Repeating it answers the recorded clawback.
   */
  @Post('clawback')
  @HttpCode(200)
  @Roles('operator')
  @ApiCommand({
    summary: "After the claim deadline, take back a web3 epoch's unclaimed rewards, once",
    status: 200,
    answers: 'The clawback',
    errors: [404, 409, 503],
  })
  async run(@Param('epoch', EpochParam) epoch: number, @Req() request: AuthenticatedRequest) {
    return this.clawback.run(epoch, commandMetadata(request, `clawback-${epoch}-${randomUUID()}`));
  }

  /** From the payouts read model; `X-Projection-Position` and `X-Log-Position` say where it stands (src/projections/read-positions.ts). */
  @Get('clawback')
  @Roles('operator', 'auditor')
  async view(@Param('epoch', EpochParam) epoch: number, @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void }) {
    const { view, positions } = await this.views.clawback(epoch);
    sendReadPositions(response, positions);
    return view;
  }
}

@Module({
  imports: [ClaimsModule],
  controllers: [ClawbackController],
  providers: [
    {
      provide: Clawback,
      inject: [EVENT_STORE, CHAIN_GATEWAY, ProjectionReader, APP_CONFIG, ClaimObserver, { token: EngineMetrics, optional: true }],
      useFactory: (store: EventStore, chain: ChainGateway, reader: ProjectionReader, config: AppConfig, observer: ClaimObserver, metrics?: EngineMetrics) =>
        createClawback({ store, chain, reader, treasuryKey: treasuryKeyLoader(config), observer, metrics }),
    },
    {
      provide: ClawbackViews,
      inject: [EVENT_STORE, ProjectionReader, ProjectionRunner],
      useFactory: (store: EventStore, reader: ProjectionReader, runner: ProjectionRunner) => new ClawbackViews(store, reader, runner),
    },
  ],
})
export class ClawbackModule {}
