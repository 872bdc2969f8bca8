import { Body, Controller, Get, Global, HttpCode, Module, Param, Post, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { IdParam } from '../requests/parameters';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { developersProjection } from '../../projections/developers';
import { payoutsProjection } from '../../projections/payouts';
import type { Projection } from '../../projections/projection';
import { settlementProjection } from '../../projections/settlement';
import { networkDecider } from '../../domain/network';
import { reject } from '../../domain/rejection';
import { Checks } from '../../domain/values';
import { Roles } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { Database } from '../database/database';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { loadLatest } from '../commands/streams';
import { ProjectionReader } from './projection-reader';
import { ProjectionRunner, UnknownProjectionError, type ProjectionRequest, type ProjectionStatus } from './projection-runner';

/** Every projection the engine keeps, in the order they are listed. */
export const PROJECTIONS: readonly Projection[] = [settlementProjection, developersProjection, payoutsProjection];

export function createProjectionRunner(
  database: Database,
  store: EventStore,
  log: (line: string) => void,
  instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
  stallAfterSeconds?: number,
) {
  return new ProjectionRunner({ pool: database.pool, connection: database.connection, store, projections: PROJECTIONS, instanceId, log, stallAfterSeconds });
}

export function projectionView(status: ProjectionStatus) {
  return {
    name: status.name,
    version: status.version,
    generation: status.generation,
    status: status.status,
    position: status.position.toString(),
    lagEvents: status.lagEvents.toString(),
    lagSeconds: Math.round(status.lagSeconds * 1000) / 1000,
    owner: status.owner,
    stalled: status.stalled,
    idleSeconds: Math.round(status.idleSeconds),
    ...(status.failure ? { failure: { position: status.failure.position.toString(), eventId: status.failure.eventId, error: status.failure.error } } : {}),
    ...(status.building
      ? {
          building: {
            generation: status.building.generation,
            position: status.building.position.toString(),
            until: status.building.until?.toString() ?? null,
            target: status.building.target?.toString() ?? null,
            then: status.building.then,
          },
        }
      : {}),
    ...(status.pendingRequest ? { pendingRequest: status.pendingRequest } : {}),
  };
}

/** `--to-position P` or `--to-epoch N` (the cut-off of closed epoch N): the position a rewind stops at. */
export async function rewindTarget(store: EventStore, input: { toPosition?: unknown; toEpoch?: unknown }): Promise<bigint> {
  const checks = new Checks();
  if ((input.toPosition === undefined) === (input.toEpoch === undefined)) reject('invalid', 'toPosition', 'give exactly one of toPosition and toEpoch');
  if (input.toPosition !== undefined) {
    const position = checks.amount('toPosition', input.toPosition, { allowZero: true });
    checks.done();
    // A target past the end of the log would never be reached: the build would wait there for ever.
    const last = await store.lastPosition();
    if (position > last) reject('invalid', 'toPosition', `is past the end of the log (its last position is ${last})`);
    return position;
  }
  const epoch = checks.integer('toEpoch', input.toEpoch, 1, 1_000_000_000);
  checks.done();
  const info = (await loadLatest(store, networkDecider)).epochs.get(epoch);
  if (!info) reject('not_found', 'toEpoch', `epoch ${epoch} was never opened`);
  if (info.cutOffPosition === undefined) reject('conflict', 'toEpoch', `epoch ${epoch} is not closed: it has no cut-off to rewind to`);
  return info.cutOffPosition;
}

/** An operator's request on a projection as asked: a rewind names `toPosition` or `toEpoch` (the cut-off of a closed epoch). */
export type ProjectionAsk = { action: 'rebuild' } | { action: 'resume' } | { action: 'rewind'; toPosition?: unknown; toEpoch?: unknown };

/**
 * Operator commands on projections, composed once: the /projections routes and `synq projections` alike. A request is
 * recorded for whichever instance processes the projection (an engine, or the command itself when none runs).
 */
export class ProjectionOperations {
  constructor(
    private readonly runner: ProjectionRunner,
    private readonly store: EventStore,
  ) {}

  /** Name, version, generation, position, lag and status of every projection. */
  status(): Promise<ProjectionStatus[]> {
    return this.runner.status();
  }

  /** Records the request (a rewind's position resolved first) and answers with the projection's status then. */
  async request(name: string, ask: ProjectionAsk): Promise<{ request: ProjectionRequest; status: ProjectionStatus }> {
    const request: ProjectionRequest = ask.action === 'rewind' ? { action: 'rewind', toPosition: await rewindTarget(this.store, ask) } : { action: ask.action };
    await this.runner.request(name, request);
    return { request, status: (await this.runner.status()).find((s) => s.name === name)! };
  }

  /**
   * Resolves once the request is carried out: a rewind's build paused at its position, a rebuild or resume running
   * again; or the projection failed. `onProgress` sees a build's position and target.
   */
  async carriedOut(
    name: string,
    action: ProjectionRequest['action'],
    onProgress: (position: bigint, target: bigint) => void = () => undefined,
  ): Promise<ProjectionStatus> {
    for (;;) {
      const status = (await this.runner.status()).find((s) => s.name === name)!;
      if (status.building) onProgress(status.building.position, status.building.target ?? status.building.position);
      const done =
        !status.pendingRequest &&
        !status.building &&
        (status.status === 'failed' || (action === 'rewind' ? status.status === 'paused' : status.status === 'running'));
      if (done) return status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export interface ProjectionOperationsDependencies {
  runner: ProjectionRunner;
  store: EventStore;
}

export function createProjectionOperations(deps: ProjectionOperationsDependencies): ProjectionOperations {
  return new ProjectionOperations(deps.runner, deps.store);
}

@Controller('projections')
export class ProjectionsController {
  constructor(private readonly operations: ProjectionOperations) {}

  /** Name, version, position, lag in events and seconds, and status of every projection. */
  @Get()
  @Roles('operator', 'auditor')
  async list() {
    return { projections: (await this.operations.status()).map(projectionView) };
  }

  /** Replays the projection from the start into a new generation; reads keep answering from the old one until it is live. */
  @Post(':name/rebuild')
  @HttpCode(202)
  @Roles('operator')
  @ApiCommand({ summary: 'Rebuild a projection into a new generation', status: 202, answers: 'The request and the projection', errors: [404] })
  rebuild(@Param('name', IdParam) name: string) {
    return this.ask(name, { action: 'rebuild' });
  }

  /** `{ "toPosition": "P" }` or `{ "toEpoch": N }`: the projection becomes what it was at that position and pauses there. */
  @Post(':name/rewind')
  @HttpCode(202)
  @Roles('operator')
  @ApiCommand({
    summary: "Rewind a projection to a position, or to a closed epoch's cut-off, and pause it there",
    body: {
      type: 'object',
      description: 'Exactly one of toPosition and toEpoch',
      properties: { toPosition: Schema.amount({ allowZero: true, description: 'A position of the log' }), toEpoch: Schema.integer(1, 1_000_000_000) },
      oneOf: [{ required: ['toPosition'] }, { required: ['toEpoch'] }],
    },
    status: 202,
    answers: 'The request and the projection',
    errors: [404, 409],
  })
  async rewind(@Param('name', IdParam) name: string, @Body() body: { toPosition?: unknown; toEpoch?: unknown }) {
    return this.ask(name, { action: 'rewind', toPosition: body?.toPosition, toEpoch: body?.toEpoch });
  }

  /** Lets a paused (rewound) or failed projection go on from where it stands. */
  @Post(':name/resume')
  @HttpCode(202)
  @Roles('operator')
  @ApiCommand({ summary: 'Let a paused or failed projection go on', status: 202, answers: 'The request and the projection', errors: [404] })
  resume(@Param('name', IdParam) name: string) {
    return this.ask(name, { action: 'resume' });
  }

  private async ask(name: string, ask: ProjectionAsk) {
    try {
      const { request, status } = await this.operations.request(name, ask);
      return { requested: request.action, projection: projectionView(status) };
    } catch (error) {
      if (error instanceof UnknownProjectionError) reject('not_found', 'name', error.message);
      throw error;
    }
  }
}

/**
 * Starts the runner with the application (unless SYNQ_PROJECTIONS=off: an ingest-only engine beside one that applies
 * them) and stops it (releasing its locks) before the database closes.
 */
class ProjectionLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly runner: ProjectionRunner,
    private readonly enabled: boolean,
  ) {}

  onApplicationBootstrap(): void {
    if (this.enabled) this.runner.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.runner.stop();
  }
}

@Global()
@Module({
  controllers: [ProjectionsController],
  providers: [
    {
      provide: ProjectionRunner,
      inject: [Database, EVENT_STORE, APP_CONFIG],
      useFactory: (database: Database, store: EventStore, config: AppConfig) => {
        const logger = new Logger('projections');
        return createProjectionRunner(database, store, (line) => logger.log(line), undefined, config.projectionStallSeconds);
      },
    },
    { provide: ProjectionReader, inject: [Database], useFactory: (database: Database) => new ProjectionReader(database.pool) },
    {
      provide: ProjectionOperations,
      inject: [ProjectionRunner, EVENT_STORE],
      useFactory: (runner: ProjectionRunner, store: EventStore) => createProjectionOperations({ runner, store }),
    },
    {
      provide: ProjectionLifecycle,
      inject: [ProjectionRunner, APP_CONFIG],
      useFactory: (runner: ProjectionRunner, config: AppConfig) => new ProjectionLifecycle(runner, config.projections !== 'off'),
    },
  ],
  exports: [ProjectionRunner, ProjectionReader],
})
export class ProjectionsModule {}
