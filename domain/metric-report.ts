import type { Decider } from './decider';
import type { EpochInfo } from './network';
import { reject, repeatsRecorded } from './rejection';
import type { SynqerState } from './synqer';
import { Checks, instantMs, toInstant } from './values';

/**
 * Metric reports: what a synqer did in one period [start, end) of one epoch, signed with its reporting key (ed25519)
 * over `canonicalReportBytes`. Stream `metrics-<synqerId>-<epoch>`: periods of one synqer in one epoch never overlap.
 */

export interface MetricReport {
  reportId: string;
  synqerId: string;
  epoch: number;
  periodStart: string;
  periodEnd: string;
  /** Bytes transferred, a decimal string. */
  bytes: string;
  sessions: number;
  uptimeSeconds: number;
  /** Quality of service in basis points, 0..10000. */
  qosBps: number;
  /** base58 ed25519 signature of canonicalReportBytes by the synqer's reporting key. */
  signature: string;
}

export type MetricReportEvent =
  /**
   * `reportingKey`: the key that verified it, the synqer's key in force when it was decided (absent on reports recorded
   * before keys could be rotated). The books count it only if that key is still the one in force at its position.
   */
  | { type: 'MetricReportAccepted'; data: MetricReport & { reportingKey?: string } }
  /** A report recorded after its epoch's cut-off (the close raced it): it never counts, and its sender was told so. */
  | { type: 'MetricReportVoided'; data: { reportId: string; reason: string } };

export interface MetricReportsState {
  /** reportId → canonical text of the accepted report. */
  reports: Map<string, string>;
  /** reportId → why it was voided. */
  voided: Map<string, string>;
  /** Periods of the reports that count, sorted by start (they never overlap, so also by end). */
  periods: { start: number; end: number; reportId: string }[];
}

export const metricsStream = (synqerId: string, epoch: number) => `metrics-${synqerId}-${epoch}`;
export const initialMetricReports = (): MetricReportsState => ({ reports: new Map(), voided: new Map(), periods: [] });

/**
 * Extends the state in place and returns it: a stream holds thousands of reports, and copying its state for each one
 * made folding quadratic. A caller that needs the state as it was must not pass it here (the command side drops its
 * cached state whenever an append it decided does not go through).
 */
export function evolveMetricReports(state: MetricReportsState, event: MetricReportEvent): MetricReportsState {
  if (event.type === 'MetricReportVoided') {
    state.voided.set(event.data.reportId, event.data.reason);
    const at = state.periods.findIndex((period) => period.reportId === event.data.reportId);
    if (at >= 0) state.periods.splice(at, 1);
    return state;
  }
  const report = event.data;
  state.reports.set(report.reportId, canonicalReportText(report));
  const start = instantMs(report.periodStart) / 1000;
  state.periods.splice(firstEndingAfter(state.periods, start), 0, { start, end: instantMs(report.periodEnd) / 1000, reportId: report.reportId });
  return state;
}

