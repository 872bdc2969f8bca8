import { canonicalReportText, metricReportsDecider, parseMetricReport, REPORT_CLOCK_SKEW_SECONDS, type MetricReportsCommand } from '../domain/metric-report';
import { CommandRejected } from '../domain/rejection';
import { synqerDecider, type SynqerState } from '../domain/synqer';
import { Checks, idProblem, textProblem, toInstant } from '../domain/values';
import { DeciderSpecification } from './support/decider-specification';

/**
 * Issue 16, item 3, in the domain: texts refuse NUL, control characters and lone surrogates (reasons may hold newlines
 * and tabs), labels too; a report whose period ends after the engine's clock plus the allowance is refused.
 */

const problemsOf = (check: (checks: Checks) => unknown) => {
  const checks = new Checks();
  check(checks);
  try {
    checks.done();
    return [];
  } catch (error) {
    return (error as CommandRejected).problems;
  }
};

describe('texts and ids that cannot be stored are refused, naming the field', () => {
  it.each([
    ['NUL', 'eu\u0000west'],
    ['a C0 control', 'eu\u0001'],
    ['ESC', '\u001b[2Jeu'],
    ['DEL', 'eu\u007f'],
    ['a C1 control (NEL)', 'eu\u0085'],
    ['a C1 control (U+009F)', 'eu\u009f'],
    ['a newline in a one-line text', 'eu\nwest'],
    ['a tab in a one-line text', 'eu\twest'],
    ['a lone high surrogate', 'eu\uD800'],
    ['a lone high surrogate before another character', '\uD800eu'],
    ['a lone low surrogate', 'eu\uDC00'],
    ['two high surrogates', '\uD800\uD800\uDC00'],
    ['a reversed pair', '\uDC00\uD800'],
  ])('text with %s', (_, value) => {
    expect(problemsOf((checks) => checks.text('region', value, 64))).toEqual([{ field: 'region', reason: expect.stringMatching(/control|surrogate/) }]);
  });

  it.each([
    ['letters and spaces', 'eu west 1'],
    ['accents and CJK', 'Zürich 東京'],
    ['a pair of surrogates (an emoji)', 'eu \uD83D\uDE80'],
    ['U+00A0 (not a control)', 'eu\u00a0west'],
  ])('takes a one-line text with %s', (_, value) => {
    expect(problemsOf((checks) => checks.text('region', value, 64))).toEqual([]);
  });

  it('lets a reason hold newlines and tabs, and nothing else of the controls', () => {
    expect(problemsOf((checks) => checks.text('reason', 'fraud:\n\tsee ticket 42', 500, { multiline: true }))).toEqual([]);
    for (const control of ['\u0000', '\r', '\u000b', '\u001b', '\u007f', '\u0085']) {
      expect(problemsOf((checks) => checks.text('reason', `fraud${control}`, 500, { multiline: true }))).toEqual([
        { field: 'reason', reason: expect.stringMatching(/control/) },
      ]);
    }
    expect(problemsOf((checks) => checks.text('reason', 'fraud\uDFFF', 500, { multiline: true }))).toEqual([
      { field: 'reason', reason: expect.stringMatching(/surrogate/) },
    ]);
  });

  it('says where the character is', () => {
    expect(textProblem('ab\u0000', false)).toMatch(/U\+0000 at 2/);
    expect(textProblem('a\uDC00', false)).toMatch(/U\+DC00\) at 1/);
  });

  it('refuses a label key or value that is not a clean one-line text', () => {
    expect(problemsOf((checks) => checks.labels('labels', { tier: 'gold\u0000' }))).toEqual([
      { field: 'labels', reason: expect.stringMatching(/"tier".*control/) },
    ]);
    expect(problemsOf((checks) => checks.labels('labels', { ['t\uD800']: 'gold' }))).toEqual([{ field: 'labels', reason: expect.stringMatching(/surrogate/) }]);
    expect(problemsOf((checks) => checks.labels('labels', { tier: 'gold', zone: 'b' }))).toEqual([]);
  });

  it('refuses the same in ids (the id pattern never took them) and says so for path parameters', () => {
    for (const id of ['s\u0000', 's\uD800', 's\n', '']) {
      expect(problemsOf((checks) => checks.id('synqerId', id))).toEqual([{ field: 'synqerId', reason: expect.any(String) }]);
      expect(idProblem(id)).toBeDefined();
    }
    expect(idProblem('synqer-001')).toBeUndefined();
  });

  it('refuses a suspension whose reason holds a NUL, and takes one on two lines', () => {
    const spec = DeciderSpecification.for(synqerDecider);
    const registered = {
      type: 'SynqerRegistered' as const,
      data: { synqerId: 'alpha', payoutWallet: '11111111111111111111111111111112', reportingKey: '11111111111111111111111111111113', region: 'eu', labels: {} },
    };
    spec
      .given([registered])
      .when({ type: 'SuspendSynqer', data: { reason: 'x\u0000' } })
      .thenRejects('invalid', { field: 'reason' });
    spec
      .given([registered])
      .when({ type: 'SuspendSynqer', data: { reason: 'fraud\nticket 42' } })
      .then([{ type: 'SynqerSuspended', data: { synqerId: 'alpha', reason: 'fraud\nticket 42' } }]);
  });
});

