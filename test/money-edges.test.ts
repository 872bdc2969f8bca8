import { randomUUID } from 'node:crypto';
import { generateReportingKeypair, publicKeyOf } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';

/**
 * Issue 14, item 5, over HTTP: amounts above u64 are refused with a 422 naming the field (before, the API took 38
 * digits and the chain kept the low bits), a rewind past the end of the log is a 422 (before: 202, and the projection
 * waited there for ever), and a projection that stops making progress shows as stalled in /health and /metrics.
 */

const U64_MAX = (1n << 64n) - 1n;
const TWO_64 = (1n << 64n).toString();
const wallet = '11111111111111111111111111111112';

describe('money edges over HTTP', () => {
  let api: TestApi;
  const op = () => api.keys.operator;

  beforeAll(async () => {
    api = await startTestApi({ config: { projectionStallSeconds: 1 } });
  });
  afterAll(() => api.close());

  const refused = async (method: string, path: string, body: unknown) => {
    const answer = await api.call(method, path, op(), body);
    expect({ path, status: answer.status }).toEqual({ path, status: 422 });
    return (answer.body.problems as { field: string; reason: string }[]).map((p) => p.field);
  };

  it('refuses every amount above u64, naming the field, and the sums that would pass it', async () => {
    expect(await refused('POST', '/chain/init', { supply: TWO_64 })).toEqual(['supply']);
    expect(await refused('POST', '/treasury/fundings', { amount: TWO_64, reference: 'big' })).toEqual(['amount']);
    expect((await api.call('POST', '/treasury/fundings', op(), { amount: (U64_MAX - 10n).toString(), reference: 'f1' })).status).toBe(201);
    // The books may hold at most u64: 11 more would pass it.
    expect(await refused('POST', '/treasury/fundings', { amount: '11', reference: 'f2' })).toEqual(['amount']);
    expect(await refused('POST', '/epochs', { epoch: 1, start: '2026-01-01T00:00:00Z', end: '2026-01-08T00:00:00Z', rewardPool: TWO_64 })).toEqual([
      'rewardPool',
    ]);
    const policy = {
      weightBytesBps: 5000,
      weightSessionsBps: 5000,
      minUptimeBps: 0,
      minQosBps: 0,
      stakeBoostMaxBps: 0,
      stakeTarget: '1',
      creditsPerToken: '1',
      unstakeCooldownEpochs: 0,
      maxPoolPerEpoch: TWO_64,
    };
    expect(await refused('POST', '/policy', policy)).toEqual(['maxPoolPerEpoch']);

    expect((await api.call('POST', '/developers', op(), { developerId: 'dev1', wallet })).status).toBe(201);
    expect(await refused('POST', '/developers/dev1/purchases', { purchaseId: 'p1', amount: (1n << 64n) + 1n + '', paymentReference: 'r' })).toEqual(['amount']);
    expect(
      (await api.call('POST', '/synqers', op(), { synqerId: 's1', payoutWallet: wallet, reportingKey: publicKeyOf(generateReportingKeypair()), region: 'eu' }))
        .status,
    ).toBeLessThan(300);
    expect(await refused('POST', '/synqers/s1/stake/deposits', { depositId: 'd1', amount: TWO_64 })).toEqual(['amount']);
    const report = {
      reportId: 'r1',
      synqerId: 's1',
      epoch: 1,
      periodStart: '2026-01-01T00:00:00Z',
      periodEnd: '2026-01-01T01:00:00Z',
      bytes: TWO_64,
      sessions: 1,
      uptimeSeconds: 60,
      qosBps: 9000,
      signature: 'x',
    };
    const reports = await api.call('POST', '/metric-reports', api.keys.ingest, { reports: [report] });
    expect(JSON.stringify(reports.body)).toMatch(/bytes/);
    expect(JSON.stringify(reports.body)).toMatch(/18446744073709551615/);
  });

  it('answers a rewind past the end of the log with a 422, and takes one at the end', async () => {
    const last = BigInt((await api.call('GET', '/health', api.keys.auditor)).body.eventStore.lastPosition as string);
    expect(await refused('POST', '/projections/settlement/rewind', { toPosition: (1n << 63n).toString() })).toEqual(['toPosition']);
    expect(await refused('POST', '/projections/settlement/rewind', { toPosition: (last + 1n).toString() })).toEqual(['toPosition']);
    expect((await api.call('POST', '/projections/settlement/rewind', op(), { toPosition: last.toString() })).status).toBe(202);
    const status = async () => ((await api.call('GET', '/projections', api.keys.auditor)).body.projections as { name: string; status: string }[])[0];
    await waitUntil(async () => (await status()).status === 'paused');
    expect((await api.call('POST', '/projections/settlement/resume', op(), {})).status).toBe(202);
  });

  it('shows a projection that stopped making progress as stalled in /health, /projections and /metrics', async () => {
    const settlement = async () =>
      ((await api.call('GET', '/health', api.keys.auditor)).body.projections as { name: string; stalled: boolean; status: string }[]).find(
        (p) => p.name === 'settlement',
      )!;
    // Caught up: not stalled, however long nothing happens.
    await waitUntil(async () => (await settlement()).status === 'running');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await settlement()).stalled).toBe(false);

    // An event the projection cannot apply (written past the command side, which would never accept it): it stops there.
    await api.engine.eventStore.append(
      'stalltest-1',
      [
        {
          id: randomUUID(),
          type: 'EpochClosed',
          data: { epoch: 999, cutOffPosition: '0' },
          metadata: { correlationId: 'test', causationId: 'test', actor: 'test' },
        },
      ],
      {
        expectedRevision: 'any',
      },
    );
    await waitUntil(async () => (await settlement()).stalled);
    expect(await settlement()).toMatchObject({ stalled: true });
    const developers = ((await api.call('GET', '/health', api.keys.auditor)).body.projections as { name: string; stalled: boolean }[]).find(
      (p) => p.name === 'developers',
    );
    expect(developers?.stalled).toBe(false);
    const listed = (await api.call('GET', '/projections', api.keys.auditor)).body;
    expect(JSON.stringify(listed)).toMatch(/"stalled":true/);
    const metrics = await fetch(`${api.engine.url}/metrics`, { headers: { authorization: `Bearer ${api.keys.operator}` } }).then((r) => r.text());
    expect(metrics).toMatch(/synq_projection_stalled\{projection="settlement"\} 1/);
    expect(metrics).toMatch(/synq_projection_stalled\{projection="developers"\} 0/);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
