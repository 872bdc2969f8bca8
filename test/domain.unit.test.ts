import { developerDecider, type DeveloperEvent } from '../domain/developer';
import {
  canonicalReportText,
  metricReportsDecider,
  parseMetricReport,
  type MetricReport,
  type MetricReportEvent,
  type MetricReportsCommand,
} from '../domain/metric-report';
import { networkDecider, type NetworkEvent } from '../domain/network';
import { policyFor, GENESIS_POLICY } from '../domain/policy';
import { heldStake, stakeDecider, type StakeEvent } from '../domain/stake';
import { payoutWalletFor, synqerDecider, type SynqerEvent, type SynqerState } from '../domain/synqer';
import { base58Decode, base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519, verifyEd25519 } from '../src/commands/ed25519';
import { DeciderSpecification } from './support/decider-specification';

const key = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed + i * 11) % 256));
const registeredSynqer = (reportingKey: string): SynqerState | undefined =>
  synqerDecider.evolve(undefined, { type: 'SynqerRegistered', data: { synqerId: 'alpha', payoutWallet: key(1), reportingKey, region: 'eu', labels: {} } });
/** As recorded: the report and the reporting key that verified it. */
const accepted = (report: MetricReport, reportingKey = key(2)): MetricReportEvent => ({ type: 'MetricReportAccepted', data: { ...report, reportingKey } });

