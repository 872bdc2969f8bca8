import { Controller, Get, Global, Logger, Module, Param, Query, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { reject } from '../../domain/rejection';
import { Roles } from '../auth/api-key.guard';
import { Database } from '../database/database';
import { ApiRead, type SchemaObject } from '../openapi/openapi';
import { IdParam, pageNumber } from '../requests/parameters';
import { isJobId, JOB_KINDS, JOB_STATES, JobService, type JobKind, type JobState, type JobView } from './jobs';

/** The answer of a route that starts a job (202): the job, and where to poll it. */
export function accepted(response: { setHeader(name: string, value: string): void }, job: JobView): JobView {
  response.setHeader('Location', job.links.self);
  return job;
}

/** A job, as `GET /jobs/{id}` and the routes that start one answer it (src/jobs/jobs.ts `JobView`). */
export const JOB_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['id', 'kind', 'state', 'runs', 'createdAt', 'updatedAt', 'links'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    kind: { type: 'string', enum: [...JOB_KINDS] },
    epoch: { type: 'integer' },
    state: { type: 'string', enum: [...JOB_STATES] },
    progress: {
      type: 'object',
      required: ['done', 'total', 'phase'],
      properties: { done: { type: 'integer' }, total: { type: 'integer' }, phase: { type: 'string' } },
    },
    result: { description: 'Once succeeded: exactly what the route answered before it answered with a job' },
    error: {
      allOf: [{ $ref: '#/components/schemas/Problem' }],
      description: 'Once failed: the problem the route would have answered; once interrupted: why',
    },
    runs: { type: 'integer', description: '1, and one more each time it was resumed after an interruption' },
    actor: { type: 'string' },
    correlationId: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    links: { type: 'object', additionalProperties: { type: 'string' }, description: '`self`, and the resource the work is about' },
  },
};

function oneOf<T extends string>(field: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) reject('invalid', field, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobService) {}

  /** Recent jobs, most recent first, without their results: `?kind=`, `?state=`, `?epoch=`, `?limit=` (up to 1000, default 50). */
  @Get()
  @Roles('operator', 'auditor')
  @ApiRead({ summary: 'Recent jobs (settlements, closes, verification runs), most recent first', answers: '{ jobs }: each without its result' })
  async list(@Query('kind') kind?: string, @Query('state') state?: string, @Query('epoch') epoch?: string, @Query('limit') limit?: string) {
    return {
      jobs: await this.jobs.list({
        kind: oneOf<JobKind>('kind', kind, JOB_KINDS),
        state: oneOf<JobState>('state', state, JOB_STATES),
        epoch: epoch === undefined ? undefined : pageNumber('epoch', epoch, 1, 1, 1_000_000_000),
        limit: pageNumber('limit', limit, 50, 1, 1000),
      }),
    };
  }

  /** A job: its state, progress, and once finished its result or its problem. */
  @Get(':id')
  @Roles('operator', 'auditor')
  @ApiRead({ summary: 'A job: state, progress, result or problem', answers: 'The job', errors: [404] })
  async get(@Param('id', IdParam) id: string) {
    if (!isJobId(id)) reject('invalid', 'id', 'must be a job id (a UUID)');
    const job = await this.jobs.get(id);
    if (!job) reject('not_found', 'id', `no job ${id}`);
    return job;
  }
}

/** At the engine's start, jobs whose owner is gone are marked interrupted; at its stop, its own running jobs are. */
class JobsLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('jobs');

  constructor(private readonly jobs: JobService) {}

  async onApplicationBootstrap(): Promise<void> {
    const interrupted = await this.jobs.interruptAbandoned();
    if (interrupted > 0) this.logger.log(`${interrupted} jobs whose process had ended were marked interrupted: POST again to resume them`);
  }

  async onModuleDestroy(): Promise<void> {
    await this.jobs.stop();
  }
}

@Global()
@Module({
  controllers: [JobsController],
  providers: [
    {
      provide: JobService,
      inject: [Database],
      useFactory: (database: Database) => {
        const logger = new Logger('jobs');
        return new JobService(database.pool, { role: 'engine', log: (line) => logger.error(line) });
      },
    },
    { provide: JobsLifecycle, inject: [JobService], useFactory: (jobs: JobService) => new JobsLifecycle(jobs) },
  ],
  exports: [JobService],
})
export class JobsModule {}
