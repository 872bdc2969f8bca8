import { Controller, Get, Logger, Module, Optional, Res, type DynamicModule } from '@nestjs/common';
import type { Response } from 'express';
import { ProjectionRunner } from '../projections/projection-runner';
import { EngineMetrics } from './engine-metrics';

/**
 * `GET /metrics`: the engine's Prometheus metrics in the text format. Public like `/health` (no `@Roles`: the server
 * listens on 127.0.0.1 only). The projection gauges are read from the runner's status at each scrape.
 */
@Controller('metrics')
export class MetricsController {
  private readonly logger = new Logger('metrics');

  constructor(
    private readonly metrics: EngineMetrics,
    @Optional() private readonly runner?: ProjectionRunner,
  ) {}

  @Get()
  async scrape(@Res({ passthrough: true }) response: Response): Promise<string> {
    if (this.runner) {
      try {
        this.metrics.observeProjections(await this.runner.status());
      } catch (error) {
        // The rest of the metrics still say something (the database may be the problem): only the projections are left out.
        this.metrics.clearProjections();
        this.logger.warn(`projection status unavailable for /metrics: ${(error as Error).message}`);
      }
    }
    response.setHeader('content-type', this.metrics.contentType);
    return this.metrics.render();
  }
}

/** Makes the engine's metrics injectable everywhere (`EngineMetrics`) and serves them. */
@Module({})
export class ObservabilityModule {
  static forRoot(metrics: EngineMetrics): DynamicModule {
    return {
      module: ObservabilityModule,
      global: true,
      controllers: [MetricsController],
      providers: [{ provide: EngineMetrics, useValue: metrics }],
      exports: [EngineMetrics],
    };
  }

  /** The application module with observability added: what `startEngine` hands to Nest. */
  static around(app: DynamicModule, metrics: EngineMetrics): DynamicModule {
    return { ...app, imports: [...(app.imports ?? []), ObservabilityModule.forRoot(metrics)] };
  }
}
