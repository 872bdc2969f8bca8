import { canonicalReportBytes } from '../domain/metric-report';
import { signEd25519 } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';
import { EPOCH_START, instant, registerSynqers, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Issue 14, item 1: a close and the report batches racing it are one ordered decision. Every report answered
 * `accepted` is in its epoch's totals; every other one is refused (an epoch problem), and a retry answers the same.
 */
describe('closing an epoch while report batches race it', () => {
  let api: TestApi;
  let synqers: TestSynqer[];

  beforeAll(async () => {
    api = await startTestApi();
    synqers = await registerSynqers(api, 4, 'race');
    const funded = await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '1000000000000', reference: 'race-funding' });
    expect(funded.status).toBe(201);
  });
  afterAll(async () => {
    await api.close();
  });

  /** One report of one second (the k-th of the epoch) with one session: an epoch's sessions count its reports. */
  function report(epoch: number, synqer: TestSynqer, k: number) {
    const start = EPOCH_START + (epoch - 1) * 3600 + k;
    const content = {
      reportId: `race-${epoch}-${synqer.synqerId}-${k}`,
      synqerId: synqer.synqerId,
      epoch,
      periodStart: instant(start),
      periodEnd: instant(start + 1),
      bytes: '1000',
      sessions: 1,
      uptimeSeconds: 1,
      qosBps: 9_500,
    };
    return { ...content, signature: signEd25519(canonicalReportBytes(content), synqer.reportingKey) };
  }

  type Outcome = { reportId: string; status: 'accepted' | 'duplicate' | 'refused'; problems?: { field: string; reason: string }[] };

  it('counts every accepted report and refuses every other one, over many rounds', async () => {
    const rounds = 15;
    for (let epoch = 1; epoch <= rounds; epoch++) {
      const start = EPOCH_START + (epoch - 1) * 3600;
      const opened = await api.call('POST', '/epochs', api.keys.operator, { epoch, start: instant(start), end: instant(start + 3600), rewardPool: '1000' });
      expect(opened.status).toBe(201);

      const sent: ReturnType<typeof report>[] = [];
      const outcomes = new Map<string, Outcome>();
      let next = 0;
      let closing = true;
      // Four writers send small batches until the close has answered (and one batch more each).
      const writer = async (w: number) => {
        for (let last = false; !last && next < 3000;) {
          last = !closing;
          const batch = Array.from({ length: 5 }, () => report(epoch, synqers[w], next++));
          sent.push(...batch);
          const answer = await api.call('POST', '/metric-reports', api.keys.ingest, { reports: batch });
          expect(answer.status).toBe(200);
          for (const outcome of answer.body.results as Outcome[]) outcomes.set(outcome.reportId, outcome);
        }
      };
      const writers = synqers.map((_, w) => writer(w));
      await new Promise((resolve) => setTimeout(resolve, 5 + ((epoch * 7) % 20)));
      const closed = await awaitJob(api, api.call('POST', `/epochs/${epoch}/close`, api.keys.operator));
      closing = false;
      await Promise.all(writers);
      expect(closed.status).toBe(200);

      const accepted = sent.filter((r) => outcomes.get(r.reportId)?.status === 'accepted');
      for (const r of sent) {
        const outcome = outcomes.get(r.reportId)!;
        if (outcome.status !== 'accepted') {
          expect(outcome.status).toBe('refused');
          expect(outcome.problems?.[0]?.field).toBe('epoch');
        }
      }
      // Every accepted report is in the epoch's totals, and only those.
      const epochView = await api.call('GET', `/epochs/${epoch}`, api.keys.operator);
      expect({ epoch, sessions: epochView.body.settlement.sessions }).toEqual({ epoch, sessions: String(accepted.length) });

      // A retry answers the same: accepted ones are duplicates, refused ones still refused (for the epoch).
      const retry = await api.call('POST', '/metric-reports', api.keys.ingest, { reports: sent });
      for (const outcome of retry.body.results as Outcome[]) {
        const first = outcomes.get(outcome.reportId)!;
        expect({ reportId: outcome.reportId, status: outcome.status }).toEqual({
          reportId: outcome.reportId,
          status: first.status === 'accepted' ? 'duplicate' : 'refused',
        });
        if (outcome.status === 'refused') expect(outcome.problems?.[0]?.field).toBe('epoch');
      }
    }
  }, 300_000);
});
