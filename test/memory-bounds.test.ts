import { canonicalReportBytes, metricReportsDecider } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { FoldedStreamCache } from '../src/commands/streams';
import { SubmitMetricReportsHandler } from '../src/metric-reports/metric-reports';
import { phaseAdjustedSlope } from '../bench/soak';
import { startTestApi, type TestApi } from './support/api';
import { awaitJob } from './support/jobs';

/** What bench/soak found growing under a steady load, held to a bound (issue 17 item 7). */

describe("bench/soak's verdict", () => {
  it('reads a drift across epoch cycles as growth, and the sawtooth of one cycle as none', () => {
    const minutes = [5, 6, 7, 8, 9, 10, 11, 12, 13];
    const phase = minutes.map((m) => m % 3);
    const sawtooth = minutes.map((m) => 44 + 3 * (m % 3));
    expect(phaseAdjustedSlope(minutes, sawtooth, phase)).toBeCloseTo(0, 9);
    // The plain slope of the same points is not 0: the reason for one intercept per phase.
    expect(
      Math.abs(
        phaseAdjustedSlope(
          minutes,
          sawtooth,
          minutes.map(() => 0),
        ),
      ),
    ).toBeGreaterThan(0.1);
    const leaking = sawtooth.map((y, i) => y + 2.5 * minutes[i]);
    expect(phaseAdjustedSlope(minutes, leaking, phase)).toBeCloseTo(2.5, 9);
  });
});

describe('folded stream cache bounds', () => {
  const stateOf = (reports: number) => {
    const state = metricReportsDecider.initial();
    for (let i = 0; i < reports; i++) state.reports.set(`r${i}`, 'text');
    return state;
  };

  it('holds at most maxWeight in all when its states are weighed, least recently used dropped first', () => {
    const cache = new FoldedStreamCache(metricReportsDecider, 50_000, { weigh: (state) => state.reports.size, maxWeight: 1_000 });
    for (let i = 0; i < 500; i++) cache.set(`metrics-s${i}-1`, stateOf(10), 9n);
    expect(cache.totalWeight).toBeLessThanOrEqual(1_000);
    expect(cache.size).toBe(100);
    // The same stream set again (its state grew in place) is weighed anew, not twice.
    cache.set('metrics-s499-1', stateOf(50), 10n);
    expect(cache.totalWeight).toBeLessThanOrEqual(1_000);
    expect(cache.size).toBe(96);
    cache.delete('metrics-s499-1');
    expect(cache.totalWeight).toBe(950);
  });

  it('drops the streams a predicate names', () => {
    const cache = new FoldedStreamCache(metricReportsDecider, 50_000, { weigh: (state) => state.reports.size, maxWeight: 1_000_000 });
    for (let i = 0; i < 10; i++) for (const epoch of [1, 2]) cache.set(`metrics-s${i}-${epoch}`, stateOf(3), 2n);
    cache.deleteWhere((stream) => stream.endsWith('-1'));
    expect(cache.size).toBe(10);
    expect(cache.totalWeight).toBe(30);
  });
});

describe('the command side forgets closed epochs', () => {
  let api: TestApi;
  const keypair = generateReportingKeypair();
  const wallet = base58Encode(Uint8Array.from({ length: 32 }, (_, i) => i + 7));
  const day = 86_400;
  const start = Date.UTC(2026, 0, 1) / 1000;
  const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  const report = (epoch: number, n: number) => {
    const from = start + (epoch - 1) * day + n * 60;
    const content = {
      reportId: `forget-${epoch}-${n}`,
      synqerId: 'forgetful',
      epoch,
      periodStart: instant(from),
      periodEnd: instant(from + 60),
      bytes: '1000',
      sessions: 1,
      uptimeSeconds: 60,
      qosBps: 9_000,
    };
    return { ...content, signature: signEd25519(canonicalReportBytes(content), keypair) };
  };
  const submit = async (reports: unknown[]) => {
    const answer = await api.call('POST', '/metric-reports', api.keys.ingest, { reports });
    expect(answer.status).toBe(200);
    return answer.body as { accepted: number; duplicate: number; refused: number };
  };
  const open = async (epoch: number) => {
    const answer = await api.call('POST', '/epochs', api.keys.operator, {
      epoch,
      start: instant(start + (epoch - 1) * day),
      end: instant(start + epoch * day),
      rewardPool: '1000',
    });
    expect(answer.status).toBe(201);
  };

  it("drops a closed epoch's folded streams at the close, and still answers a repeat of one of its reports", async () => {
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '1000000', reference: 'forget' })).status).toBe(201);
    const registered = await api.call('POST', '/synqers', api.keys.operator, {
      synqerId: 'forgetful',
      payoutWallet: wallet,
      reportingKey: publicKeyOf(keypair),
      region: 'eu-west',
    });
    expect(registered.status).toBe(201);
    const handler = api.engine.app.get(SubmitMetricReportsHandler);
    await open(1);
    expect(await submit([report(1, 0), report(1, 1), report(1, 2)])).toMatchObject({ accepted: 3 });
    expect(handler.cached).toEqual({ streams: 1, reports: 3 });

    await open(2);
    expect((await awaitJob(api, api.call('POST', '/epochs/1/close', api.keys.operator))).status).toBe(200);
    expect(await submit([report(2, 0)])).toMatchObject({ accepted: 1 });
    // Only epoch 2's stream is kept: epoch 1's three reports went with its close.
    expect(handler.cached).toEqual({ streams: 1, reports: 1 });

    // A repeat of a closed epoch's report is read from the log and answered as before, and is not kept.
    expect(await submit([report(1, 1)])).toMatchObject({ duplicate: 1 });
    expect(await submit([report(1, 3)])).toMatchObject({ refused: 1 });
    expect(handler.cached).toEqual({ streams: 1, reports: 1 });
  });
});