describe('domain', () => {
  it('encodes reports canonically, byte for byte as documented (counters up to u64)', () => {
    const report = parseMetricReport({
      reportId: 'r-1',
      synqerId: 'alpha',
      epoch: 3,
      periodStart: '2026-11-01T00:00:00Z',
      periodEnd: '2026-11-01T00:05:00Z',
      bytes: '18446744073709551615',
      sessions: 7,
      uptimeSeconds: 300,
      qosBps: 9999,
      signature: 'x',
    });
    expect(canonicalReportText(report)).toBe(
      'synq-metric-report/v1\nreportId:r-1\nsynqerId:alpha\nepoch:3\nperiodStart:2026-11-01T00:00:00Z\nperiodEnd:2026-11-01T00:05:00Z\n' +
        'bytes:18446744073709551615\nsessions:7\nuptimeSeconds:300\nqosBps:9999',
    );
  });

  it('round-trips base58 with leading zero bytes', () => {
    const bytes = Uint8Array.from([0, 0, 1, 2, 255, ...Array(27).fill(9)]);
    expect(base58Decode(base58Encode(bytes))).toEqual(bytes);
    expect(base58Encode(bytes).startsWith('11')).toBe(true);
    expect(base58Decode('0OIl')).toBeUndefined();
  });

  it('decodes and encodes base58 as the plain big-number definition does, for every length up to 70 bytes', () => {
    const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
    const definition = (bytes: Uint8Array) => {
      let value = 0n;
      for (const byte of bytes) value = (value << 8n) | BigInt(byte);
      let text = '';
      for (; value > 0n; value /= 58n) text = alphabet[Number(value % 58n)] + text;
      return '1'.repeat(bytes.findIndex((b) => b !== 0) === -1 ? bytes.length : bytes.findIndex((b) => b !== 0)) + text;
    };
    let seed = 7;
    for (let length = 1; length <= 70; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i < length % 3 ? 0 : (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256));
      expect(base58Encode(bytes)).toBe(definition(bytes));
      expect(base58Decode(definition(bytes))).toEqual(bytes);
    }
  });

  it('finds an overlapping period among reports that arrived out of order', () => {
    const spec = DeciderSpecification.for(metricReportsDecider);
    const epoch = {
      epoch: 1,
      start: Date.parse('2026-01-01T00:00:00Z') / 1000,
      end: Date.parse('2026-01-08T00:00:00Z') / 1000,
      rewardPool: 1n,
      status: 'open' as const,
    };
    const report = (reportId: string, from: string, to: string) =>
      parseMetricReport({
        reportId,
        synqerId: 'alpha',
        epoch: 1,
        periodStart: `2026-01-01T${from}Z`,
        periodEnd: `2026-01-01T${to}Z`,
        bytes: '1',
        sessions: 1,
        uptimeSeconds: 0,
        qosBps: 1,
        signature: 'x',
      });
    const context = { synqer: registeredSynqer(key(2)), epoch, verify: () => true, now: epoch.end, clockSkewSeconds: 300 };
    const accept = (report: MetricReport): MetricReportsCommand => ({ type: 'AcceptReport', data: { report, context } });
    const history: MetricReportEvent[] = [];
    let state = metricReportsDecider.initial();
    for (const [id, from, to] of [
      ['c', '00:20:00', '00:30:00'],
      ['a', '00:00:00', '00:10:00'],
      ['b', '00:10:00', '00:20:00'],
      ['e', '01:00:00', '01:10:00'],
    ]) {
      const next = report(id, from, to);
      state = spec
        .given(history)
        .when(accept(next))
        .then([accepted(next)]);
      history.push(accepted(next));
    }
    expect(state.periods.map((p) => p.reportId)).toEqual(['a', 'b', 'c', 'e']);
    spec
      .given(history)
      .when(accept(report('x', '00:29:59', '00:31:00')))
      .thenRejects(undefined, { reason: 'overlaps the period of report c' });
    spec
      .given(history)
      .when(accept(report('x', '00:05:00', '00:06:00')))
      .thenRejects(undefined, { reason: 'overlaps the period of report a' });
    spec
      .given(history)
      .when(accept(report('x', '00:50:00', '02:00:00')))
      .thenRejects(undefined, { reason: 'overlaps the period of report e' });
    const fits = report('d', '00:30:00', '01:00:00');
    spec
      .given(history)
      .when(accept(fits))
      .then([accepted(fits)]);
  });

  it('pays an epoch to the wallet in force for it: a change applies from the next epoch', () => {
    const spec = DeciderSpecification.for(synqerDecider);
    const registered: SynqerEvent = {
      type: 'SynqerRegistered',
      data: { synqerId: 'alpha', payoutWallet: key(1), reportingKey: key(2), region: 'eu', labels: {} },
    };
    spec
      .given([])
      .when({ type: 'RegisterSynqer', data: { synqerId: 'alpha', payoutWallet: key(1), reportingKey: key(2), region: 'eu' } })
      .then([registered]);
    const state = spec
      .given([registered])
      .when({ type: 'ChangePayoutWallet', data: { payoutWallet: key(3), lastOpenedEpoch: 4 } })
      .then([{ type: 'PayoutWalletChanged', data: { synqerId: 'alpha', payoutWallet: key(3), effectiveFromEpoch: 5 } }]);
    expect(payoutWalletFor(state!, 4)).toBe(key(1));
    expect(payoutWalletFor(state!, 5)).toBe(key(3));
  });

  it('opens epochs in order within the treasury and closes them at a cut-off', () => {
    const spec = DeciderSpecification.for(networkDecider);
    const funded: NetworkEvent = { type: 'TreasuryFunded', data: { amount: '100', reference: 'a' } };
    const opened: NetworkEvent = { type: 'EpochOpened', data: { epoch: 1, start: '2026-01-01T00:00:00Z', end: '2026-01-08T00:00:00Z', rewardPool: '60' } };
    spec
      .given([funded])
      .when({ type: 'OpenEpoch', data: { epoch: 1, start: '2026-01-01T00:00:00Z', end: '2026-01-08T00:00:00Z', rewardPool: '60' } })
      .then([opened]);
    spec
      .given([funded, opened])
      .when({ type: 'OpenEpoch', data: { epoch: 2, start: '2026-01-08T00:00:00Z', end: '2026-01-15T00:00:00Z', rewardPool: '41' } })
      .thenRejects(undefined, [{ field: 'rewardPool', reason: 'exceeds the unallocated treasury (40 base units available)' }]);
    const state = spec
      .given([funded, opened])
      .when({ type: 'CloseEpoch', data: { epoch: 1 } })
      .then([{ type: 'EpochClosed', data: { epoch: 1 } }]);
    expect(state.epochs.get(1)).toMatchObject({ status: 'closed' });
    // The cut-off is the close's own position (the last position before it); an older close names it in its data.
    const open = [funded, opened].reduce((state, event) => networkDecider.evolve(state, event), networkDecider.initial());
    expect(networkDecider.evolve(open, { type: 'EpochClosed', data: { epoch: 1 }, position: 1235n }).epochs.get(1)?.cutOffPosition).toBe(1234n);
    expect(
      networkDecider.evolve(open, { type: 'EpochClosed', data: { epoch: 1, cutOffPosition: '1000' }, position: 1235n }).epochs.get(1)?.cutOffPosition,
    ).toBe(1000n);
    expect(policyFor(state.policies, 1)).toBe(GENESIS_POLICY);
  });

  it('refuses a report whose signature is not the reporting key of its synqer', () => {
    const spec = DeciderSpecification.for(metricReportsDecider);
    const keypair = generateReportingKeypair();
    const synqer = registeredSynqer(publicKeyOf(keypair));
    const content = {
      reportId: 'r-1',
      synqerId: 'alpha',
      epoch: 1,
      periodStart: '2026-01-01T00:00:00Z',
      periodEnd: '2026-01-01T00:01:00Z',
      bytes: '1',
      sessions: 1,
      uptimeSeconds: 60,
      qosBps: 1,
    };
    const epoch = {
      epoch: 1,
      start: Date.parse('2026-01-01T00:00:00Z') / 1000,
      end: Date.parse('2026-01-08T00:00:00Z') / 1000,
      rewardPool: 1n,
      status: 'open' as const,
    };
    const accept = (report: MetricReport): MetricReportsCommand => ({
      type: 'AcceptReport',
      data: { report, context: { synqer, epoch, verify: verifyEd25519, now: epoch.end, clockSkewSeconds: 300 } },
    });
    const good = parseMetricReport({ ...content, signature: signEd25519(new TextEncoder().encode(canonicalReportText(content)), keypair) });
    spec
      .given([])
      .when(accept(good))
      .then([accepted(good, synqer!.reportingKey)]);
    const forged = { ...good, bytes: '2' };
    spec.given([]).when(accept(forged)).thenRejects(undefined, { field: 'signature' });

    // Recorded after the epoch's cut-off (the close won the race): voided, and a retry is refused with the reason.
    const voided: MetricReportEvent = { type: 'MetricReportVoided', data: { reportId: 'r-1', reason: 'epoch 1 closed before this report was recorded' } };
    const state = spec
      .given([accepted(good)])
      .when({ type: 'VoidLateReports', data: { reportIds: [good.reportId], epoch: { ...epoch, status: 'closed' } } })
      .then([voided]);
    expect(state.periods).toEqual([]);
    spec
      .given([accepted(good), voided])
      .when(accept(good))
      .thenRejects(undefined, [{ field: 'epoch', reason: 'epoch 1 closed before this report was recorded' }]);
  });

  it('slashes active stake first, then stake waiting to be withdrawn, never more than is held', () => {
    const spec = DeciderSpecification.for(stakeDecider);
    const history: StakeEvent[] = [
      { type: 'StakeDeposited', data: { synqerId: 'a', depositId: 'd', amount: '100' } },
      { type: 'UnstakeRequested', data: { synqerId: 'a', requestId: 'u', amount: '30', unlockEpoch: 3 } },
    ];
    const slashed: StakeEvent = {
      type: 'StakeSlashed',
      data: { synqerId: 'a', slashId: 's', requested: '90', amount: '90', fromActive: '70', reason: 'downtime fraud' },
    };
    const state = spec
      .given(history)
      .when({ type: 'SlashStake', data: { synqerId: 'a', slashId: 's', amount: '90', reason: 'downtime fraud' } })
      .then([slashed]);
    expect(state.unstaking.get('u')!.amount).toBe(10n);
    expect(heldStake(state)).toBe(10n);
    spec
      .given([...history, slashed])
      .when({ type: 'SlashStake', data: { synqerId: 'a', slashId: 's2', amount: '500', reason: 'again' } })
      .then([{ type: 'StakeSlashed', data: { synqerId: 'a', slashId: 's2', requested: '500', amount: '10', fromActive: '0', reason: 'again' } }]);
  });

  it('burns only for whole credits and never below a zero balance', () => {
    const spec = DeciderSpecification.for(developerDecider);
    const history: DeveloperEvent[] = [
      { type: 'DeveloperRegistered', data: { developerId: 'd', wallet: key(1) } },
      { type: 'TokensPurchased', data: { purchaseId: 'p', amount: '3000000', paymentReference: 'x' } },
    ];
    const burnt: DeveloperEvent = { type: 'TokensBurnedForCredits', data: { burnId: 'b', amount: '2000000', creditsPerToken: '3', credits: '6' } };
    const burn = (burnId: string, amount: string) => ({ type: 'BurnForCredits' as const, data: { burnId, amount, creditsPerToken: 3n } });
    const after = spec.given(history).when(burn('b', '2000000')).then([burnt]);
    expect(after).toMatchObject({ tokenBalance: 1000000n, credits: 6n });
    spec
      .given([...history, burnt])
      .when(burn('b', '2000000'))
      .thenNothingHappened();
    spec
      .given([...history, burnt])
      .when(burn('b', '1000000'))
      .thenRejects('conflict');
    spec
      .given([...history, burnt])
      .when(burn('c', '1500000'))
      .thenRejects(undefined, { reason: expect.stringContaining('a multiple of 1000000 base units') });
    spec
      .given([...history, burnt])
      .when(burn('c', '2000000'))
      .thenRejects(undefined, { reason: 'exceeds the token balance (1000000 base units)' });
  });
});