/** Index of the first period (sorted, non-overlapping) that ends after `instant`. */
function firstEndingAfter(periods: MetricReportsState['periods'], instant: number): number {
  let low = 0;
  let high = periods.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (periods[middle].end <= instant) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The signed bytes: UTF-8 of these lines joined by "\n", no trailing newline. Numbers in plain decimal, times as
 * "YYYY-MM-DDTHH:MM:SSZ". `scripts/sign-report` produces the same.
 */
export function canonicalReportText(report: Omit<MetricReport, 'signature'>): string {
  let text = canonicalTexts.get(report);
  if (text === undefined) {
    text =
      `synq-metric-report/v1\nreportId:${report.reportId}\nsynqerId:${report.synqerId}\nepoch:${report.epoch}` +
      `\nperiodStart:${report.periodStart}\nperiodEnd:${report.periodEnd}\nbytes:${report.bytes}` +
      `\nsessions:${report.sessions}\nuptimeSeconds:${report.uptimeSeconds}\nqosBps:${report.qosBps}`;
    canonicalTexts.set(report, text);
  }
  return text;
}

// A report's text is asked for when its signature is checked, when it is decided and when its event is folded: made
// once per report object (reports are never changed after parsing), and handed on to the accepted event's data.
const canonicalTexts = new WeakMap<object, string>();
const canonicalBytes = new WeakMap<object, Uint8Array>();

const utf8 = new TextEncoder();
/** The UTF-8 of `canonicalReportText`, made once per report object (its signature is checked, then it is decided). */
export function canonicalReportBytes(report: Omit<MetricReport, 'signature'>): Uint8Array {
  let bytes = canonicalBytes.get(report);
  if (bytes === undefined) {
    bytes = utf8.encode(canonicalReportText(report));
    canonicalBytes.set(report, bytes);
  }
  return bytes;
}

/** Checks the fields of a report as received; returns it normalised. */
export function parseMetricReport(input: Record<string, unknown>): MetricReport {
  const checks = new Checks();
  const start = checks.instant('periodStart', input.periodStart);
  const end = checks.instant('periodEnd', input.periodEnd);
  const report: MetricReport = {
    reportId: checks.id('reportId', input.reportId),
    synqerId: checks.id('synqerId', input.synqerId),
    epoch: checks.integer('epoch', input.epoch, 1, 1_000_000_000),
    periodStart: toInstant(start),
    periodEnd: toInstant(end),
    bytes: checks.amount('bytes', input.bytes, { allowZero: true }).toString(),
    sessions: checks.integer('sessions', input.sessions, 0, 1_000_000_000),
    uptimeSeconds: checks.integer('uptimeSeconds', input.uptimeSeconds, 0, 1_000_000_000),
    qosBps: checks.integer('qosBps', input.qosBps, 0, 10_000),
    signature: typeof input.signature === 'string' ? input.signature : '',
  };
  if (typeof input.signature !== 'string' || input.signature.length === 0) checks.add('signature', 'must be a base58 ed25519 signature');
  if (start !== 0 && end !== 0 && end <= start) checks.add('periodEnd', 'must be after periodStart');
  if (start !== 0 && end > start && report.uptimeSeconds > end - start) checks.add('uptimeSeconds', `must be at most the period's length (${end - start} s)`);
  checks.done();
  return report;
}

export interface ReportContext {
  synqer: SynqerState | undefined;
  epoch: EpochInfo | undefined;
  /** Verifies an ed25519 signature (base58) of `message` by `publicKey` (base58). */
  verify: (message: Uint8Array, signature: string, publicKey: string) => boolean;
  /** When the report is decided, as unix seconds: the engine's clock, passed in (the domain reads none). */
  now: number;
  /** How far past `now` a period may end, for synqers' clocks running fast (`REPORT_CLOCK_SKEW_SECONDS` by default). */
  clockSkewSeconds: number;
}

/**
 * A period may end at most this long after the engine's clock (5 minutes): a synqer's clock may run a little fast, but
 * a report of work not done yet is refused (SYNQ_REPORT_CLOCK_SKEW_SECONDS sets another allowance).
 */
export const REPORT_CLOCK_SKEW_SECONDS = 300;

/**
 * Accepts a parsed report. The same report id with the same content again is a no-op; each refusal has its own reason.
 */
export function acceptReport(state: MetricReportsState, report: MetricReport, context: ReportContext): MetricReportEvent[] {
  const { synqer, epoch } = context;
  if (!synqer) reject('not_found', 'synqerId', `no synqer is registered as ${report.synqerId}`);
  const voided = state.voided.get(report.reportId);
  if (voided !== undefined) reject('conflict', 'epoch', voided);
  const earlier = state.reports.get(report.reportId);
  if (earlier !== undefined) {
    if (earlier === canonicalReportText(report)) return [];
    // The canonical text is one "field:value" line per field: name the first that differs.
    const fields = (text: string) =>
      Object.fromEntries(
        text
          .split('\n')
          .slice(1)
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
      );
    repeatsRecorded(`report ${report.reportId}`, fields(earlier), fields(canonicalReportText(report)));
    // Same fields, another signature (ed25519 signs one way per key and text): nothing new to decide.
    return [];
  }
  const latestEnd = context.now + context.clockSkewSeconds;
  if (instantMs(report.periodEnd) / 1000 > latestEnd) {
    reject(
      'invalid',
      'periodEnd',
      `is in the future: a period may end at most ${context.clockSkewSeconds} s after the engine's clock (${toInstant(latestEnd)})`,
    );
  }
  if (synqer.status === 'suspended') reject('conflict', 'synqerId', `synqer ${synqer.synqerId} is suspended`);
  if (!epoch) reject('conflict', 'epoch', `epoch ${report.epoch} is not open`);
  if (epoch.status === 'closed') reject('conflict', 'epoch', `epoch ${report.epoch} is closed`);
  const start = instantMs(report.periodStart) / 1000;
  const end = instantMs(report.periodEnd) / 1000;
  if (start < epoch.start || end > epoch.end) {
    reject('invalid', 'periodStart', `the period must lie inside epoch ${epoch.epoch} [${toInstant(epoch.start)}, ${toInstant(epoch.end)})`);
  }
  // The first period ending after this one starts is the only one that can overlap it.
  const overlap = state.periods[firstEndingAfter(state.periods, start)];
  if (overlap && overlap.start < end) reject('conflict', 'periodStart', `overlaps the period of report ${overlap.reportId}`);
  if (!context.verify(canonicalReportBytes(report), report.signature, synqer.reportingKey)) {
    reject('invalid', 'signature', "is not a valid signature of this report by the synqer's reporting key");
  }
  const data = { ...report, reportingKey: synqer.reportingKey };
  // The same fields, so the same text: folding the event need not make it again.
  canonicalTexts.set(data, canonicalReportText(report));
  return [{ type: 'MetricReportAccepted', data }];
}

/**
 * Reports decided with a reporting key that a rotation recorded before them (in the log) had replaced: they were in
 * flight during the rotation. The books never count them (domain/epoch-books.ts); their sender is told so.
 */
export function voidReportsOfRetiredKey(reportIds: readonly string[], synqerId: string): Extract<MetricReportEvent, { type: 'MetricReportVoided' }>[] {
  const reason = `synqer ${synqerId}'s reporting key was rotated before this report was recorded: send it again under a new report id, signed with the new key`;
  return reportIds.map((reportId) => ({ type: 'MetricReportVoided' as const, data: { reportId, reason } }));
}

/**
 * Reports appended after their epoch's cut-off position were decided while the epoch was open but lost the race with
 * its close: they are voided, never silently left out of the books.
 */
export function voidLateReports(reportIds: readonly string[], epoch: EpochInfo): Extract<MetricReportEvent, { type: 'MetricReportVoided' }>[] {
  const reason = `epoch ${epoch.epoch} closed before this report was recorded`;
  return reportIds.map((reportId) => ({ type: 'MetricReportVoided' as const, data: { reportId, reason } }));
}

export type MetricReportsCommand =
  | { type: 'AcceptReport'; data: { report: MetricReport; context: ReportContext } }
  /** `epoch`: the closed epoch whose cut-off the reports came after. */
  | { type: 'VoidLateReports'; data: { reportIds: readonly string[]; epoch: EpochInfo } };

/** One synqer's reports of one epoch: `metrics-<synqerId>-<epoch>`. Its evolve extends the state in place. */
export const metricReportsDecider: Decider<MetricReportsState, MetricReportEvent, MetricReportsCommand, { synqerId: string; epoch: number }> = {
  streamOf: ({ synqerId, epoch }) => metricsStream(synqerId, epoch),
  initial: initialMetricReports,
  evolve: evolveMetricReports,
  decide(command, state) {
    switch (command.type) {
      case 'AcceptReport':
        return acceptReport(state, command.data.report, command.data.context);
      case 'VoidLateReports':
        return voidLateReports(command.data.reportIds, command.data.epoch);
    }
  },
  evolvesInPlace: true,
};
