import { Body, Controller, Get, Module, Post, Req } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { reject } from '../../domain/rejection';
import { Checks } from '../../domain/values';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import type { ChainGateway } from '../chain/chain-gateway';
import { createTreasurySetup, TreasurySetup } from './chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';

/**
 * The treasury's chain setup over the API (`chain init`, the recorded accounts and their balances). The class keeps
 * its name, ChainController, because the OpenAPI document's operation ids are made from it.
 */
@Controller('chain')
export class ChainController {
  constructor(private readonly setup: TreasurySetup) {}

  /** `chain init` over the API: the embedded chain belongs to the running engine, so this is how it is set up while it runs. */
  @Post('init')
  @Roles('operator')
  async init(@Body() body: { supply?: unknown; mint?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    const checks = new Checks();
    const supply = body?.supply === undefined ? undefined : checks.amount('supply', body.supply, { allowZero: true });
    const mint = body?.mint === undefined ? undefined : checks.publicKey('mint', body.mint);
    checks.done();
    const { setup, created } = await this.setup.init({ supply, mint }, commandMetadata(request, `chain-init-${randomUUID()}`));
    return { created, ...setup };
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
