import { Module, type DynamicModule } from '@nestjs/common';
import type { ChainGateway } from './chain-gateway';
import { CHAIN_GATEWAY } from './open-chain';

/** The chain gateway the engine opened (embedded or RPC), for every module to inject as CHAIN_GATEWAY. Use cases live elsewhere. */
@Module({})
export class ChainModule {
  static forRoot(chain: ChainGateway): DynamicModule {
    return {
      module: ChainModule,
      global: true,
      providers: [{ provide: CHAIN_GATEWAY, useValue: chain }],
      exports: [CHAIN_GATEWAY],
    };
  }
}
