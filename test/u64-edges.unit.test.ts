import { Keypair } from '@solana/web3.js';
import { buildDistribution, leafHash } from '../domain/merkle-distribution';
import { parseMetricReport } from '../domain/metric-report';
import { fundTreasury, initialNetwork, evolveNetwork, openEpoch, adoptPolicy, type NetworkEvent, type NetworkState } from '../domain/network';
import { CommandRejected } from '../domain/rejection';
import { Checks, U64_MAX } from '../domain/values';
import { spl } from '../src/chain/spl-token';
import { burnChecked, mintToChecked, transferChecked } from '../src/chain/token';

/**
 * Issue 14, item 5: every amount that can reach the chain, a Merkle leaf or a pool is a u64. Before, the API took up to
 * 38 digits and spl-token's encoder kept the low bits (2^64 + 1 was sent as 1); now the edge refuses and the encoders throw.
 */

const TWO_64 = 1n << 64n;
const key = () => Keypair.generate().publicKey;

function problemsOf(run: () => unknown): { kind: string; problems: { field: string; reason: string }[] } {
  try {
    run();
  } catch (error) {
    if (error instanceof CommandRejected) return { kind: error.kind, problems: error.problems };
    throw error;
  }
  throw new Error('not refused');
}

const fold = (events: NetworkEvent[], state: NetworkState = initialNetwork()) => events.reduce(evolveNetwork, state);

describe('the SPL encoders throw instead of truncating', () => {
  /** The u64 little-endian amount at `offset` of an instruction's data. */
  const amountIn = (data: Buffer) => data.readBigUInt64LE(1);

  it.each([
    ['transferChecked', (amount: bigint) => transferChecked(key(), key(), key(), key(), amount)],
    ['mintToChecked', (amount: bigint) => mintToChecked(key(), key(), key(), amount)],
    ['burnChecked', (amount: bigint) => burnChecked(key(), key(), key(), amount)],
    ['spl.createTransferInstruction', (amount: bigint) => spl.createTransferInstruction(key(), key(), key(), amount)],
    ['spl.createMintToInstruction', (amount: bigint) => spl.createMintToInstruction(key(), key(), key(), amount)],
    ['spl.createBurnInstruction', (amount: bigint) => spl.createBurnInstruction(key(), key(), key(), amount)],
  ])('%s: u64::MAX is encoded exactly, 2^64 and 2^64 + 1 throw, a negative amount throws', (_, build) => {
    expect(amountIn(build(U64_MAX).data)).toBe(U64_MAX);
    expect(amountIn(build(123n).data)).toBe(123n);
    expect(() => build(TWO_64)).toThrow(/not a u64/);
    expect(() => build(TWO_64 + 1n)).toThrow(/not a u64/);
    expect(() => build(-1n)).toThrow(/not a u64/);
  });
});

describe('the Merkle leaf encoder throws instead of truncating', () => {
  const wallet = key().toBase58();

  it('a leaf above u64 and a total above u64 are refused', () => {
    expect(() => leafHash(key().toBytes(), TWO_64)).toThrow(/u64/);
    expect(() => buildDistribution([{ wallet, amount: TWO_64 + 1n }])).toThrow(/u64/);
    expect(() =>
      buildDistribution([
        { wallet, amount: U64_MAX },
        { wallet: key().toBase58(), amount: 1n },
      ]),
    ).toThrow(/u64/);
    expect(buildDistribution([{ wallet, amount: U64_MAX }]).total).toBe(U64_MAX);
  });
});

describe('amounts are u64 at the edge', () => {
  it('Checks.amount refuses 2^64, naming the field, and takes u64::MAX', () => {
    const checks = new Checks();
    expect(checks.amount('ok', U64_MAX.toString())).toBe(U64_MAX);
    checks.amount('amount', TWO_64.toString());
    checks.amount('supply', (TWO_64 + 1n).toString(), { allowZero: true });
    expect(problemsOf(() => checks.done())).toEqual({
      kind: 'invalid',
      problems: [
        { field: 'amount', reason: expect.stringMatching(/at most 18446744073709551615/) },
        { field: 'supply', reason: expect.stringMatching(/at most 18446744073709551615/) },
      ],
    });
  });

  it('a funding above u64, or one that would take the books past u64, is refused', () => {
    expect(problemsOf(() => fundTreasury(initialNetwork(), { amount: TWO_64.toString(), reference: 'f1' })).problems[0].field).toBe('amount');
    const funded = fold(fundTreasury(initialNetwork(), { amount: (U64_MAX - 5n).toString(), reference: 'f1' }));
    expect(fundTreasury(funded, { amount: '5', reference: 'f2' })).toHaveLength(1);
    const refused = problemsOf(() => fundTreasury(funded, { amount: '6', reference: 'f2' }));
    expect(refused).toEqual({ kind: 'invalid', problems: [{ field: 'amount', reason: expect.stringMatching(/past 18446744073709551615/) }] });
  });

  it('a reward pool and the policy maxima above u64 are refused', () => {
    const state = fold(fundTreasury(initialNetwork(), { amount: U64_MAX.toString(), reference: 'f1' }));
    const epoch = { epoch: 1, start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' };
    expect(problemsOf(() => openEpoch(state, { ...epoch, rewardPool: TWO_64.toString() })).problems).toEqual([
      { field: 'rewardPool', reason: expect.stringMatching(/u64/) },
    ]);
    const policy = {
      weightBytesBps: 5000,
      weightSessionsBps: 5000,
      minUptimeBps: 0,
      minQosBps: 0,
      stakeBoostMaxBps: 0,
      stakeTarget: TWO_64.toString(),
      creditsPerToken: TWO_64.toString(),
      unstakeCooldownEpochs: 0,
      maxPoolPerEpoch: TWO_64.toString(),
      solPriceInSynq: TWO_64.toString(),
    };
    expect(
      problemsOf(() => adoptPolicy(state, policy))
        .problems.map((p) => p.field)
        .sort(),
    ).toEqual(['creditsPerToken', 'maxPoolPerEpoch', 'solPriceInSynq', 'stakeTarget']);
  });

  it("a metric report's bytes above u64 are refused", () => {
    const report = {
      reportId: 'r1',
      synqerId: 's1',
      epoch: 1,
      periodStart: '2026-01-01T00:00:00Z',
      periodEnd: '2026-01-01T01:00:00Z',
      bytes: TWO_64.toString(),
      sessions: 1,
      uptimeSeconds: 60,
      qosBps: 9000,
      signature: 'x',
    };
    expect(problemsOf(() => parseMetricReport(report)).problems).toEqual([{ field: 'bytes', reason: expect.stringMatching(/u64/) }]);
    expect(parseMetricReport({ ...report, bytes: U64_MAX.toString() }).bytes).toBe(U64_MAX.toString());
  });
});
