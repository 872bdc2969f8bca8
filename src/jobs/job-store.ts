import type { Pool } from 'pg';
import type { ProblemDocument } from '../errors';

/**
 * Every query on the `jobs` table (migrations/008_jobs.sql), and nothing else: the table is the jobs' operational
 * state, owned by src/jobs (test/read-model-ownership.unit.test.ts keeps its SQL here).
 */

export const JOB_KINDS = ['settlement', 'close', 'verification'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'interrupted'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobProgress {
  done: number;
  total: number;
  phase: string;
}

export interface JobRow {
  id: string;
  kind: JobKind;
  epoch: number | null;
  work: string | null;
  state: JobState;
  progress: JobProgress | null;
  /** The result's JSON text as written (undefined when not read: listings). */
  result: string | null;
  /** A verification job's run, once it has one (listings too). */
  run_id: string | null;
  error: string | null;
  owner: string;
  /** Seconds since the owner's last heartbeat, by the database's clock (every process compares the same clock). */
  heartbeat_age: number;
  runs: number;
  actor: string;
  correlation_id: string;
  created_at: Date;
  updated_at: Date;
}

export interface NewJob {
  id: string;
  kind: JobKind;
  epoch: number | null;
  work: string | null;
  owner: string;
  actor: string;
  correlationId: string;
}

export interface JobFilter {
  kind?: JobKind;
  state?: JobState;
  epoch?: number;
  limit: number;
}

const ACTIVE = `state IN ('queued', 'running')`;
const COLUMNS = (result: boolean) =>
  `id::text AS id, kind, epoch, work, state, progress, ${result ? 'result::text AS result' : 'NULL AS result'}, result->>'runId' AS run_id, error::text AS error, owner,
   extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age, runs, actor, correlation_id, created_at, updated_at`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can name a job: a UUID (anything else is never one, and is not sent to PostgreSQL as one). */
export const isJobId = (id: string) => UUID.test(id);

export class JobStore {
  constructor(private readonly pool: Pool) {}

  /** Records a queued job, unless another job of the same work is queued or running: then nothing (undefined). */
  async insert(job: NewJob): Promise<JobRow | undefined> {
    const { rows } = await this.pool.query<JobRow>(
      `INSERT INTO jobs (id, kind, epoch, work, state, owner, actor, correlation_id)
       VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7)
       ON CONFLICT (work) WHERE ${ACTIVE} DO NOTHING
       RETURNING ${COLUMNS(true)}`,
      [job.id, job.kind, job.epoch, job.work, job.owner, job.actor, job.correlationId],
    );
    return rows[0];
  }

  /** The job of this work that is queued or running, if any. */
  async active(work: string): Promise<JobRow | undefined> {
    const { rows } = await this.pool.query<JobRow>(`SELECT ${COLUMNS(true)} FROM jobs WHERE work = $1 AND ${ACTIVE}`, [work]);
    return rows[0];
  }

  /** The most recent job of this work, whatever its state. */
  async latest(work: string): Promise<JobRow | undefined> {
    const { rows } = await this.pool.query<JobRow>(`SELECT ${COLUMNS(true)} FROM jobs WHERE work = $1 ORDER BY created_at DESC LIMIT 1`, [work]);
    return rows[0];
  }

  /**
   * Takes an interrupted job up again for `owner` (queued, one run more), unless another process did first or another
   * job of the same work is active (the unique index refuses the second: undefined).
   */
  async resume(id: string, owner: string): Promise<JobRow | undefined> {
    try {
      const { rows } = await this.pool.query<JobRow>(
        `UPDATE jobs SET state = 'queued', owner = $2, heartbeat_at = now(), runs = runs + 1, error = NULL, updated_at = now()
         WHERE id = $1 AND state = 'interrupted'
         RETURNING ${COLUMNS(true)}`,
        [id, owner],
      );
      return rows[0];
    } catch (error) {
      if ((error as { code?: string }).code === '23505') return undefined;
      throw error;
    }
  }

  async get(id: string): Promise<JobRow | undefined> {
    if (!isJobId(id)) return undefined;
    const { rows } = await this.pool.query<JobRow>(`SELECT ${COLUMNS(true)} FROM jobs WHERE id = $1`, [id]);
    return rows[0];
  }

  /** Most recent first, without their results. */
  async list(filter: JobFilter): Promise<JobRow[]> {
    const { rows } = await this.pool.query<JobRow>(
      `SELECT ${COLUMNS(false)} FROM jobs
       WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR state = $2) AND ($3::integer IS NULL OR epoch = $3)
       ORDER BY created_at DESC LIMIT $4`,
      [filter.kind ?? null, filter.state ?? null, filter.epoch ?? null, filter.limit],
    );
    return rows;
  }

  /** Every job queued or running, whoever runs it. */
  async allActive(): Promise<JobRow[]> {
    const { rows } = await this.pool.query<JobRow>(`SELECT ${COLUMNS(false)} FROM jobs WHERE ${ACTIVE}`);
    return rows;
  }

  /** The owner starts the work it queued. */
  async markRunning(id: string, owner: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE jobs SET state = 'running', heartbeat_at = now(), updated_at = now() WHERE id = $1 AND owner = $2 AND state = 'queued'`,
      [id, owner],
    );
    return rowCount === 1;
  }

  async writeProgress(id: string, owner: string, progress: JobProgress): Promise<void> {
    await this.pool.query(`UPDATE jobs SET progress = $3, heartbeat_at = now(), updated_at = now() WHERE id = $1 AND owner = $2 AND state = 'running'`, [
      id,
      owner,
      JSON.stringify(progress),
    ]);
  }

  /** The owner is alive and runs these jobs (only these: one whose outcome could not be written ages out). */
  async heartbeat(ids: readonly string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(`UPDATE jobs SET heartbeat_at = now() WHERE id = ANY($1::uuid[]) AND owner = $2 AND ${ACTIVE}`, [ids, owner]);
  }

  /** The owner's outcome: `result` as JSON text (succeeded) or the problem (failed); nothing if it is no longer the owner's. */
  async finish(
    id: string,
    owner: string,
    outcome: { state: 'succeeded'; result: string } | { state: 'failed'; error: ProblemDocument },
    progress: JobProgress | null,
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE jobs SET state = $3, result = $4::json, error = $5::json, progress = COALESCE($6::jsonb, progress), updated_at = now()
       WHERE id = $1 AND owner = $2 AND state = 'running'`,
      [
        id,
        owner,
        outcome.state,
        outcome.state === 'succeeded' ? outcome.result : null,
        outcome.state === 'failed' ? JSON.stringify(outcome.error) : null,
        progress === null ? null : JSON.stringify(progress),
      ],
    );
    return rowCount === 1;
  }

  /** Marks a job of `owner` interrupted, unless it finished or changed hands meanwhile. */
  async interrupt(id: string, owner: string, why: ProblemDocument): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE jobs SET state = 'interrupted', error = $3::json, updated_at = now() WHERE id = $1 AND owner = $2 AND ${ACTIVE}`,
      [id, owner, JSON.stringify(why)],
    );
    return rowCount === 1;
  }
}
