import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import { problemDocument, problemOf, type ProblemDocument } from '../errors';
import { JobStore, type JobFilter, type JobKind, type JobProgress, type JobRow, type JobState } from './job-store';

/**
 * Long work as a job (issue 17 item 8): a settlement, an epoch's close and a verification run are started by a POST
 * that answers 202 at once with the job, run in the background by the process that took the POST, and polled
 * (`GET /jobs/{id}`) by whoever asked: the operator, the command line, the dashboard. The work itself is what the route
 * did before, unchanged: resumable and idempotent, recorded in events; a job only says who runs it, how far it has come
 * and what it answered (the `jobs` table, src/jobs/job-store.ts).
 *
 * - One job per piece of work (`work`: 'settlement:5', 'close:5'): while one is queued or running, asking again answers
 *   the same job, whichever engine process is asked (a unique index decides, not a lock in memory).
 * - The process running a job is its owner and beats a heartbeat into it; a job whose owner is gone (no heartbeat for
 *   `staleSeconds`, or a process of this host that no longer exists) is marked `interrupted`, at an engine's start and
 *   whenever it is read. Asking again resumes it, in place: the same job runs once more.
 */

export type { JobKind, JobProgress, JobState } from './job-store';
export { JOB_KINDS, JOB_STATES, isJobId } from './job-store';

/** A job as the API answers it. */
export interface JobView {
  id: string;
  kind: JobKind;
  epoch?: number;
  state: JobState;
  progress?: JobProgress;
  /** Exactly what the route answered before jobs (succeeded only). */
  result?: unknown;
  /** The problem+json the route would have answered (failed), or why the job stopped (interrupted). */
  error?: ProblemDocument;
  /** 1, and one more for each time it was resumed after an interruption. */
  runs: number;
  actor: string;
  correlationId: string;
  createdAt: string;
  updatedAt: string;
  links: Record<string, string>;
}

export const isFinished = (state: JobState) => state === 'succeeded' || state === 'failed' || state === 'interrupted';

/** What the work is told: where to report how far it has come. */
export interface RunningJob {
  id: string;
  /** `done` of `total` in `phase`; written to the job at most four times a second. */
  progress(done: number, total: number, phase: string): void;
}

export interface JobRequest {
  kind: JobKind;
  epoch?: number;
  /** The piece of work, shared by every request for it; absent: a job of its own. */
  work?: string;
  actor: string;
  correlationId: string;
}

export interface JobServiceOptions {
  /** Who this process is: `engine` or `cli`, then host, pid and a random tag. */
  role: 'engine' | 'cli';
  /** Where errors of the work that are not refusals (500s) and lost writes are reported. */
  log?: (line: string) => void;
  /** Seconds between heartbeats (default 2). */
  heartbeatSeconds?: number;
  /** A job whose owner has not beaten for this long is interrupted (default 30). */
  staleSeconds?: number;
}

/** At most four progress writes a second per job: the work may report on every transaction. */
const PROGRESS_INTERVAL_MS = 250;

interface Running {
  id: string;
  progress: JobProgress | null;
  written: JobProgress | null;
  lastWrite: number;
  /** The work is done: its outcome, with the last progress, is being written. */
  finishing?: boolean;
  timer?: NodeJS.Timeout;
  writing?: Promise<void>;
  done: Promise<void>;
  listeners: Set<(progress: JobProgress) => void>;
}

export class JobService {
  readonly owner: string;
  private readonly store: JobStore;
  private readonly running = new Map<string, Running>();
  private readonly log: (line: string) => void;
  private readonly heartbeatMs: number;
  private readonly staleSeconds: number;
  private heartbeat?: NodeJS.Timeout;
  private stopped = false;

