import { Body, Controller, HttpCode, Inject, Module, Optional, Post, Req } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import * as reports from '../../domain/metric-report';
import { networkDecider, type EpochInfo, type NetworkState } from '../../domain/network';
import { CommandRejected, reject, type Problem } from '../../domain/rejection';
import type { SynqerState } from '../../domain/synqer';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { deterministicId, FoldedStreamCache, loadLatest, toEnvelopes, type CommandMetadata } from '../commands/streams';
import { SignatureVerifier } from '../commands/signature-verifier';
import { KeyedQueue } from '../commands/keyed-queue';
import { verifyEd25519 } from '../commands/ed25519';
import { EVENT_STORE, type EventStore, type EventToAppend } from '../event-store/event-store';
import { WrongExpectedRevisionError } from '../event-store/errors';
import { commandMetadata } from '../requests/request-metadata';
import { SynqerDirectory } from '../synqers/synqer-directory';
import { EngineMetrics } from '../observability/engine-metrics';
import { APP_CONFIG, type AppConfig } from '../config/config';

export const MAX_REPORTS_PER_BATCH = 5_000;

/** Streams of reports whose folded states the command side keeps between batches (least recently used go first). */
export const CACHED_REPORT_STREAMS = 50_000;
/**
 * Reports those states may hold in all: a state keeps every report of its synqer's epoch, about 400 bytes each in
 * bench/soak's heap snapshots, so some 800 MB at most (50,000 streams of a week of minute reports would be 200 GB).
 */
export const CACHED_REPORTS = 2_000_000;

export type ReportOutcome =
  | { index: number; reportId: string | null; status: 'accepted' | 'duplicate' }
  | { index: number; reportId: string | null; status: 'refused'; problems: Problem[] };

/** What every report of a batch is decided with besides its synqer and epoch: its signatures' answers and the clock. */
type BatchContext = Pick<reports.ReportContext, 'verify' | 'now' | 'clockSkewSeconds'>;

/** What one stream's append recorded: checked against the epoch's cut-off once the batch is done. */
interface Appended {
  stream: string;
  epoch: number;
  synqerId: string;
  /** The reporting key the reports were verified with. */
  reportingKey: string | undefined;
  position: bigint;
  accepted: { index: number; reportId: string }[];
}

export class SubmitMetricReports {
  constructor(
    readonly items: unknown[],
    readonly metadata: CommandMetadata,
  ) {}
}

/**
 * A batch answers per item. Valid reports are stored even when others are refused; reports of one synqer and epoch
 * are decided in order against their stream and appended together at its exact revision; a retry of the whole batch
 * finds its reports already there (duplicate) and writes nothing.
 */