describe('a report of a period that has not ended yet is refused', () => {
  const spec = DeciderSpecification.for(metricReportsDecider);
  const now = Date.parse('2026-11-24T10:00:00Z') / 1000;
  const epoch = { epoch: 1, start: now - 86_400, end: now + 2 * 365 * 86_400, rewardPool: 1n, status: 'open' as const };
  const synqer: SynqerState = {
    synqerId: 'alpha',
    reportingKey: 'k',
    region: 'eu',
    labels: {},
    wallets: [{ payoutWallet: 'w', fromEpoch: 1 }],
    status: 'active',
  };
  const report = (reportId: string, start: number, end: number) =>
    parseMetricReport({
      reportId,
      synqerId: 'alpha',
      epoch: 1,
      periodStart: toInstant(start),
      periodEnd: toInstant(end),
      bytes: '1',
      sessions: 1,
      uptimeSeconds: 0,
      qosBps: 1,
      signature: 'x',
    });
  const accept = (r: ReturnType<typeof report>, clockSkewSeconds = REPORT_CLOCK_SKEW_SECONDS): MetricReportsCommand => ({
    type: 'AcceptReport',
    data: { report: r, context: { synqer, epoch, verify: () => true, now, clockSkewSeconds } },
  });

  it('allows five minutes of clock skew by default', () => {
    expect(REPORT_CLOCK_SKEW_SECONDS).toBe(300);
  });

  it('refuses a period a year ahead, or ending past the allowance, naming periodEnd', () => {
    spec
      .given([])
      .when(accept(report('next-year', now + 365 * 86_400, now + 365 * 86_400 + 600)))
      .thenRejects('invalid', { field: 'periodEnd', reason: expect.stringMatching(/future/) });
    spec
      .given([])
      .when(accept(report('ahead', now, now + 301)))
      .thenRejects('invalid', { field: 'periodEnd' });
    spec
      .given([])
      .when(accept(report('ahead', now, now + 60), 0))
      .thenRejects('invalid', { field: 'periodEnd' });
  });

  it('takes a period ending at now plus the allowance, or before', () => {
    for (const [id, start, end] of [
      ['at-the-edge', now, now + 300],
      ['past', now - 600, now - 300],
    ] as const) {
      const r = report(id, start, end);
      spec
        .given([])
        .when(accept(r))
        .then([{ type: 'MetricReportAccepted', data: { ...r, reportingKey: synqer.reportingKey } }]);
      expect(canonicalReportText(r)).toContain(`periodEnd:${toInstant(end)}`);
    }
  });
});
