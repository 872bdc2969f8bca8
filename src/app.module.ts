import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from './config/config';
import { Database } from './database/database';
import { EVENT_STORE, type EventStore } from './event-store/event-store';
import { ThrottlerGuard } from '@nestjs/throttler';
import { ApiKeyGuard } from './auth/api-key.guard';
import { publicRateLimitModule } from './http/public-rate-limit';
import { KeysModule } from './keys/keys.module';
import { DevelopersModule } from './developers/developers';
import { HealthController } from './health/health.controller';
import { StakesModule } from './stakes/stakes';
import { ProblemFilter } from './http/problem.filter';
import { JsonObjectBody } from './http/json-body';
import { MetricsModule } from './metric-reports/metric-reports';
import { NetworkModule } from './network/network';
import { SynqersModule } from './synqers/synqers';
import { EpochsModule } from './epochs/epochs';
import { ProjectionsModule } from './projections/projections';
import { AuditModule } from './audit/audit.module';
import type { ChainGateway } from './chain/chain-gateway';
import { ChainModule } from './chain/chain.module';
import { ChainRpcModule } from './chain-rpc/chain-rpc.module';
import { TreasuryModule } from './treasury/treasury.module';
import { SettlementModule } from './settlement/settlement.module';
import { VerificationModule } from './verification/verification.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { ClaimsModule } from './claims/claims.module';
import { ClawbackModule } from './clawback/clawback.module';
import { JobsModule } from './jobs/jobs.module';

/** Infrastructure shared by every capability module: configuration, the database, the event store and the chain gateway. */
@Module({})
export class InfrastructureModule {
  static forRoot(config: AppConfig, database: Database, eventStore: EventStore, chain: ChainGateway): DynamicModule {
    return {
      module: InfrastructureModule,
      global: true,
      imports: [ChainModule.forRoot(chain)],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: Database, useValue: database },
        { provide: EVENT_STORE, useValue: eventStore },
      ],
      exports: [APP_CONFIG, Database, EVENT_STORE, ChainModule],
    };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, database: Database, eventStore: EventStore, chain: ChainGateway): DynamicModule {
    return {
      module: AppModule,
      imports: [
        InfrastructureModule.forRoot(config, database, eventStore, chain),
        CqrsModule.forRoot(),
        publicRateLimitModule(config),
        ProjectionsModule,
        JobsModule,
        SynqersModule,
        NetworkModule,
        MetricsModule,
        DevelopersModule,
        StakesModule,
        EpochsModule,
        AuditModule,
        TreasuryModule,
        SettlementModule,
        VerificationModule,
        ClaimsModule,
        ClawbackModule,
        KeysModule,
        DashboardModule,
        ChainRpcModule.forRoot(chain),
      ],
      controllers: [HealthController],
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: ThrottlerGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        // After the guard: a body that is not a JSON object (or not JSON) is refused before any route reads it.
        { provide: APP_INTERCEPTOR, useClass: JsonObjectBody },
      ],
    };
  }
}
