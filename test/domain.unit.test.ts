import { burnForCredits, evolveDeveloper, type DeveloperEvent, type DeveloperState } from '../domain/developer';
import { acceptReport, canonicalReportText, evolveMetricReports, initialMetricReports, parseMetricReport, voidLateReports } from '../domain/metric-report';
import { closeEpoch, evolveNetwork, initialNetwork, openEpoch, type NetworkEvent, type NetworkState } from '../domain/network';
import { policyFor, GENESIS_POLICY } from '../domain/policy';
import { CommandRejected } from '../domain/rejection';
import { evolveStake, heldStake, initialStake, slash, type StakeEvent, type StakeState } from '../domain/stake';
import { changePayoutWallet, evolveSynqer, payoutWalletFor, register, type SynqerEvent, type SynqerState } from '../domain/synqer';
import { base58Decode, base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519, verifyEd25519 } from '../src/commands/ed25519';

const replay = <S, E>(initial: S, evolve: (s: S, e: E) => S, events: E[]) => events.reduce(evolve, initial);
const key = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed + i * 11) % 256));

function rejection(action: () => unknown): CommandRejected {
  try {
    action();
  } catch (error) {
    if (error instanceof CommandRejected) return error;
    throw error;
  }
  throw new Error('expected the command to be refused');
}

