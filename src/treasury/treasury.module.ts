import { Body, Controller, Get, HttpCode, Inject, Module, Post, Req } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { reject } from '../../domain/rejection';
import { Checks } from '../../domain/values';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import type { ChainGateway } from '../chain/chain-gateway';
import { createTreasurySetup, TreasurySetup } from './chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { EmbeddedChain } from '../chain/embedded-chain';

/** The most the embedded chain's clock moves in one call: ten years. */
export const MAX_CLOCK_ADVANCE_SECONDS = 10 * 365 * 86_400;

/**
 * The treasury's chain setup over the API (`chain init`, the recorded accounts and their balances). The class keeps
 * its name, ChainController, because the OpenAPI document's operation ids are made from it.
 */
@Controller('chain')
export class ChainController {
  constructor(
    private readonly setup: TreasurySetup,
    @Inject(CHAIN_GATEWAY) private readonly chain: ChainGateway,
  ) {}

  /** `chain init` over the API: the embedded chain belongs to the running engine, so this is how it is set up while it runs. */
  @Post('init')
  @Roles('operator')
  @ApiCommand({
    summary: "Set up the treasury's chain accounts (the mint, on the embedded chain); again: answers the setup",
    body: Schema.object(
      { supply: Schema.amount({ allowZero: true, description: 'Tokens minted to the treasury' }), mint: Schema.publicKey('An existing mint') },
      [],
    ),
    status: 201,
    answers: 'The setup, and whether it was created now',
    errors: [409, 503],
  })
  async init(@Body() body: { supply?: unknown; mint?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    const checks = new Checks();
    const supply = body?.supply === undefined ? undefined : checks.amount('supply', body.supply, { allowZero: true });
    const mint = body?.mint === undefined ? undefined : checks.publicKey('mint', body.mint);
    checks.done();
    const { setup, created } = await this.setup.init({ supply, mint }, commandMetadata(request, `chain-init-${randomUUID()}`));
    return { created, ...setup };
  }

  /**
   * Embedded chain only (404 on a cluster, whose clock is its own): moves the chain clock forward by `advanceSeconds`
   * (1 to ten years), so that demos and tests reach a distributor's clawback start. Answers the chain's new unix time.
   */
  @Post('clock')
  @HttpCode(200)
  @Roles('operator')
  @ApiCommand({
    summary: "Move the embedded chain's clock forward",
    body: Schema.object({ advanceSeconds: Schema.integer(1, 10 * 365 * 86_400) }),
    status: 200,
    answers: "The chain's new unix time",
    errors: [404],
    notes: { 404: 'The engine runs on a cluster' },
  })
  async advanceClock(@Body() body: { advanceSeconds?: unknown } | undefined) {
    if (!(this.chain instanceof EmbeddedChain)) reject('not_found', 'chain', "the engine runs on a cluster: only the embedded chain's clock can be moved");
    const checks = new Checks();
    const seconds = checks.integer('advanceSeconds', body?.advanceSeconds, 1, MAX_CLOCK_ADVANCE_SECONDS);
    checks.done();
    const unixTimestamp = await this.chain.advanceClock(BigInt(seconds));
    return { unixTimestamp: Number(unixTimestamp), at: new Date(Number(unixTimestamp) * 1000).toISOString() };
  }

  /** The recorded accounts and what the chain holds in them now. The treasury key is never served, only its public key. */
  @Get()
  @Roles('operator', 'auditor')
  async status() {
    const status = await this.setup.status();
    if (!status) reject('not_found', 'chain', 'the chain is not set up: run `npm run chain -- init` (or POST /chain/init)');
    return status;
  }
}

@Module({
  controllers: [ChainController],
  providers: [
    {
      provide: TreasurySetup,
      inject: [CHAIN_GATEWAY, EVENT_STORE, APP_CONFIG],
      useFactory: (chain: ChainGateway, store: EventStore, config: AppConfig) => createTreasurySetup({ chain, store, config }),
    },
  ],
})
export class TreasuryModule {}