@CommandHandler(SubmitMetricReports)
export class SubmitMetricReportsHandler implements ICommandHandler<SubmitMetricReports> {
  private readonly streams = new FoldedStreamCache(reports.metricReportsDecider, CACHED_REPORT_STREAMS, {
    weigh: (state) => state.reports.size + state.voided.size,
    maxWeight: CACHED_REPORTS,
  });
  /** The ledger and its closed epochs as last seen: their streams are dropped from `streams` when another closes. */
  private ledgerSeen: NetworkState | undefined;
  private closedSeen = 0;
  /** In this process one batch decides and appends at a time (its signatures are checked before it waits). */
  private readonly oneBatchAtATime = new KeyedQueue();
  /** How far past the engine's clock a report's period may end (SYNQ_REPORT_CLOCK_SKEW_SECONDS). */
  private readonly clockSkewSeconds: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly signatures: SignatureVerifier,
    private readonly directory: SynqerDirectory,
    @Optional() private readonly metrics?: EngineMetrics,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    this.clockSkewSeconds = config?.reportClockSkewSeconds ?? reports.REPORT_CLOCK_SKEW_SECONDS;
  }

  async execute({ items, metadata }: SubmitMetricReports): Promise<ReportOutcome[]> {
    const outcomes: ReportOutcome[] = new Array(items.length);
    const groups = new Map<string, { index: number; report: reports.MetricReport }[]>();
    items.forEach((item, index) => {
      const reportId = typeof (item as { reportId?: unknown })?.reportId === 'string' ? (item as { reportId: string }).reportId : null;
      try {
        if (typeof item !== 'object' || item === null || Array.isArray(item)) reject('invalid', `reports[${index}]`, 'must be an object');
        const report = reports.parseMetricReport(item as Record<string, unknown>);
        const stream = reports.metricsStream(report.synqerId, report.epoch);
        const group = groups.get(stream);
        if (group) group.push({ index, report });
        else groups.set(stream, [{ index, report }]);
      } catch (error) {
        outcomes[index] = refusal(index, reportId, error);
      }
    });

    const ledger = await loadLatest(this.store, networkDecider);
    this.forgetClosedEpochs(ledger);
    const synqers = await this.directory.current();
    const verify = await this.verifySignatures([...groups.values()].flat(), synqers);
    await this.oneBatchAtATime.run('batch', async () => {
      // The clock is read once the batch's turn comes: no period may end later than now plus the allowance.
      const context = { verify, now: Math.floor(Date.now() / 1000), clockSkewSeconds: this.clockSkewSeconds };
      const appended = await this.decideAndAppend(groups, synqers, ledger.epochs, context, metadata, outcomes);
      if (appended.length > 0) await this.voidLateReports(appended, metadata, outcomes);
    });
    // Accepted, duplicate, and refused by reason: synq_metric_reports_*.
    this.metrics?.reportOutcomes(outcomes);
    return outcomes;
  }

  /** Streams whose folded states are kept now, and the reports they hold (for tests and bench/soak). */
  get cached(): { streams: number; reports: number } {
    return { streams: this.streams.size, reports: this.streams.totalWeight };
  }

  /**
   * A closed epoch's streams take no report again (a late one is refused, a repeat is read from the log): their states
   * are dropped once the close is seen, instead of staying until 50,000 other streams push them out (bench/soak: the
   * heap grew by every report accepted, about 400 bytes each: 3 MB a minute at 144 reports/s, 10 at 400).
   */
  private forgetClosedEpochs(ledger: NetworkState): void {
    if (ledger === this.ledgerSeen) return;
    this.ledgerSeen = ledger;
    const closed = new Set<number>();
    for (const info of ledger.epochs.values()) if (info.status === 'closed') closed.add(info.epoch);
    if (closed.size === this.closedSeen) return;
    this.closedSeen = closed.size;
    this.streams.deleteWhere((stream) => closed.has(epochOfStream(stream)));
  }

  /**
   * Decides every stream's group against its folded state, then appends all of them in one round trip, each at the
   * exact revision it was decided on. A stream another writer changed meanwhile is folded and decided again.
   */
  private async decideAndAppend(
    groups: Map<string, { index: number; report: reports.MetricReport }[]>,
    synqers: ReadonlyMap<string, SynqerState | undefined>,
    epochs: Map<number, EpochInfo>,
    context: BatchContext,
    metadata: CommandMetadata,
    outcomes: ReportOutcome[],
  ): Promise<Appended[]> {
    const appended: Appended[] = [];
    let pending = [...groups.entries()];
    for (let attempt = 1; attempt <= 5 && pending.length > 0; attempt++) {
      const decisions = await Promise.all(
        pending.map(async ([stream, group]) => {
          const { synqerId, epoch } = group[0].report;
          const folded = await this.streams.load(this.store, { synqerId, epoch });
          return {
            stream,
            group,
            folded,
            ...this.decideGroup(stream, group, folded.state, synqers.get(synqerId), epochs.get(epoch), context, metadata, outcomes),
          };
        }),
      );
      const writes = decisions.filter((decision) => decision.events.length > 0);
      // Deciding extended the cached states in place: until the append answers, none of them can be trusted.
      for (const { stream } of writes) this.streams.delete(stream);
      const results = await this.store.appendMany(writes.map(({ stream, events, folded }) => ({ stream, events, expectedRevision: folded.revision })));
      pending = [];
      writes.forEach((write, i) => {
        const result = results[i];
        if (result instanceof WrongExpectedRevisionError) {
          pending.push([write.stream, write.group]);
        } else if (result instanceof Error) {
          throw result;
        } else {
          this.streams.set(write.stream, write.state, result.nextExpectedRevision);
          const { epoch, synqerId } = write.group[0].report;
          appended.push({
            stream: write.stream,
            epoch,
            synqerId,
            reportingKey: synqers.get(synqerId)?.reportingKey,
            position: result.position,
            accepted: write.accepted,
          });
        }
      });
    }
    for (const [, group] of pending) {
      for (const { index, report } of group) {
        outcomes[index] = { index, reportId: report.reportId, status: 'refused', problems: [{ field: 'reportId', reason: 'the stream kept changing; retry' }] };
      }
    }
    return appended;
  }

  /** Decides one stream's reports in order; outcomes are written as decided (a retry overwrites them). */
  private decideGroup(
    stream: string,
    group: { index: number; report: reports.MetricReport }[],
    initial: reports.MetricReportsState,
    synqer: SynqerState | undefined,
    epoch: EpochInfo | undefined,
    context: BatchContext,
    metadata: CommandMetadata,
    outcomes: ReportOutcome[],
  ): { events: EventToAppend[]; accepted: { index: number; reportId: string }[]; state: reports.MetricReportsState } {
    let state = initial;
    const events: EventToAppend[] = [];
    // One metadata object for the group's events (each is written as its own JSON all the same).
    const eventMetadata = { actor: metadata.actor, correlationId: metadata.correlationId, causationId: metadata.commandId };
    const accepted: { index: number; reportId: string }[] = [];
    for (const { index, report } of group) {
      try {
        const acceptedEvents = reports.metricReportsDecider.decide({ type: 'AcceptReport', data: { report, context: { ...context, synqer, epoch } } }, state);
        outcomes[index] = { index, reportId: report.reportId, status: acceptedEvents.length > 0 ? 'accepted' : 'duplicate' };
        if (acceptedEvents.length > 0) accepted.push({ index, reportId: report.reportId });
        for (const event of acceptedEvents) {
          state = reports.metricReportsDecider.evolve(state, event);
          events.push({
            id: deterministicId(`${stream}\n${report.reportId}`),
            type: event.type,
            // Made by this decision for this event alone: appended as it is, not copied.
            data: event.data as unknown as EventToAppend['data'],
            metadata: eventMetadata,
          });
        }
      } catch (error) {
        outcomes[index] = refusal(index, report.reportId, error);
      }
    }
    return { events, accepted, state };
  }

  /**
   * Checks the whole batch's signatures on the worker threads first; the decision then looks its answer up (and
   * verifies inline anything it was not asked about, e.g. a key that changed meanwhile).
   */
  private async verifySignatures(
    items: { report: reports.MetricReport }[],
    synqers: ReadonlyMap<string, SynqerState | undefined>,
  ): Promise<reports.ReportContext['verify']> {
    const checks = items.flatMap(({ report }) => {
      const synqer = synqers.get(report.synqerId);
      if (!synqer) return [];
      return [{ message: reports.canonicalReportBytes(report), signature: report.signature, publicKey: synqer.reportingKey }];
    });
    const results = await this.signatures.verifyMany(checks);
    const verified = new Map<string, { publicKey: string; message: Uint8Array; valid: boolean }>();
    checks.forEach((check, i) => verified.set(check.signature, { publicKey: check.publicKey, message: check.message, valid: results[i] }));
    return (message, signature, publicKey) => {
      const answer = verified.get(signature);
      // The report's bytes are made once per report, so the same array comes back here unless something changed.
      const same = answer !== undefined && answer.publicKey === publicKey && (answer.message === message || Buffer.compare(answer.message, message) === 0);
      return same ? answer.valid : verifyEd25519(message, signature, publicKey);
    };
  }

  /**
   * An epoch may have closed while this batch was decided: reports recorded after its cut-off (its EpochClosed's
   * position) are voided and refused. Positions commit out of order, so the store's watermark is waited for first:
   * every append with a lower position, an EpochClosed among them, is then committed and read with the ledger.
   */
  private async voidLateReports(appended: Appended[], metadata: CommandMetadata, outcomes: ReportOutcome[]): Promise<void> {
    await this.store.lastPosition();
    const ledger = await loadLatest(this.store, networkDecider);
    // Likewise a reporting key rotated while the batch was decided: reports recorded after the rotation were verified
    // with the key it replaced, and the books never count them (domain/epoch-books.ts signedByKeyInForce).
    await this.directory.current();
    for (const { stream, epoch, synqerId, reportingKey, position, accepted } of appended) {
      const info = ledger.epochs.get(epoch);
      // Appended as its epoch closed: nothing extends this stream again (forgetClosedEpochs may have run before the append).
      if (info?.status === 'closed') this.streams.delete(stream);
      const late = info && info.status === 'closed' && info.cutOffPosition !== undefined && position > info.cutOffPosition;
      const retired = !late && this.directory.keyAt(synqerId, position) !== reportingKey;
      if (!late && !retired) continue;
      const reportIds = accepted.map((a) => a.reportId);
      const events = late ? reports.voidLateReports(reportIds, info) : reports.voidReportsOfRetiredKey(reportIds, synqerId);
      this.streams.delete(stream);
      await this.store.append(stream, toEnvelopes(stream, events, { ...metadata, commandId: `void:${events.map((e) => e.data.reportId).join(',')}` }));
      for (const { index, reportId } of accepted) {
        outcomes[index] = { index, reportId, status: 'refused', problems: [{ field: late ? 'epoch' : 'signature', reason: events[0].data.reason }] };
      }
    }
  }
}

