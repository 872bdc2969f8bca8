import { Body, Controller, Get, HttpCode, Module, Param, Post, Query, Req, Res } from '@nestjs/common';
import { IdParam } from '../requests/parameters';
import { reject } from '../../domain/rejection';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import type { ChainGateway } from '../chain/chain-gateway';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { ProjectionReader } from '../projections/projection-reader';
import { ChainVerifier, createVerification } from './chain-verifier';
import { EngineMetrics } from '../observability/engine-metrics';
import { JobService } from '../jobs/jobs';
import { accepted, JOB_SCHEMA } from '../jobs/jobs.module';
import { Database } from '../database/database';

@Controller('verification/runs')
export class VerificationController {
  constructor(
    private readonly verifier: ChainVerifier,
    private readonly jobs: JobService,
  ) {}

  /**
   * Replays the books against the chain now, as a job; a run that finds a discrepancy pauses settlement. What is new or
   * can have changed since the last run's checkpoints, or with `{"full": true}` the whole history (no body: incremental).
   */
  @Post()
  @HttpCode(202)
  @Roles('operator')
  @ApiCommand({
    summary: 'Verify the chain against the books now, as a job; a discrepancy pauses settlement',
    body: Schema.object(
      { full: { type: 'boolean', description: 'Verify the whole history again and compare the checkpoints (default: what is new since the last run)' } },
      [],
    ),
    status: 202,
    answers: 'The job (Location: /jobs/{id}); once succeeded its result is the verification run, once failed its error is the problem (503 chain)',
    answerSchema: JOB_SCHEMA,
    errors: [409],
    notes: { 409: 'The chain is not set up: there is nothing on chain to verify' },
  })
  async start(
    @Body() body: { full?: unknown } | undefined,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ) {
    if (body?.full !== undefined && typeof body.full !== 'boolean') reject('invalid', 'full', 'must be true or false');
    const { actor, correlationId } = commandMetadata(request, 'verification');
    return accepted(response, await this.verifier.start(this.jobs, { actor, correlationId }, { full: body?.full === true }));
  }

  @Get()
  @Roles('operator', 'auditor')
  async list(@Query('limit') limit?: string) {
    const count = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(count) || count < 1 || count > 1000) reject('invalid', 'limit', 'must be a whole number from 1 to 1000');
    return { runs: await this.verifier.list(count) };
  }

  @Get(':id')
  @Roles('operator', 'auditor')
  async get(@Param('id', IdParam) id: string) {
    const run = await this.verifier.get(id);
    if (!run) reject('not_found', 'id', `no verification run ${id}`);
    return run;
  }
}

@Module({
  controllers: [VerificationController],
  providers: [
    {
      provide: ChainVerifier,
      inject: [EVENT_STORE, CHAIN_GATEWAY, ProjectionReader, Database, { token: EngineMetrics, optional: true }],
      useFactory: (store: EventStore, chain: ChainGateway, reader: ProjectionReader, database: Database, metrics?: EngineMetrics) =>
        createVerification({ store, chain, reader, pool: database.pool, metrics }),
    },
  ],
  exports: [ChainVerifier],
})
export class VerificationModule {}
