import { Body, Controller, Get, Inject, Module, Post, Req } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import { reject } from '../../domain/rejection';
import { Checks } from '../../domain/values';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import type { ChainGateway } from '../chain/chain-gateway';
import { initChain, loadChainSetup } from './chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { readMint, readTokenAccount } from '../chain/token';

/**
 * The treasury's chain setup over the API (`chain init`, the recorded accounts and their balances). The class keeps
 * its name, ChainController, because the OpenAPI document's operation ids are made from it.
 */
@Controller('chain')
export class ChainController {
  constructor(
    @Inject(CHAIN_GATEWAY) private readonly chain: ChainGateway,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `chain init` over the API: the embedded chain belongs to the running engine, so this is how it is set up while it runs. */
  @Post('init')
  @Roles('operator')
  async init(@Body() body: { supply?: unknown; mint?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    const checks = new Checks();
    const supply = body?.supply === undefined ? undefined : checks.amount('supply', body.supply, { allowZero: true });
    const mint = body?.mint === undefined ? undefined : checks.publicKey('mint', body.mint);
    checks.done();
    const { setup, created } = await initChain(this.chain, this.store, this.config, { supply, mint }, commandMetadata(request, `chain-init-${randomUUID()}`));
    return { created, ...setup };
  }

  /** The recorded accounts and what the chain holds in them now. The treasury key is never served, only its public key. */
  @Get()
  @Roles('operator', 'auditor')
  async status() {
    const setup = await loadChainSetup(this.store);
    if (!setup) reject('not_found', 'chain', 'the chain is not set up: run `npm run chain -- init` (or POST /chain/init)');
    const [mint, treasury, vault, authority] = await this.chain.getAccounts([setup.mint, setup.treasuryAccount, setup.stakeVault, setup.treasuryAuthority].map((key) => new PublicKey(key)));
    return {
      ...setup,
      gateway: this.chain.kind,
      blockHeight: (await this.chain.blockHeight()).toString(),
      balances: {
        mintSupply: readMint(new PublicKey(setup.mint), mint)?.supply.toString() ?? null,
        treasury: readTokenAccount(new PublicKey(setup.treasuryAccount), treasury)?.amount.toString() ?? null,
        stakeVault: readTokenAccount(new PublicKey(setup.stakeVault), vault)?.amount.toString() ?? null,
        treasuryAuthorityLamports: authority?.lamports.toString() ?? '0',
      },
    };
  }
}

@Module({ controllers: [ChainController] })
export class TreasuryModule {}
