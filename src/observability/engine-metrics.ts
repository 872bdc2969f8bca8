import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Problem } from '../../domain/rejection';
import type { ProjectionStatus } from '../projections/projection-runner';

export type TransactionKind = 'payout' | 'anchor' | 'distributor' | 'transfer' | 'clawback';
/** What the chain said of a settlement transaction: `succeeded` is counted as `confirmed`. */
export type TransactionStatus = 'succeeded' | 'confirmed' | 'failed' | 'expired';

const PROJECTION_STATUSES: readonly ProjectionStatus['status'][] = ['running', 'paused', 'failed', 'rebuilding'];
/** Accepted reports per second are averaged over this window for `synq_metric_reports_ingest_rate`. */
const RATE_WINDOW_SECONDS = 60;

/**
 * The engine's Prometheus metrics, in a registry of its own (tests run several engines in one process), with the
 * default Node.js metrics prefixed `synq_`. Served at `GET /metrics`. Every recording method is cheap and synchronous.
 */
export class EngineMetrics {
  readonly registry = new Registry();

  private readonly reportsAccepted: Counter;
  private readonly reportsDuplicate: Counter;
  private readonly reportsRefused: Counter<'reason'>;
  private readonly acceptedPerSecond = new SlidingWindow(RATE_WINDOW_SECONDS);
  private readonly appendDuration: Histogram<'operation' | 'outcome'>;
  private readonly eventsAppended: Counter;
  private readonly projectionPosition: Gauge<'projection'>;
  private readonly projectionLagEvents: Gauge<'projection'>;
  private readonly projectionLagSeconds: Gauge<'projection'>;
  private readonly projectionStatus: Gauge<'projection' | 'status'>;
  private readonly projectionStalled: Gauge<'projection'>;
  private readonly epochCloseDuration: Histogram<'outcome'>;
  private readonly epochCloseStageDuration: Histogram<'stage'>;
  private readonly settlementTransactions: Counter<'kind' | 'outcome'>;
  private readonly verificationRuns: Counter<'result'>;
  private readonly verificationDiscrepancies: Counter<'type'>;
  private readonly verificationLastRun: Gauge;
  private readonly unclaimedBaseUnits: Gauge<'epoch'>;
  private readonly unclaimedClaims: Gauge<'epoch'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'synq_' });

    this.reportsAccepted = new Counter({ name: 'synq_metric_reports_accepted_total', help: 'Signed metric reports accepted and recorded', registers });
    this.reportsDuplicate = new Counter({
      name: 'synq_metric_reports_duplicate_total',
      help: 'Metric reports already recorded with the same content (a retry: nothing written)',
      registers,
    });
    this.reportsRefused = new Counter({
      name: 'synq_metric_reports_refused_total',
      help: 'Metric reports refused, by reason (malformed, unknown_synqer, synqer_suspended, epoch_not_open, epoch_closed, late, outside_epoch, overlapping_period, bad_signature, conflicting_duplicate, contention)',
      labelNames: ['reason'],
      registers,
    });
    const window = this.acceptedPerSecond;
    new Gauge({
      name: 'synq_metric_reports_ingest_rate',
      help: `Metric reports accepted per second, averaged over the last ${RATE_WINDOW_SECONDS} seconds (rate() of synq_metric_reports_accepted_total says the same over any window)`,
      registers,
      collect() {
        this.set(window.sum() / RATE_WINDOW_SECONDS);
      },
    });

    this.appendDuration = new Histogram({
      name: 'synq_event_store_append_duration_seconds',
      help: 'Latency of event store appends: operation append (one stream) or append_many (many streams in one round trip); outcome ok or error',
      labelNames: ['operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.eventsAppended = new Counter({
      name: 'synq_event_store_events_appended_total',
      help: 'Events written to the event store (idempotent retries that wrote nothing are not counted)',
      registers,
    });

    this.projectionPosition = new Gauge({
      name: 'synq_projection_position',
      help: 'Global position of the last event each projection applied',
      labelNames: ['projection'],
      registers,
    });
    this.projectionLagEvents = new Gauge({
      name: 'synq_projection_lag_events',
      help: "Events recorded after each projection's position",
      labelNames: ['projection'],
      registers,
    });
    this.projectionLagSeconds = new Gauge({
      name: 'synq_projection_lag_seconds',
      help: 'Age of the oldest event each projection has not applied yet (0 when caught up)',
      labelNames: ['projection'],
      registers,
    });
    this.projectionStatus = new Gauge({
      name: 'synq_projection_status',
      help: "Each projection's status: 1 for the current one (running, paused, failed, rebuilding), 0 for the others",
      labelNames: ['projection', 'status'],
      registers,
    });
    this.projectionStalled = new Gauge({
      name: 'synq_projection_stalled',
      help: 'Each projection: 1 when it is behind the log, not paused, and has made no progress for SYNQ_PROJECTION_STALL_SECONDS, else 0',
      labelNames: ['projection'],
      registers,
    });

    this.epochCloseDuration = new Histogram({
      name: 'synq_epoch_close_duration_seconds',
      help: 'Duration of epoch closes (EpochClosed, rewards, distribution), by outcome completed or failed',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.epochCloseStageDuration = new Histogram({
      name: 'synq_epoch_close_stage_duration_seconds',
      help: 'Duration of each step of an epoch close: closed, rewards_calculated, distribution_built',
      labelNames: ['stage'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });

    this.settlementTransactions = new Counter({
      name: 'synq_settlement_transactions_total',
      help: 'Settlement transactions resolved on chain, by kind (payout, distributor, anchor, transfer, clawback) and outcome (confirmed, failed, expired)',
      labelNames: ['kind', 'outcome'],
      registers,
    });

    this.verificationRuns = new Counter({
      name: 'synq_verification_runs_total',
      help: 'Replay-verification runs recorded, by result (clean or discrepancies)',
      labelNames: ['result'],
      registers,
    });
    this.verificationDiscrepancies = new Counter({
      name: 'synq_verification_discrepancies_total',
      help: 'Discrepancies found by replay-verification runs, by type',
      labelNames: ['type'],
      registers,
    });
    this.verificationLastRun = new Gauge({
      name: 'synq_verification_last_run_discrepancies',
      help: 'Discrepancies found by the last replay-verification run of this engine',
      registers,
    });

    this.unclaimedBaseUnits = new Gauge({
      name: 'synq_unclaimed_base_units',
      help: "Base units of a web3 epoch's leaves not claimed yet (no ClaimStatus on chain), as last listed (GET /epochs/{n}/unclaimed) or 0 once clawed back",
      labelNames: ['epoch'],
      registers,
    });
    this.unclaimedClaims = new Gauge({
      name: 'synq_unclaimed_claims',
      help: 'Leaves of a web3 epoch not claimed yet, as last listed (GET /epochs/{n}/unclaimed) or 0 once clawed back',
      labelNames: ['epoch'],
      registers,
    });

    this.httpRequests = new Counter({
      name: 'synq_http_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'synq_http_request_duration_seconds',
      help: 'HTTP request durations, by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** One batch's outcomes, as the command handler answers them. */
  reportOutcomes(outcomes: readonly ({ status: 'accepted' | 'duplicate' } | { status: 'refused'; problems: readonly Problem[] } | undefined)[]): void {
    let accepted = 0;
    let duplicate = 0;
    for (const outcome of outcomes) {
      if (!outcome) continue;
      if (outcome.status === 'refused') this.reportsRefused.inc({ reason: refusalReason(outcome.problems[0]) });
      else if (outcome.status === 'accepted') accepted++;
      else duplicate++;
    }
    if (accepted > 0) {
      this.reportsAccepted.inc(accepted);
      this.acceptedPerSecond.add(accepted);
    }
    if (duplicate > 0) this.reportsDuplicate.inc(duplicate);
  }

  /** Starts timing an append; the returned function records it (events: how many were written). */
  startAppend(operation: 'append' | 'append_many'): (outcome: 'ok' | 'error', events: number) => void {
    const end = this.appendDuration.startTimer({ operation });
    return (outcome, events) => {
      end({ outcome });
      if (events > 0) this.eventsAppended.inc(events);
    };
  }

  /** Sets the projection gauges from the runner's status (on each scrape). */
  observeProjections(statuses: readonly ProjectionStatus[]): void {
    this.clearProjections();
    for (const status of statuses) {
      const projection = status.name;
      this.projectionPosition.set({ projection }, Number(status.position));
      this.projectionLagEvents.set({ projection }, Number(status.lagEvents));
      this.projectionLagSeconds.set({ projection }, status.lagSeconds);
      for (const candidate of PROJECTION_STATUSES) this.projectionStatus.set({ projection, status: candidate }, candidate === status.status ? 1 : 0);
      this.projectionStalled.set({ projection }, status.stalled ? 1 : 0);
    }
  }

  /** The projections' status could not be read: their gauges are left out rather than stale. */
  clearProjections(): void {
    this.projectionPosition.reset();
    this.projectionLagEvents.reset();
    this.projectionLagSeconds.reset();
    this.projectionStatus.reset();
    this.projectionStalled.reset();
  }

  /** Starts timing an epoch close; `step` records each stage as it is reached, `end` the whole close. */
  startEpochClose(): { step: (stage: string) => void; end: (outcome: 'completed' | 'failed') => void } {
    const end = this.epochCloseDuration.startTimer();
    let stageStarted = process.hrtime.bigint();
    return {
      step: (stage) => {
        const now = process.hrtime.bigint();
        this.epochCloseStageDuration.observe({ stage }, Number(now - stageStarted) / 1e9);
        stageStarted = now;
      },
      end: (outcome) => {
        end({ outcome });
      },
    };
  }

  settlementTransaction(kind: TransactionKind, status: TransactionStatus): void {
    this.settlementTransactions.inc({ kind, outcome: status === 'succeeded' ? 'confirmed' : status });
  }

  /** An epoch's unclaimed leaves, set after each listing and after its clawback (0). */
  unclaimed(epoch: number, claims: number, baseUnits: bigint): void {
    this.unclaimedClaims.set({ epoch: String(epoch) }, claims);
    this.unclaimedBaseUnits.set({ epoch: String(epoch) }, Number(baseUnits));
  }

  verificationRun(run: { discrepancyCount: number; byType: Partial<Record<string, number>> }): void {
    this.verificationRuns.inc({ result: run.discrepancyCount > 0 ? 'discrepancies' : 'clean' });
    for (const [type, count] of Object.entries(run.byType)) if (count) this.verificationDiscrepancies.inc({ type }, count);
    this.verificationLastRun.set(run.discrepancyCount);
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }
}

/**
 * A bounded `reason` label for a refused report, from the problem the command side answered with (the texts are
 * domain/metric-report.ts's and src/metric-reports/metric-reports.ts's; test/observability.test.ts checks the common ones).
 */
export function refusalReason(problem: Problem | undefined): string {
  if (!problem) return 'malformed';
  const { field, reason } = problem;
  // A report id reused with other content: the problem names the field that differs (domain/rejection.ts repeatsRecorded).
  if (/^report .* is already recorded with /.test(reason)) return 'conflicting_duplicate';
  switch (field) {
    case 'signature':
      return /not a valid signature/.test(reason) ? 'bad_signature' : 'malformed';
    case 'synqerId':
      if (reason.startsWith('no synqer')) return 'unknown_synqer';
      return /suspended/.test(reason) ? 'synqer_suspended' : 'malformed';
    case 'epoch':
      if (/closed before this report was recorded/.test(reason)) return 'late';
      if (/is not open$/.test(reason)) return 'epoch_not_open';
      return /is closed$/.test(reason) ? 'epoch_closed' : 'malformed';
    case 'periodStart':
      if (/must lie inside epoch/.test(reason)) return 'outside_epoch';
      return /overlaps the period/.test(reason) ? 'overlapping_period' : 'malformed';
    case 'reportId':
      if (/already recorded with other content/.test(reason)) return 'conflicting_duplicate';
      return /kept changing/.test(reason) ? 'contention' : 'malformed';
    default:
      return 'malformed';
  }
}

/** Counts per second over the last `seconds` seconds, in a ring of one slot per second. */
class SlidingWindow {
  private readonly counts: Float64Array;
  private readonly at: Float64Array;

  constructor(private readonly seconds: number) {
    this.counts = new Float64Array(seconds);
    this.at = new Float64Array(seconds).fill(-1);
  }

  add(count: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const slot = second % this.seconds;
    if (this.at[slot] !== second) {
      this.at[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot] += count;
  }

  sum(now = Date.now()): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let slot = 0; slot < this.seconds; slot++) if (this.at[slot] > second - this.seconds && this.at[slot] <= second) total += this.counts[slot];
    return total;
  }
}
