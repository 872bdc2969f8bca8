import { canonicalReportBytes } from '../domain/metric-report';
import { signEd25519 } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';
import { EPOCH_START, instant, registerSynqers, type TestSynqer } from './support/network';

/**
 * Issue 14, item 7: for every command that takes an id, the same id with the same content answers what the first
 * request answered (status and body), and the same id with other content is a 409 naming the field that differs.
 */
describe('every id-taking route: repeats and reuses of the id', () => {
  let api: TestApi;
  let synqer: TestSynqer;
  let wallet: string;

  beforeAll(async () => {
    api = await startTestApi();
    [synqer] = await registerSynqers(api, 1, 'idem');
    wallet = (await registerSynqers(api, 1, 'idemwallet'))[0].wallet.publicKey.toBase58();
  });
  afterAll(async () => {
    await api.close();
  });

  const report = (fields: Record<string, unknown> = {}) => {
    const content = {
      reportId: 'idem-r1',
      synqerId: synqer.synqerId,
      epoch: 1,
      periodStart: instant(EPOCH_START),
      periodEnd: instant(EPOCH_START + 600),
      bytes: '1000',
      sessions: 1,
      uptimeSeconds: 600,
      qosBps: 9_500,
      ...fields,
    };
    return { ...content, signature: signEd25519(canonicalReportBytes(content), synqer.reportingKey) };
  };

  interface Case {
    name: string;
    path: () => string;
    key: () => string;
    body: () => Record<string, unknown>;
    /** The same id with one field changed: the field the 409 names. */
    other?: { field: string; value: () => unknown };
    /** Something else on the same stream between the first request and its repeat (the answer must not move). */
    between?: () => Promise<{ status: number }>;
    /** What a repeat answers, where it is not the first answer itself. */
    repeated?: (first: any) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  const operator = () => api.keys.operator;
  const TOKEN = '1000000';
  // In order: each case may rely on the ones before it (the funding opens the epoch, the purchase funds the burn...).
  const cases: Case[] = [
    {
      name: 'treasury funding',
      path: () => '/treasury/fundings',
      key: operator,
      body: () => ({ reference: 'f1', amount: '5000000000' }),
      other: { field: 'amount', value: () => '1' },
      between: () => api.call('POST', '/treasury/fundings', api.keys.operator, { reference: 'f-between', amount: '7' }),
    },
    {
      name: 'epoch opening',
      path: () => '/epochs',
      key: operator,
      body: () => ({ epoch: 1, start: instant(EPOCH_START), end: instant(EPOCH_START + 3600), rewardPool: '1000' }),
      other: { field: 'rewardPool', value: () => '999' },
    },
    {
      name: 'synqer registration',
      path: () => '/synqers',
      key: operator,
      body: () => ({ synqerId: 'idem-s2', payoutWallet: wallet, reportingKey: wallet, region: 'eu-west' }),
      other: { field: 'region', value: () => 'us-east' },
      between: () => api.call('POST', '/synqers/idem-s2/suspend', api.keys.operator, { reason: 'maintenance' }),
    },
    {
      name: 'developer registration',
      path: () => '/developers',
      key: operator,
      body: () => ({ developerId: 'dev1', wallet }),
      other: { field: 'wallet', value: () => synqer.wallet.publicKey.toBase58() },
    },
    {
      name: 'purchase',
      path: () => '/developers/dev1/purchases',
      key: operator,
      body: () => ({ purchaseId: 'p1', amount: (10n * BigInt(TOKEN)).toString(), paymentReference: 'invoice-1' }),
      other: { field: 'amount', value: () => '1' },
      between: () =>
        api.call('POST', '/developers/dev1/purchases', api.keys.operator, { purchaseId: 'p-between', amount: TOKEN, paymentReference: 'invoice-2' }),
    },
    {
      name: 'burn',
      path: () => '/developers/dev1/burns',
      key: () => api.keys.developer,
      body: () => ({ burnId: 'b1', amount: TOKEN }),
      other: { field: 'amount', value: () => (2n * BigInt(TOKEN)).toString() },
      between: () => api.call('POST', '/developers/dev1/burns', api.keys.developer, { burnId: 'b-between', amount: TOKEN }),
    },
    {
      name: 'credit usage',
      path: () => '/developers/dev1/usage',
      key: () => api.keys.ingest,
      body: () => ({ usageId: 'u1', credits: '5', sessionReference: 'session-1' }),
      other: { field: 'sessionReference', value: () => 'session-2' },
      between: () => api.call('POST', '/developers/dev1/usage', api.keys.ingest, { usageId: 'u-between', credits: '1', sessionReference: 's' }),
    },
    {
      name: 'stake deposit',
      path: () => `/synqers/${synqer.synqerId}/stake/deposits`,
      key: operator,
      body: () => ({ depositId: 'd1', amount: (10n * BigInt(TOKEN)).toString() }),
      other: { field: 'amount', value: () => TOKEN },
      between: () => api.call('POST', `/synqers/${synqer.synqerId}/stake/deposits`, api.keys.operator, { depositId: 'd-between', amount: TOKEN }),
    },
    {
      name: 'unstake request',
      path: () => `/synqers/${synqer.synqerId}/stake/unstake-requests`,
      key: operator,
      body: () => ({ requestId: 'q1', amount: TOKEN }),
      other: { field: 'amount', value: () => '2' },
      between: () => api.call('POST', `/synqers/${synqer.synqerId}/stake/unstake-requests`, api.keys.operator, { requestId: 'q-between', amount: '7' }),
    },
    {
      name: 'slash',
      path: () => `/synqers/${synqer.synqerId}/stake/slashes`,
      key: operator,
      body: () => ({ slashId: 'x1', amount: '3', reason: 'downtime' }),
      other: { field: 'reason', value: () => 'fraud' },
      between: () =>
        api.call('POST', `/synqers/${synqer.synqerId}/stake/slashes`, api.keys.operator, { slashId: 'x-between', amount: '4', reason: 'downtime' }),
    },
    {
      name: 'metric report',
      path: () => '/metric-reports',
      key: () => api.keys.ingest,
      body: () => ({ reports: [report()] }),
      // A batch answers per report: a report recorded already is answered `duplicate` (docs/api.md), the rest alike.
      repeated: (first) => ({ ...first, accepted: 0, duplicate: 1, results: [{ ...first.results[0], status: 'duplicate' }] }),
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const body = c.body();
    const first = await api.call('POST', c.path(), c.key(), body);
    expect(first.status).toBeLessThan(300);
    if (c.between) expect((await c.between()).status).toBeLessThan(300);
    const repeat = await api.call('POST', c.path(), c.key(), body);
    expect({ status: repeat.status, body: repeat.body }).toEqual({ status: first.status, body: c.repeated ? c.repeated(first.body) : first.body });
    if (c.other) {
      const reuse = await api.call('POST', c.path(), c.key(), { ...body, [c.other.field]: c.other.value() });
      expect(reuse.status).toBe(409);
      expect(reuse.body.problems).toEqual([expect.objectContaining({ field: c.other.field })]);
    }
  });

  it('metric report: the same id with other content is refused naming the field', async () => {
    const reuse = await api.call('POST', '/metric-reports', api.keys.ingest, { reports: [report({ bytes: '2000' })] });
    expect(reuse.body.results[0]).toEqual({
      index: 0,
      reportId: 'idem-r1',
      status: 'refused',
      problems: [{ field: 'bytes', reason: 'report idem-r1 is already recorded with bytes "1000"' }],
    });
  });
});
