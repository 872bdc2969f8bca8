import { canonicalReportBytes, type MetricReport } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { awaitJob } from './support/jobs';

const wallet = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7 + 1) % 256));

describe('command side over the REST API', () => {
  let api: TestApi;
  const keypairs = new Map<string, Uint8Array>();

  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  async function registerSynqer(synqerId: string) {
    const keypair = generateReportingKeypair();
    keypairs.set(synqerId, keypair);
    return api.call('POST', '/synqers', api.keys.operator, {
      synqerId,
      payoutWallet: wallet(synqerId.length),
      reportingKey: publicKeyOf(keypair),
      region: 'eu-west',
      labels: { tier: 'gold' },
    });
  }

  function signedReport(synqerId: string, fields: Partial<MetricReport> = {}, keypair = keypairs.get(synqerId)!): MetricReport {
    const content = {
      reportId: `r-${Math.random().toString(36).slice(2, 12)}`,
      synqerId,
      epoch: 1,
      periodStart: '2026-11-01T00:00:00Z',
      periodEnd: '2026-11-01T00:05:00Z',
      bytes: '123456789012',
      sessions: 42,
      uptimeSeconds: 300,
      qosBps: 9_800,
      ...fields,
    };
    return { ...content, signature: signEd25519(canonicalReportBytes(content), keypair) };
  }

  const submit = (reports: unknown[]) => api.call('POST', '/metric-reports', api.keys.ingest, { reports });

  describe('access', () => {
    it('answers 401 without a valid key and 403 for the wrong role, as problem+json', async () => {
      const anonymous = await api.call('POST', '/synqers', undefined, {});
      expect(anonymous.status).toBe(401);
      expect(anonymous.contentType).toContain('application/problem+json');
      expect((await api.call('POST', '/synqers', 'synq_000000000000_' + 'x'.repeat(43), {})).status).toBe(401);

      const wrongRole = await api.call('POST', '/synqers', api.keys.ingest, {});
      expect(wrongRole.status).toBe(403);
      expect(wrongRole.body).toMatchObject({ status: 403, detail: expect.stringContaining('ingest role may not') });
      expect((await api.call('POST', '/epochs', api.keys.auditor, {})).status).toBe(403);
      expect((await api.call('POST', '/metric-reports', api.keys.operator, { reports: [] })).status).toBe(403);
      expect((await api.call('GET', '/treasury', api.keys.developer)).status).toBe(403);
      expect((await api.call('GET', '/treasury', api.keys.auditor)).status).toBe(200);
      expect((await api.call('GET', '/health', undefined)).status).toBe(200);
    });

    it('answers a malformed body with 400, never 500', async () => {
      const response = await api.call('POST', '/synqers', api.keys.operator, '{"synqerId": ');
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ status: 400, problems: [{ field: 'body', reason: 'the request body is not valid JSON' }] });
    });
  });

  describe('synqers', () => {
    it('registers a synqer, and registering it again the same way is a no-op', async () => {
      const first = await registerSynqer('alpha');
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ synqerId: 'alpha', status: 'active', region: 'eu-west', labels: { tier: 'gold' } });
      const before = await api.engine.eventStore.lastPosition();
      const again = await api.call('POST', '/synqers', api.keys.operator, {
        synqerId: 'alpha',
        payoutWallet: first.body.payoutWallet,
        reportingKey: first.body.reportingKey,
        region: 'eu-west',
        labels: { tier: 'gold' },
      });
      expect(again.status).toBe(201);
      expect(await api.engine.eventStore.lastPosition()).toBe(before);

      const different = await api.call('POST', '/synqers', api.keys.operator, { ...first.body, region: 'us-east', labels: { tier: 'gold' } });
      expect(different.status).toBe(409);
      expect(different.body.problems).toEqual([{ field: 'region', reason: 'synqer alpha is already recorded with region "eu-west"' }]);
    });

    it('names every bad field of a registration at once', async () => {
      const response = await api.call('POST', '/synqers', api.keys.operator, { synqerId: 'bad id', payoutWallet: 'nope', region: '' });
      expect(response.status).toBe(422);
      expect(response.body.problems.map((p: { field: string }) => p.field)).toEqual(['synqerId', 'payoutWallet', 'reportingKey', 'region']);
    });

    it('suspends and reinstates with a reason, and reads the synqer back', async () => {
      await registerSynqer('bravo');
      expect((await api.call('POST', '/synqers/bravo/suspend', api.keys.operator, { reason: 'abuse report 17' })).body.status).toBe('suspended');
      expect((await api.call('POST', '/synqers/bravo/suspend', api.keys.operator, { reason: 'again' })).status).toBe(409);
      expect((await api.call('POST', '/synqers/bravo/reinstate', api.keys.operator, { reason: 'cleared' })).body.status).toBe('active');
      expect((await api.call('POST', '/synqers/bravo/suspend', api.keys.operator, {})).status).toBe(422);
      expect((await api.call('GET', '/synqers/bravo', api.keys.auditor)).body.status).toBe('active');
      expect((await api.call('GET', '/synqers/nobody', api.keys.auditor)).status).toBe(404);
    });
  });

  describe('treasury and epochs', () => {
    it('refuses an epoch whose pool exceeds the unallocated treasury, then opens epochs without gaps or overlap', async () => {
      const tooBig = await api.call('POST', '/epochs', api.keys.operator, {
        epoch: 1,
        start: '2026-11-01T00:00:00Z',
        end: '2026-11-08T00:00:00Z',
        rewardPool: '1000000000',
      });
      expect(tooBig.status).toBe(409);
      expect(tooBig.body.problems[0]).toEqual({ field: 'rewardPool', reason: 'exceeds the unallocated treasury (0 base units available)' });

      const funding = { amount: '2500000000', reference: 'wire-2026-11-01' };
      expect((await api.call('POST', '/treasury/fundings', api.keys.operator, funding)).body).toEqual({
        funded: '2500000000',
        allocated: '0',
        unallocated: '2500000000',
      });
      expect((await api.call('POST', '/treasury/fundings', api.keys.operator, funding)).body.funded).toBe('2500000000');
      expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { ...funding, amount: '1' })).status).toBe(409);
      expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: 100, reference: 'x' })).body.problems).toEqual([
        { field: 'amount', reason: 'must be a whole number of base units written as a decimal string, e.g. "1500000"' },
      ]);

      const opened = await api.call('POST', '/epochs', api.keys.operator, {
        epoch: 1,
        start: '2026-11-01T00:00:00Z',
        end: '2026-11-08T00:00:00Z',
        rewardPool: '1000000000',
      });
      expect(opened.status).toBe(201);
      expect(opened.body).toEqual({ epoch: 1, start: '2026-11-01T00:00:00Z', end: '2026-11-08T00:00:00Z', rewardPool: '1000000000', status: 'open' });

      const gap = await api.call('POST', '/epochs', api.keys.operator, {
        epoch: 3,
        start: '2026-11-15T00:00:00Z',
        end: '2026-11-22T00:00:00Z',
        rewardPool: '1',
      });
      expect(gap.body.problems).toEqual([{ field: 'epoch', reason: 'the next epoch to open is 2' }]);
      const overlap = await api.call('POST', '/epochs', api.keys.operator, {
        epoch: 2,
        start: '2026-11-07T00:00:00Z',
        end: '2026-11-14T00:00:00Z',
        rewardPool: '1',
      });
      expect(overlap.body.problems[0].field).toBe('start');
      expect((await api.call('GET', '/treasury', api.keys.operator)).body.unallocated).toBe('1500000000');
    });
  });

  describe('metric reports', () => {
    beforeAll(async () => {
      await registerSynqer('charlie');
      await registerSynqer('delta');
    });

    it('accepts signed reports, answers a retried batch as duplicates and writes nothing new', async () => {
      const batch = [signedReport('charlie'), signedReport('charlie', { periodStart: '2026-11-01T00:05:00Z', periodEnd: '2026-11-01T00:10:00Z' })];
      const first = await submit(batch);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ accepted: 2, duplicate: 0, refused: 0 });
      const before = await api.engine.eventStore.lastPosition();
      const retry = await submit(batch);
      expect(retry.body).toMatchObject({ accepted: 0, duplicate: 2, refused: 0 });
      expect(await api.engine.eventStore.lastPosition()).toBe(before);

      const recorded = [];
      for await (const event of api.engine.eventStore.readStream('metrics-charlie-1')) recorded.push(event);
      expect(recorded.map((e) => e.data.reportId)).toEqual(batch.map((r) => r.reportId));
      expect(recorded[0].metadata).toMatchObject({ actor: expect.stringMatching(/^api-key:/), correlationId: expect.any(String) });
    });

    it('refuses each bad report with its own reason and still stores the valid ones', async () => {
      const valid = signedReport('delta');
      const otherKey = generateReportingKeypair();
      const accepted = signedReport('delta', { periodStart: '2026-11-02T00:00:00Z', periodEnd: '2026-11-02T00:05:00Z' });
      await submit([accepted]);
      const reports = [
        valid,
        signedReport('delta', { periodStart: '2026-11-03T00:00:00Z', periodEnd: '2026-11-03T00:05:00Z' }, otherKey),
        signedReport('delta', { reportId: accepted.reportId, sessions: 43 }),
        signedReport('delta', { periodStart: '2026-11-02T00:04:00Z', periodEnd: '2026-11-02T00:06:00Z', uptimeSeconds: 120 }),
        signedReport('delta', { periodStart: '2026-10-31T23:55:00Z', periodEnd: '2026-11-01T00:00:00Z' }),
        signedReport('delta', { epoch: 2 }),
        signedReport('delta', { qosBps: 10_001 }),
        signedReport('delta', { uptimeSeconds: 301 }),
        { ...signedReport('delta'), synqerId: 'nobody' },
        'not an object',
      ];
      const response = await submit(reports);
      expect(response.status).toBe(200);
      const reasons = response.body.results.map((r: { status: string; problems?: { field: string; reason: string }[] }) =>
        r.status === 'refused' ? `${r.problems![0].field}: ${r.problems![0].reason}` : r.status,
      );
      expect(reasons).toEqual([
        'accepted',
        "signature: is not a valid signature of this report by the synqer's reporting key",
        `periodStart: report ${accepted.reportId} is already recorded with periodStart "2026-11-02T00:00:00Z"`,
        `periodStart: overlaps the period of report ${accepted.reportId}`,
        'periodStart: the period must lie inside epoch 1 [2026-11-01T00:00:00Z, 2026-11-08T00:00:00Z)',
        'epoch: epoch 2 is not open',
        'qosBps: must be a whole number from 0 to 10000',
        "uptimeSeconds: must be at most the period's length (300 s)",
        'synqerId: no synqer is registered as nobody',
        'reports[9]: must be an object',
      ]);
      const stored = [];
      for await (const event of api.engine.eventStore.readStream('metrics-delta-1')) stored.push(event.data.reportId);
      expect(stored).toEqual([accepted.reportId, valid.reportId]);
    });

    it('lets only one of two concurrent overlapping reports in', async () => {
      await registerSynqer('echo');
      const a = signedReport('echo', { periodStart: '2026-11-04T00:00:00Z', periodEnd: '2026-11-04T00:10:00Z', uptimeSeconds: 600 });
      const b = signedReport('echo', { periodStart: '2026-11-04T00:05:00Z', periodEnd: '2026-11-04T00:15:00Z', uptimeSeconds: 600 });
      const [first, second] = await Promise.all([submit([a]), submit([b])]);
      expect(first.body.accepted + second.body.accepted).toBe(1);
      expect(first.body.refused + second.body.refused).toBe(1);
      let stored = 0;
      for await (const _event of api.engine.eventStore.readStream('metrics-echo-1')) stored++;
      expect(stored).toBe(1);
    });

    it('refuses reports of a suspended synqer and of a closed epoch', async () => {
      await registerSynqer('foxtrot');
      await api.call('POST', '/synqers/foxtrot/suspend', api.keys.operator, { reason: 'investigation' });
      const suspended = await submit([signedReport('foxtrot')]);
      expect(suspended.body.results[0].problems[0]).toEqual({ field: 'synqerId', reason: 'synqer foxtrot is suspended' });

      const closed = await awaitJob(api, api.call('POST', '/epochs/1/close', api.keys.operator));
      expect(closed.status).toBe(200);
      expect(closed.body).toMatchObject({ epoch: 1, status: 'closed', cutOffPosition: expect.stringMatching(/^\d+$/) });
      const late = await submit([signedReport('charlie', { periodStart: '2026-11-05T00:00:00Z', periodEnd: '2026-11-05T00:05:00Z' })]);
      expect(late.body.results[0].problems[0]).toEqual({ field: 'epoch', reason: 'epoch 1 is closed' });
      // Closing again resumes the close pipeline: every step is recorded already, so nothing is written.
      const before = await api.engine.eventStore.lastPosition();
      const again = await awaitJob(api, api.call('POST', '/epochs/1/close', api.keys.operator));
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ stage: 'distribution_built', settlement: { digest: closed.body.settlement.digest } });
      expect(await api.engine.eventStore.lastPosition()).toBe(before);
    });

    it('refuses a batch that is not a list of 1 to 5,000 reports', async () => {
      expect((await submit([])).body.problems).toEqual([{ field: 'reports', reason: 'must be an array of 1 to 5000 metric reports' }]);
      expect((await api.call('POST', '/metric-reports', api.keys.ingest, { reports: 'x' })).status).toBe(422);
    });
  });
});
