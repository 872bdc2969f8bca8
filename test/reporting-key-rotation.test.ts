import { canonicalReportBytes, metricsStream, type MetricReport } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { Audit } from '../src/audit/audit';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { deterministicId } from '../src/commands/streams';
import { ProjectionReader } from '../src/projections/projection-reader';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { EPOCH_START, instant } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Reporting keys (issue 16): refused when small-order, non-canonical or the identity, at registration and rotation; a
 * rotation is an event (`ReportingKeyRotated`) from whose position on the new key verifies reports and the old one is
 * refused; the books (settlement projection and audit alike) count a report only if the key that verified it was in
 * force where it was recorded, so a report in flight during the rotation never counts.
 */

const IDENTITY = base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)));
const ALL_ZERO = base58Encode(new Uint8Array(32));
const ALL_FF = base58Encode(new Uint8Array(32).fill(0xff));
const BAD_KEYS = { 'all zero': ALL_ZERO, identity: IDENTITY, 'all 0xff': ALL_FF };

describe('reporting keys: strict keys and rotation', () => {
  let api: TestApi;
  const first = generateReportingKeypair();
  const second = generateReportingKeypair();
  const wallet = publicKeyOf(generateReportingKeypair());
  const op = () => api.keys.operator;

  function report(slot: number, keypair: Uint8Array, synqerId = 'rot1'): MetricReport {
    const content = {
      reportId: `${synqerId}-r${slot}`,
      synqerId,
      epoch: 1,
      periodStart: instant(EPOCH_START + slot * 300),
      periodEnd: instant(EPOCH_START + slot * 300 + 300),
      bytes: String(1_000_000 + slot),
      sessions: 3,
      uptimeSeconds: 300,
      qosBps: 9_500,
    };
    return { ...content, signature: signEd25519(canonicalReportBytes(content), keypair) };
  }
  const submit = async (...reports: MetricReport[]) => (await api.call('POST', '/metric-reports', api.keys.ingest, { reports })).body;

  beforeAll(async () => {
    api = await startTestApi();
    expect((await api.call('POST', '/synqers', op(), { synqerId: 'rot1', payoutWallet: wallet, reportingKey: publicKeyOf(first), region: 'eu' })).status).toBe(
      201,
    );
    expect((await api.call('POST', '/treasury/fundings', op(), { amount: '5000000000', reference: 'rotation-seed' })).status).toBe(201);
    const opened = await api.call('POST', '/epochs', op(), { epoch: 1, start: instant(EPOCH_START), end: instant(EPOCH_START + 3600), rewardPool: '1000000' });
    expect(opened.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    if (api) await expectMoneyInvariants(api);
    await api?.close();
  });

  for (const [name, key] of Object.entries(BAD_KEYS)) {
    it(`refuses ${name} as a reporting key at registration and at rotation, with 422 naming reportingKey`, async () => {
      const registered = await api.call('POST', '/synqers', op(), {
        synqerId: `bad-${name.replace(/\W/g, '')}`,
        payoutWallet: wallet,
        reportingKey: key,
        region: 'eu',
      });
      expect(registered.status).toBe(422);
      expect(registered.body.problems).toEqual([{ field: 'reportingKey', reason: expect.stringMatching(/ed25519/) }]);
      const rotated = await api.call('POST', '/synqers/rot1/reporting-key', op(), { reportingKey: key });
      expect(rotated.status).toBe(422);
      expect(rotated.body.problems).toEqual([{ field: 'reportingKey', reason: expect.stringMatching(/ed25519/) }]);
    });
  }

  it('refuses the trivial signature (R = identity, S = 0) for an identity key recorded before keys were checked', async () => {
    // A synqer registered with the identity key before this check existed: its stream is written directly.
    await api.engine.eventStore.append('synqer-legacy', [
      {
        id: deterministicId('synqer-legacy registered'),
        type: 'SynqerRegistered',
        data: { synqerId: 'legacy', payoutWallet: wallet, reportingKey: IDENTITY, region: 'eu', labels: {} },
        metadata: { actor: 'test', correlationId: 'c', causationId: 'c' },
      },
    ]);
    const forged = { ...report(9, first, 'legacy'), signature: base58Encode(Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 1 : 0))) };
    const answer = await submit(forged);
    expect(answer).toMatchObject({ accepted: 0, refused: 1 });
    expect(answer.results[0].problems).toEqual([{ field: 'signature', reason: expect.any(String) }]);
  });

  it('only an operator rotates; an unknown synqer is 404', async () => {
    for (const role of ['ingest', 'auditor', 'developer'] as const) {
      expect((await api.call('POST', '/synqers/rot1/reporting-key', api.keys[role], { reportingKey: publicKeyOf(second) })).status).toBe(403);
    }
    expect((await api.call('POST', '/synqers/nobody/reporting-key', op(), { reportingKey: publicKeyOf(second) })).status).toBe(404);
  });

  it("rotates: the old key's reports are accepted before and refused after, the new key's accepted after", async () => {
    expect(await submit(report(0, first))).toMatchObject({ accepted: 1, refused: 0 });
    expect(await submit(report(1, second))).toMatchObject({ accepted: 0, refused: 1 });

    const rotated = await api.call('POST', '/synqers/rot1/reporting-key', op(), { reportingKey: publicKeyOf(second), reason: 'key leaked' });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ synqerId: 'rot1', reportingKey: publicKeyOf(second), reportingKeys: [publicKeyOf(first), publicKeyOf(second)] });

    const old = await submit(report(2, first));
    expect(old).toMatchObject({ accepted: 0, refused: 1 });
    expect(old.results[0].problems).toEqual([{ field: 'signature', reason: expect.stringMatching(/reporting key/) }]);
    expect(await submit(report(3, second))).toMatchObject({ accepted: 1, refused: 0 });

    const events = [];
    for await (const event of api.engine.eventStore.readStream('synqer-rot1')) events.push(event);
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ['SynqerRegistered', expect.objectContaining({ reportingKey: publicKeyOf(first) })],
      ['ReportingKeyRotated', { synqerId: 'rot1', reportingKey: publicKeyOf(second), previousKey: publicKeyOf(first), reason: 'key leaked' }],
    ]);
    // The accepted reports name the key that verified them.
    const accepted = [];
    for await (const event of api.engine.eventStore.readStream(metricsStream('rot1', 1))) accepted.push(event.data);
    expect(accepted.map((data) => [data.reportId, data.reportingKey])).toEqual([
      ['rot1-r0', publicKeyOf(first)],
      ['rot1-r3', publicKeyOf(second)],
    ]);
  });

  it('rotating to the key in force is a no-op; back to a retired key is a conflict; registering again as first registered still answers', async () => {
    const again = await api.call('POST', '/synqers/rot1/reporting-key', op(), { reportingKey: publicKeyOf(second) });
    expect(again.status).toBe(200);
    const back = await api.call('POST', '/synqers/rot1/reporting-key', op(), { reportingKey: publicKeyOf(first) });
    expect(back.status).toBe(409);
    expect(back.body.problems).toEqual([{ field: 'reportingKey', reason: expect.stringMatching(/retired/) }]);
    const registered = await api.call('POST', '/synqers', op(), { synqerId: 'rot1', payoutWallet: wallet, reportingKey: publicKeyOf(first), region: 'eu' });
    expect(registered.status).toBe(201);
    let count = 0;
    for await (const event of api.engine.eventStore.readStream('synqer-rot1')) if (event.type === 'ReportingKeyRotated') count++;
    expect(count).toBe(1);
  });

  it('a report in flight during the rotation (decided with the old key, recorded after) never counts, in the projection and the audit alike', async () => {
    // What a batch decided just before the rotation and appended just after it records: the old key named.
    const inFlight = report(4, first);
    await api.engine.eventStore.append(metricsStream('rot1', 1), [
      {
        id: deterministicId('in flight'),
        type: 'MetricReportAccepted',
        data: { ...inFlight, reportingKey: publicKeyOf(first) },
        metadata: { actor: 'test', correlationId: 'c', causationId: 'c' },
      },
      // ... and the void the ingestion then appends once it sees the rotation before it (its sender is told "refused").
      {
        id: deterministicId('in flight voided'),
        type: 'MetricReportVoided',
        data: { reportId: inFlight.reportId, reason: 'the reporting key was rotated before this report was recorded' },
        metadata: { actor: 'test', correlationId: 'c', causationId: 'c' },
      },
    ]);
    const closed = await awaitJob(api, api.call('POST', '/epochs/1/close', op()));
    expect(closed.status).toBe(200);
    const rewards = (await api.call('GET', '/epochs/1/rewards', api.keys.auditor)).body.results as { synqerId: string; bytes: string }[];
    // r0 (before the rotation, old key) and r3 (after it, new key) count; r4 does not.
    expect(rewards.find((r) => r.synqerId === 'rot1')?.bytes).toBe(String(1_000_000 + 0 + 1_000_000 + 3));
    const audit = await new Audit(api.engine.eventStore, new ProjectionReader(api.engine.database.pool)).run({ epoch: 1 });
    expect(audit).toMatchObject({ ok: true, epochs: [{ epoch: 1, status: expect.stringMatching(/match|incomplete/), mismatches: [] }] });
  });
});