  constructor(pool: Pool, options: JobServiceOptions) {
    this.store = new JobStore(pool);
    this.owner = `${options.role}:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.log = options.log ?? (() => undefined);
    this.heartbeatMs = (options.heartbeatSeconds ?? 2) * 1000;
    this.staleSeconds = options.staleSeconds ?? 30;
  }

  /**
   * Starts `work` as a job, or answers the job already queued or running for the same work (its own work is then not
   * run). An interrupted job of the same work is resumed in place. Answers at once, before the work is done.
   */
  async start(request: JobRequest, work: (job: RunningJob) => Promise<unknown>): Promise<JobView> {
    if (this.stopped) throw new Error('the job service is stopped');
    // Each pass either returns or sees another process's write win a race; a handful of passes settles it.
    for (let pass = 0; pass < 20; pass++) {
      if (request.work !== undefined) {
        const active = await this.store.active(request.work);
        if (active) {
          if (!(await this.interruptIfOwnerGone(active))) return viewOf(active);
          continue;
        }
        const latest = await this.store.latest(request.work);
        if (latest?.state === 'interrupted') {
          const resumed = await this.store.resume(latest.id, this.owner);
          if (resumed) return this.run(resumed, work);
          continue;
        }
      }
      const inserted = await this.store.insert({
        id: randomUUID(),
        kind: request.kind,
        epoch: request.epoch ?? null,
        work: request.work ?? null,
        owner: this.owner,
        actor: request.actor,
        correlationId: request.correlationId,
      });
      if (inserted) return this.run(inserted, work);
    }
    throw new Error(`could not start or find the job of ${request.work}`);
  }

  /** Whether this process runs the job (else it is followed by polling). */
  runsHere(id: string): boolean {
    return this.running.has(id);
  }

  /** The job, its owner checked: one whose owner is gone is answered (and recorded) interrupted. */
  async get(id: string): Promise<JobView | undefined> {
    const row = await this.store.get(id);
    if (!row) return undefined;
    if (await this.interruptIfOwnerGone(row)) return this.get(id);
    return viewOf(row);
  }

  /** Most recent first, without results (`GET /jobs/{id}` has it). */
  async list(filter: JobFilter): Promise<JobView[]> {
    const rows = await this.store.list(filter);
    let changed = false;
    for (const row of rows) changed = (await this.interruptIfOwnerGone(row)) || changed;
    return (changed ? await this.store.list(filter) : rows).map(viewOf);
  }

  /**
   * Resolves with the job once it has finished (succeeded, failed or interrupted). `onProgress` sees its progress: every
   * report of a job this process runs, or what a poll of the table finds for another process's.
   */
  async outcome(id: string, onProgress?: (progress: JobProgress) => void, pollMs = 250): Promise<JobView> {
    const mine = this.running.get(id);
    if (mine) {
      if (onProgress) mine.listeners.add(onProgress);
      try {
        await mine.done;
      } finally {
        if (onProgress) mine.listeners.delete(onProgress);
      }
    }
    let seen = '';
    for (;;) {
      const view = await this.get(id);
      if (!view) throw new Error(`no job ${id}`);
      if (view.progress && onProgress && JSON.stringify(view.progress) !== seen) {
        seen = JSON.stringify(view.progress);
        onProgress(view.progress);
      }
      if (isFinished(view.state)) return view;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** An engine's start: every queued or running job whose owner is gone is marked interrupted. How many were. */
  async interruptAbandoned(): Promise<number> {
    let count = 0;
    for (const row of await this.store.allActive()) if (await this.interruptIfOwnerGone(row)) count++;
    return count;
  }

  /**
   * Stops beating: the jobs this process still runs are marked interrupted (a POST resumes them, here or in another
   * process), and what their work does from now on is not recorded as their outcome.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    for (const job of this.running.values()) {
      clearTimeout(job.timer);
      await this.store
        .interrupt(
          job.id,
          this.owner,
          problemDocument(503, `the process running this job (${this.owner}) stopped before the work was done; ask again to resume it`),
        )
        .catch(() => undefined);
    }
    this.running.clear();
  }

  private run(row: JobRow, work: (job: RunningJob) => Promise<unknown>): JobView {
    let finished!: () => void;
    const job: Running = {
      id: row.id,
      progress: null,
      written: null,
      lastWrite: 0,
      listeners: new Set(),
      done: new Promise<void>((resolve) => (finished = resolve)),
    };
    this.running.set(row.id, job);
    this.beat();
    const handle: RunningJob = { id: row.id, progress: (done, total, phase) => this.report(job, { done, total, phase }) };
    // Started after the answer: the request that asked is not held by the work.
    setImmediate(() => {
      void this.execute(job, handle, work).finally(() => {
        if (this.running.get(job.id) === job) this.running.delete(job.id);
        if (this.running.size === 0) this.quiet();
        finished();
      });
    });
    return viewOf(row);
  }

  private async execute(job: Running, handle: RunningJob, work: (job: RunningJob) => Promise<unknown>): Promise<void> {
    try {
      if (!(await this.store.markRunning(job.id, this.owner))) return;
    } catch (error) {
      this.log(`job ${job.id}: could not start: ${(error as Error).message}`);
      return;
    }
    let outcome: { state: 'succeeded'; result: string } | { state: 'failed'; error: ProblemDocument };
    try {
      const result = await work(handle);
      // The route's answer as the route would have written it (Nest writes JSON.stringify's text).
      outcome = { state: 'succeeded', result: JSON.stringify(result ?? null) };
    } catch (error) {
      const problem = problemOf(error);
      if (problem.status >= 500 && !this.stopped) this.log(`job ${job.id} failed: ${(error as Error)?.stack ?? String(error)}`);
      outcome = { state: 'failed', error: problem };
    }
    job.finishing = true;
    clearTimeout(job.timer);
    await job.writing;
    if (this.stopped) return;
    try {
      await this.store.finish(job.id, this.owner, outcome, job.progress);
    } catch (error) {
      // The outcome is lost, not the work: the job is interrupted once its heartbeat is old, and a POST answers again.
      this.log(`job ${job.id}: could not record its outcome: ${(error as Error).message}`);
    }
  }

  /** Keeps the latest report; writes it now, or when a quarter second has passed since the last write. */
  private report(job: Running, progress: JobProgress): void {
    if (job.finishing) return;
    job.progress = progress;
    for (const listener of job.listeners) listener(progress);
    this.schedule(job);
  }

  private schedule(job: Running): void {
    if (job.finishing || job.timer || job.writing) return;
    const wait = Math.max(0, job.lastWrite + PROGRESS_INTERVAL_MS - Date.now());
    job.timer = setTimeout(() => {
      job.timer = undefined;
      this.writeProgress(job);
    }, wait);
  }

  private writeProgress(job: Running): void {
    const progress = job.progress;
    if (this.stopped || progress === null || progress === job.written) return;
    job.lastWrite = Date.now();
    job.writing = this.store
      .writeProgress(job.id, this.owner, progress)
      .then(() => {
        job.written = progress;
      })
      .catch((error: unknown) => this.log(`job ${job.id}: progress not written: ${(error as Error).message}`))
      .finally(() => {
        job.writing = undefined;
        if (job.progress !== job.written) this.schedule(job);
      });
  }

  private beat(): void {
    this.heartbeat ??= setInterval(() => {
      this.store
        .heartbeat([...this.running.keys()], this.owner)
        .catch((error: unknown) => this.log(`jobs: heartbeat not written: ${(error as Error).message}`));
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private quiet(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Marks the job interrupted when it is queued or running and its owner is gone; whether it did. */
  private async interruptIfOwnerGone(row: JobRow): Promise<boolean> {
    if (isFinished(row.state)) return false;
    const ended = row.owner !== this.owner && processGone(row.owner);
    if (!ended && row.heartbeat_age <= this.staleSeconds) return false;
    const why = ended
      ? `the process running this job (${row.owner}) ended before the work was done`
      : `the process running this job (${row.owner}) has not been heard of for ${Math.round(row.heartbeat_age)} s`;
    return this.store.interrupt(row.id, row.owner, problemDocument(503, `${why}; ask again to resume it`));
  }
}

/** An owner on this host whose process no longer exists (another host's owners are judged by their heartbeat alone). */
function processGone(owner: string): boolean {
  const parts = owner.split(':');
  const [host, pid] = [parts.at(-3), Number(parts.at(-2))];
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as { code?: string }).code === 'ESRCH';
  }
}

/** The links of a job: itself, and the resource its work is about. */
function linksOf(row: JobRow): Record<string, string> {
  const links: Record<string, string> = { self: `/jobs/${row.id}` };
  if (row.kind === 'settlement' && row.epoch !== null) links.settlement = `/epochs/${row.epoch}/settlement`;
  if (row.kind === 'close' && row.epoch !== null) links.epoch = `/epochs/${row.epoch}`;
  if (row.kind === 'verification' && row.run_id !== null) links.run = `/verification/runs/${row.run_id}`;
  return links;
}

export function viewOf(row: JobRow): JobView {
  const result = row.result === null ? undefined : (JSON.parse(row.result) as unknown);
  return {
    id: row.id,
    kind: row.kind,
    ...(row.epoch === null ? {} : { epoch: row.epoch }),
    state: row.state,
    ...(row.progress === null ? {} : { progress: row.progress }),
    ...(result === undefined ? {} : { result }),
    ...(row.error === null ? {} : { error: JSON.parse(row.error) as ProblemDocument }),
    runs: row.runs,
    actor: row.actor,
    correlationId: row.correlation_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    links: linksOf(row),
  };
}