describe('domain', () => {
  it('encodes reports canonically, byte for byte as documented', () => {
    const report = parseMetricReport({
      reportId: 'r-1',
      synqerId: 'alpha',
      epoch: 3,
      periodStart: '2026-11-01T00:00:00Z',
      periodEnd: '2026-11-01T00:05:00Z',
      bytes: '18446744073709551616',
      sessions: 7,
      uptimeSeconds: 300,
      qosBps: 9999,
      signature: 'x',
    });
    expect(canonicalReportText(report)).toBe(
      'synq-metric-report/v1\nreportId:r-1\nsynqerId:alpha\nepoch:3\nperiodStart:2026-11-01T00:00:00Z\nperiodEnd:2026-11-01T00:05:00Z\n' +
        'bytes:18446744073709551616\nsessions:7\nuptimeSeconds:300\nqosBps:9999',
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
    const epoch = { epoch: 1, start: Date.parse('2026-01-01T00:00:00Z') / 1000, end: Date.parse('2026-01-08T00:00:00Z') / 1000, rewardPool: 1n, status: 'open' as const };
    const synqer = replay<SynqerState | undefined, SynqerEvent>(undefined, evolveSynqer, register(undefined, { synqerId: 'alpha', payoutWallet: key(1), reportingKey: key(2), region: 'eu' }));
    const report = (reportId: string, from: string, to: string) =>
      parseMetricReport({ reportId, synqerId: 'alpha', epoch: 1, periodStart: `2026-01-01T${from}Z`, periodEnd: `2026-01-01T${to}Z`, bytes: '1', sessions: 1, uptimeSeconds: 0, qosBps: 1, signature: 'x' });
    const context = { synqer, epoch, verify: () => true };
    let state = initialMetricReports();
    for (const [id, from, to] of [['c', '00:20:00', '00:30:00'], ['a', '00:00:00', '00:10:00'], ['b', '00:10:00', '00:20:00'], ['e', '01:00:00', '01:10:00']]) {
      state = acceptReport(state, report(id, from, to), context).reduce(evolveMetricReports, state);
    }
    expect(state.periods.map((p) => p.reportId)).toEqual(['a', 'b', 'c', 'e']);
    expect(rejection(() => acceptReport(state, report('x', '00:29:59', '00:31:00'), context)).problems[0].reason).toBe('overlaps the period of report c');
    expect(rejection(() => acceptReport(state, report('x', '00:05:00', '00:06:00'), context)).problems[0].reason).toBe('overlaps the period of report a');
    expect(rejection(() => acceptReport(state, report('x', '00:50:00', '02:00:00'), context)).problems[0].reason).toBe('overlaps the period of report e');
    expect(acceptReport(state, report('d', '00:30:00', '01:00:00'), context)).toHaveLength(1);
  });

  it('pays an epoch to the wallet in force for it: a change applies from the next epoch', () => {
    const events: SynqerEvent[] = register(undefined, { synqerId: 'alpha', payoutWallet: key(1), reportingKey: key(2), region: 'eu' });
    let state = replay<SynqerState | undefined, SynqerEvent>(undefined, evolveSynqer, events);
    state = replay(state, evolveSynqer, changePayoutWallet(state, { payoutWallet: key(3) }, 4));
    expect(payoutWalletFor(state!, 4)).toBe(key(1));
    expect(payoutWalletFor(state!, 5)).toBe(key(3));
  });

  it('opens epochs in order within the treasury and closes them at a cut-off', () => {
    let state: NetworkState = replay(initialNetwork(), evolveNetwork, [{ type: 'TreasuryFunded', data: { amount: '100', reference: 'a' } } as NetworkEvent]);
    state = replay(state, evolveNetwork, openEpoch(state, { epoch: 1, start: '2026-01-01T00:00:00Z', end: '2026-01-08T00:00:00Z', rewardPool: '60' }));
    expect(rejection(() => openEpoch(state, { epoch: 2, start: '2026-01-08T00:00:00Z', end: '2026-01-15T00:00:00Z', rewardPool: '41' })).problems).toEqual([
      { field: 'rewardPool', reason: 'exceeds the unallocated treasury (40 base units available)' },
    ]);
    state = replay(state, evolveNetwork, closeEpoch(state, { epoch: 1 }, 1234n));
    expect(state.epochs.get(1)).toMatchObject({ status: 'closed', cutOffPosition: 1234n });
    expect(policyFor(state.policies, 1)).toBe(GENESIS_POLICY);
  });

  it('refuses a report whose signature is not the reporting key of its synqer', () => {
    const keypair = generateReportingKeypair();
    const synqer = replay<SynqerState | undefined, SynqerEvent>(
      undefined,
      evolveSynqer,
      register(undefined, { synqerId: 'alpha', payoutWallet: key(1), reportingKey: publicKeyOf(keypair), region: 'eu' }),
    );
    const content = { reportId: 'r-1', synqerId: 'alpha', epoch: 1, periodStart: '2026-01-01T00:00:00Z', periodEnd: '2026-01-01T00:01:00Z', bytes: '1', sessions: 1, uptimeSeconds: 60, qosBps: 1 };
    const epoch = { epoch: 1, start: Date.parse('2026-01-01T00:00:00Z') / 1000, end: Date.parse('2026-01-08T00:00:00Z') / 1000, rewardPool: 1n, status: 'open' as const };
    const good = parseMetricReport({ ...content, signature: signEd25519(new TextEncoder().encode(canonicalReportText(content)), keypair) });
    expect(acceptReport(initialMetricReports(), good, { synqer, epoch, verify: verifyEd25519 })).toHaveLength(1);
    const forged = { ...good, bytes: '2' };
    expect(rejection(() => acceptReport(initialMetricReports(), forged, { synqer, epoch, verify: verifyEd25519 })).problems[0].field).toBe('signature');

    // Recorded after the epoch's cut-off (the close won the race): voided, and a retry is refused with the reason.
    let state = acceptReport(initialMetricReports(), good, { synqer, epoch, verify: verifyEd25519 }).reduce(evolveMetricReports, initialMetricReports());
    state = voidLateReports([good.reportId], { ...epoch, status: 'closed' }).reduce(evolveMetricReports, state);
    expect(state.periods).toEqual([]);
    expect(rejection(() => acceptReport(state, good, { synqer, epoch, verify: verifyEd25519 })).problems).toEqual([
      { field: 'epoch', reason: 'epoch 1 closed before this report was recorded' },
    ]);
  });

  it('slashes active stake first, then stake waiting to be withdrawn, never more than is held', () => {
    let state: StakeState = replay(initialStake(), evolveStake, [
      { type: 'StakeDeposited', data: { synqerId: 'a', depositId: 'd', amount: '100' } },
      { type: 'UnstakeRequested', data: { synqerId: 'a', requestId: 'u', amount: '30', unlockEpoch: 3 } },
    ] as StakeEvent[]);
    const [slashed] = slash(state, 'a', { slashId: 's', amount: '90', reason: 'downtime fraud' });
    expect(slashed.data).toMatchObject({ requested: '90', amount: '90', fromActive: '70' });
    state = evolveStake(state, slashed);
    expect(state.unstaking.get('u')!.amount).toBe(10n);
    expect(heldStake(state)).toBe(10n);
    expect(slash(state, 'a', { slashId: 's2', amount: '500', reason: 'again' })[0].data).toMatchObject({ requested: '500', amount: '10' });
  });

  it('burns only for whole credits and never below a zero balance', () => {
    const state = replay<DeveloperState | undefined, DeveloperEvent>(undefined, evolveDeveloper, [
      { type: 'DeveloperRegistered', data: { developerId: 'd', wallet: key(1) } },
      { type: 'TokensPurchased', data: { purchaseId: 'p', amount: '3000000', paymentReference: 'x' } },
    ]);
    const [burnt] = burnForCredits(state, { burnId: 'b', amount: '2000000' }, 3n);
    expect(burnt.data).toMatchObject({ credits: '6', creditsPerToken: '3' });
    const after = evolveDeveloper(state, burnt);
    expect(after).toMatchObject({ tokenBalance: 1000000n, credits: 6n });
    expect(burnForCredits(after, { burnId: 'b', amount: '2000000' }, 3n)).toEqual([]);
    expect(rejection(() => burnForCredits(after, { burnId: 'b', amount: '1000000' }, 3n)).kind).toBe('conflict');
    expect(rejection(() => burnForCredits(after, { burnId: 'c', amount: '1500000' }, 3n)).problems[0].reason).toContain('a multiple of 1000000 base units');
    expect(rejection(() => burnForCredits(after, { burnId: 'c', amount: '2000000' }, 3n)).problems[0].reason).toBe('exceeds the token balance (1000000 base units)');
  });
});
