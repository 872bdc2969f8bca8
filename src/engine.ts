import 'reflect-metadata';
import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { JSON_RPC_REQUEST_SCHEMA, PROBLEM_SCHEMA } from './openapi/openapi';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import type { AppConfig } from './config/config';
import { openDatabase, type Database } from './database/database';
import type { EventStore } from './event-store/event-store';
import { openEventStore } from './event-store/open-event-store';
import type { ChainGateway } from './chain/chain-gateway';
import { openChainGateway } from './chain/open-chain';
import { serveDashboard } from './dashboard/dashboard-assets';
import type { Logger as PinoLogger } from 'pino';
import { EngineMetrics } from './observability/engine-metrics';
import { JsonLoggerService } from './observability/json-logger';
import { MeasuredEventStore } from './observability/measured-event-store';
import { ObservabilityModule } from './observability/observability.module';
import { requestLogging } from './observability/request-logging';
import { authenticate } from './auth/api-keys';
import { ProvenKeys } from './auth/proven-keys';
import { authenticateFirst, continueOnlyWhenAllowed } from './http/authenticate-first';
import { declaredRoutes, RouteTable } from './http/routes';
import { noStore, securityHeaders } from './http/security-headers';
import { ClaimsCache } from './epochs/claims-cache';
import { PROOF_ROUTE, proofFastPath } from './epochs/proof-fast-path';

export interface RunningEngine {
  app: INestApplication;
  database: Database;
  eventStore: EventStore;
  chain: ChainGateway;
  /** The Prometheus metrics served at /metrics (this engine's own registry). */
  metrics: EngineMetrics;
  /** Base URL the HTTP API listens on. */
  url: string;
  /** Closes HTTP, then the event store, then the database (and the embedded server). Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts the engine: database and migrations, event store, then the HTTP API on `config.port` (0 picks a free port). */
export async function startEngine(
  config: AppConfig,
  logger = new Logger('engine'),
  options: { frameworkLogs?: boolean; jsonLogger?: PinoLogger } = {},
): Promise<RunningEngine> {
  const log = (line: string) => logger.log(line);
  const database = await openDatabase(config, log);
  const metrics = new EngineMetrics();
  // Every adapter's appends are timed (synq_event_store_append_duration_seconds).
  const eventStore = new MeasuredEventStore(openEventStore(config, database), metrics);
  let app: INestApplication | undefined;
  let chain: ChainGateway | undefined;
  let provenKeys: ProvenKeys | undefined;
  try {
    chain = await openChainGateway(config, database);
    app = await NestFactory.create<NestExpressApplication>(ObservabilityModule.around(AppModule.forRoot(config, database, eventStore, chain), metrics), {
      // With a JSON logger (npm start), Nest's own messages are JSON lines too.
      logger: options.jsonLogger ? new JsonLoggerService(options.jsonLogger) : options.frameworkLogs === false ? ['error', 'warn'] : ['error', 'warn', 'log'],
      bodyParser: false,
    });
    // First of all: the correlation id, one log line per request, the HTTP metrics.
    app.use(requestLogging({ logger: options.jsonLogger, metrics }));
    // Security headers (helmet) and no caching of answers, on every answer, refusals included.
    (app as NestExpressApplication).disable('x-powered-by');
    app.use(securityHeaders(), noStore());
    // The key before the body: a request that needs a key and has none valid is answered 401 unread.
    const pool = database.pool;
    provenKeys = new ProvenKeys(pool, database.connection);
    await provenKeys.start();
    const proven = provenKeys;
    app.use(
      authenticateFirst(
        new RouteTable(declaredRoutes(app)),
        (key) => authenticate(pool, key),
        (key) => proven.authenticate(key),
      ),
    );
    continueOnlyWhenAllowed(app.getHttpServer());
    // Proofs already in memory are answered ahead of Nest's router (same body and headers; src/epochs/proof-fast-path.ts).
    (app as NestExpressApplication)
      .getHttpAdapter()
      .getInstance()
      .get(PROOF_ROUTE, proofFastPath(app.get(ClaimsCache)));
    // A batch of 5,000 signed reports is about 2.5 MB; anything far larger is refused with 413.
    (app as NestExpressApplication).useBodyParser('json', { limit: '8mb' });
    publishApiDocs(app);
    serveDashboard(app as NestExpressApplication);
    await app.listen(config.port, '127.0.0.1');
  } catch (error) {
    await provenKeys?.close();
    await app?.close().catch(() => undefined);
    await chain?.close().catch(() => undefined);
    await eventStore.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  log(`synq-settlement listening on ${url} (database: ${database.source}, event store: ${eventStore.kind}, chain: ${chain.kind})`);

  let stopping: Promise<void> | undefined;
  const running = app;
  const openChain = chain;
  const keys = provenKeys;
  return {
    app: running,
    database,
    eventStore,
    chain: openChain,
    metrics,
    url,
    stop() {
      stopping ??= (async () => {
        await running.close();
        await keys?.close();
        await openChain.close();
        await eventStore.close();
        await database.close();
      })();
      return stopping;
    },
  };
}

/** OpenAPI generated from the controllers: the UI at /docs (assets bundled, no CDN), the document at /docs-json. */
function publishApiDocs(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('synq-settlement')
      .setDescription('Settlement engine of the Multisynq relay network. Amounts and positions are decimal strings; errors are application/problem+json.')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key: synq_<id>_<secret>' }, 'bearer')
      .build(),
  );
  // Every error's body (src/http/problem.filter.ts), referred to by each route's error answers.
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA, JsonRpcRequest: JSON_RPC_REQUEST_SCHEMA },
  };
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