/** The epoch of a `metrics-<synqerId>-<epoch>` stream (reports.metricsStream): its last part. */
function epochOfStream(stream: string): number {
  return Number(stream.slice(stream.lastIndexOf('-') + 1));
}

function refusal(index: number, reportId: string | null, error: unknown): ReportOutcome {
  if (!(error instanceof CommandRejected)) throw error;
  return { index, reportId, status: 'refused', problems: error.problems };
}

@Controller('metric-reports')
export class MetricReportsController {
  constructor(private readonly commands: CommandBus) {}

  /** `{ "reports": [...] }`, up to 5,000: answers 200 with one outcome per report, in order. */
  @Post()
  @HttpCode(200)
  @Roles('ingest')
  @ApiCommand({
    summary: 'Submit signed metric reports, 1 to 5000',
    body: Schema.object({
      reports: {
        type: 'array',
        minItems: 1,
        maxItems: 5000,
        items: Schema.object({
          reportId: Schema.id(),
          synqerId: Schema.id(),
          epoch: Schema.integer(1, 1_000_000_000),
          periodStart: Schema.instant(),
          periodEnd: Schema.instant('After periodStart'),
          bytes: Schema.amount({ allowZero: true }),
          sessions: Schema.integer(0, 1_000_000_000),
          uptimeSeconds: Schema.integer(0, 1_000_000_000, "At most the period's length"),
          qosBps: Schema.integer(0, 10_000),
          signature: { type: 'string', minLength: 1, description: 'ed25519 over the canonical text (docs/api.md), base58' },
        }),
      },
    }),
    status: 200,
    answers: 'accepted, duplicate and refused counts, and one result per report, in order (a refused report is not an error)',
  })
  async submit(@Body() body: { reports?: unknown }, @Req() request: AuthenticatedRequest) {
    if (!Array.isArray(body?.reports) || body.reports.length === 0 || body.reports.length > MAX_REPORTS_PER_BATCH) {
      reject('invalid', 'reports', `must be an array of 1 to ${MAX_REPORTS_PER_BATCH} metric reports`);
    }
    const outcomes: ReportOutcome[] = await this.commands.execute(new SubmitMetricReports(body.reports, commandMetadata(request, randomUUID())));
    const count = (status: string) => outcomes.filter((o) => o.status === status).length;
    return { accepted: count('accepted'), duplicate: count('duplicate'), refused: count('refused'), results: outcomes };
  }
}

@Module({ controllers: [MetricReportsController], providers: [SubmitMetricReportsHandler, SignatureVerifier, SynqerDirectory] })
export class MetricsModule {}
