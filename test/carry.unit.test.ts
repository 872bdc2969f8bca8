import fc from 'fast-check';
import { addCarried, carriedForwardEvent, carryForward, inKeyOrder, type Outstanding, type RewardsCarriedForward } from '../domain/carry';
import { carriesAtCloses, cutOffsOf, openBooks, record, type LoggedEvent } from '../domain/epoch-books';
import { epochSettlementDecider, type DistributionBuilt, type EpochSettlementEvent, type RewardsCalculated } from '../domain/epoch-settlement';
import { outstandingCarried, treasuryReservations } from '../domain/liabilities';
import { buildDistribution, U64_MAX } from '../domain/merkle-distribution';
import { GENESIS_POLICY, type Policy } from '../domain/policy';
import { base58Encode } from '../domain/values';
import { DeciderSpecification } from './support/decider-specification';

/** Rewards carried forward (domain/carry.ts): the minimum payout, unclaimed leaves carried, and what the close records. */

const wallet = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 37 + i * 13 + 1) % 256));
const [A, B, C, D] = [1, 2, 3, 4].map(wallet);
const sum = (amounts: Iterable<bigint>) => [...amounts].reduce((total, amount) => total + amount, 0n);

describe('carryForward', () => {
  it('given no minimum and nothing outstanding, when an epoch closes, then every wallet gets its summed payout and nothing is carried', () => {
    const outcome = carryForward(
      [
        { wallet: A, amount: 5n },
        { wallet: B, amount: 7n },
        { wallet: A, amount: 1n },
      ],
      new Map(),
      0n,
    );
    expect(outcome.leaves).toEqual(
      inKeyOrder(
        [
          { wallet: A, amount: 6n },
          { wallet: B, amount: 7n },
        ],
        (leaf) => leaf.wallet,
      ),
    );
    expect(outcome).toMatchObject({ carriedIn: [], carriedOut: [], carriedInTotal: 0n, carriedOutTotal: 0n });
    expect(outcome.outstanding.size).toBe(0);
    // The same tree as before carries existed.
    expect(buildDistribution(outcome.leaves).rootHex).toBe(
      buildDistribution([
        { wallet: A, amount: 5n },
        { wallet: B, amount: 7n },
        { wallet: A, amount: 1n },
      ]).rootHex,
    );
  });

  it('given a minimum, when a wallet earns less, then it has no leaf and its payout is carried out and outstanding', () => {
    const outcome = carryForward(
      [
        { wallet: A, amount: 99n },
        { wallet: B, amount: 100n },
      ],
      new Map(),
      100n,
    );
    expect(outcome.leaves).toEqual([{ wallet: B, amount: 100n }]);
    expect(outcome.carriedOut).toEqual([{ wallet: A, amount: 99n }]);
    expect(outcome.carriedOutTotal).toBe(99n);
    expect(outcome.outstanding).toEqual(new Map([[A, 99n]]));
  });

  it('given a carried balance, when the wallet earns enough with it, then its leaf includes the balance (carried in) and the balance is paid off', () => {
    const outcome = carryForward([{ wallet: A, amount: 30n }], new Map([[A, 99n]]), 100n);
    expect(outcome.leaves).toEqual([{ wallet: A, amount: 129n }]);
    expect(outcome.carriedIn).toEqual([{ wallet: A, amount: 99n }]);
    expect(outcome.carriedOut).toEqual([]);
    expect(outcome.outstanding.size).toBe(0);
  });

  it('given a carried balance, when the wallet still has less than the minimum, then its new payout is carried out too and the balance grows', () => {
    const outcome = carryForward([{ wallet: A, amount: 30n }], new Map([[A, 50n]]), 100n);
    expect(outcome.leaves).toEqual([]);
    expect(outcome.carriedOut).toEqual([{ wallet: A, amount: 30n }]);
    expect(outcome.outstanding).toEqual(new Map([[A, 80n]]));
  });

  it('given a carried balance of a wallet that earns nothing, then it is paid when it reaches the minimum alone, else stays outstanding', () => {
    const outcome = carryForward(
      [],
      new Map([
        [A, 100n],
        [B, 99n],
      ]),
      100n,
    );
    expect(outcome.leaves).toEqual([{ wallet: A, amount: 100n }]);
    expect(outcome.carriedIn).toEqual([{ wallet: A, amount: 100n }]);
    expect(outcome.carriedOut).toEqual([]);
    expect(outcome.outstanding).toEqual(new Map([[B, 99n]]));
  });

  it('given no minimum (the policy lowered it), then every outstanding balance is paid off', () => {
    const outcome = carryForward(
      [{ wallet: C, amount: 1n }],
      new Map([
        [A, 3n],
        [B, 4n],
      ]),
      0n,
    );
    expect(sum(outcome.leaves.map((leaf) => leaf.amount))).toBe(8n);
    expect(outcome.carriedInTotal).toBe(7n);
    expect(outcome.outstanding.size).toBe(0);
  });

  it('refuses a leaf above u64 and negative amounts', () => {
    expect(() => carryForward([{ wallet: A, amount: 1n }], new Map([[A, U64_MAX]]), 0n)).toThrow('exceeds u64');
    expect(() => carryForward([{ wallet: A, amount: -1n }], new Map(), 0n)).toThrow('negative');
    expect(() => carryForward([], new Map([[A, -1n]]), 0n)).toThrow('negative');
  });

  it('records nothing for an epoch that carried nothing, the entries in key byte order otherwise', () => {
    expect(carriedForwardEvent(1, carryForward([{ wallet: A, amount: 5n }], new Map(), 0n))).toBeUndefined();
    const outcome = carryForward(
      [
        { wallet: D, amount: 1n },
        { wallet: C, amount: 2n },
        { wallet: B, amount: 200n },
      ],
      new Map([[B, 7n]]),
      100n,
    );
    expect(carriedForwardEvent(2, outcome)).toEqual({
      epoch: 2,
      carriedIn: [{ wallet: B, amount: '7' }],
      carriedOut: inKeyOrder(
        [
          { wallet: D, amount: '1' },
          { wallet: C, amount: '2' },
        ],
        (entry) => entry.wallet,
      ),
    });
  });

  describe('properties', () => {
    const wallets = [1, 2, 3, 4, 5, 6].map(wallet);
    const amount = fc.bigInt({ min: 0n, max: 1n << 40n });
    const payouts = fc.array(fc.record({ wallet: fc.constantFrom(...wallets), amount }), { maxLength: 12 });
    const outstanding = fc
      .array(fc.tuple(fc.constantFrom(...wallets), fc.bigInt({ min: 1n, max: 1n << 40n })), { maxLength: 6 })
      .map((entries) => new Map(entries));
    const minimum = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 1n << 41n }));

    it('conserves: Σ payouts + Σ outstanding before = Σ leaves + Σ outstanding after; leaves = payouts + in − out', () => {
      fc.assert(
        fc.property(payouts, outstanding, minimum, (paid, before, min) => {
          const outcome = carryForward(paid, before, min);
          const leaves = sum(outcome.leaves.map((leaf) => leaf.amount));
          const payoutTotal = sum(paid.map((payout) => payout.amount));
          expect(payoutTotal + sum(before.values())).toBe(leaves + sum(outcome.outstanding.values()));
          expect(leaves).toBe(payoutTotal + outcome.carriedInTotal - outcome.carriedOutTotal);
          expect(outcome.carriedInTotal).toBe(sum(outcome.carriedIn.map((entry) => entry.amount)));
          expect(outcome.carriedOutTotal).toBe(sum(outcome.carriedOut.map((entry) => entry.amount)));
        }),
      );
    });

    it('puts no leaf below the minimum nor at 0, one per wallet in key byte order; balances are never negative and never in a leaf', () => {
      fc.assert(
        fc.property(payouts, outstanding, minimum, (paid, before, min) => {
          const outcome = carryForward(paid, before, min);
          for (const leaf of outcome.leaves) {
            expect(leaf.amount >= min && leaf.amount > 0n && leaf.amount <= U64_MAX).toBe(true);
            expect(outcome.outstanding.has(leaf.wallet)).toBe(false);
          }
          expect(outcome.leaves).toEqual(inKeyOrder(outcome.leaves, (leaf) => leaf.wallet));
          expect(new Set(outcome.leaves.map((leaf) => leaf.wallet)).size).toBe(outcome.leaves.length);
          for (const balance of outcome.outstanding.values()) expect(balance > 0n && balance < (min > 0n ? min : 1n)).toBe(true);
          // Each balance carried in is the whole balance that was outstanding, once.
          for (const entry of outcome.carriedIn) expect(entry.amount).toBe(before.get(entry.wallet));
        }),
      );
    });

    it('over epochs, each amount carried out is carried in once, and nothing is lost', () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(payouts, minimum), { minLength: 1, maxLength: 5 }), (epochs) => {
          let balances: Outstanding = new Map();
          let earned = 0n;
          let leaves = 0n;
          let carriedIn = 0n;
          let carriedOut = 0n;
          for (const [paid, min] of epochs) {
            const outcome = carryForward(paid, balances, min);
            earned += sum(paid.map((payout) => payout.amount));
            leaves += sum(outcome.leaves.map((leaf) => leaf.amount));
            carriedIn += outcome.carriedInTotal;
            carriedOut += outcome.carriedOutTotal;
            balances = outcome.outstanding;
          }
          expect(carriedOut - carriedIn).toBe(sum(balances.values()));
          expect(earned).toBe(leaves + sum(balances.values()));
        }),
      );
    });
  });
});

describe('addCarried', () => {
  it('adds unclaimed leaves to the outstanding balances, without changing the map given', () => {
    const before = new Map([[A, 5n]]);
    const after = addCarried(before, {
      epoch: 1,
      entries: [
        { wallet: A, amount: '10' },
        { wallet: B, amount: '3' },
      ],
      total: '13',
    });
    expect(after).toEqual(
      new Map([
        [A, 15n],
        [B, 3n],
      ]),
    );
    expect(before).toEqual(new Map([[A, 5n]]));
  });
});

describe('carriesAtCloses (the replay)', () => {
  const policy = (minimumPayout: string, effectiveFromEpoch: number): Policy => ({
    ...GENESIS_POLICY,
    version: effectiveFromEpoch,
    effectiveFromEpoch,
    minimumPayout,
  });
  let position = 0n;
  const at = (stream: string, type: string, data: unknown): LoggedEvent => ({ stream, type, data, position: ++position });

  it('folds each close in log order, with the unclaimed leaves carried before it', () => {
    position = 0n;
    const events = [
      at('network-ledger', 'PolicyAdopted', policy('100', 1)),
      at('network-ledger', 'EpochOpened', { epoch: 1, start: '2026-11-01T00:00:00Z', end: '2026-11-01T01:00:00Z', rewardPool: '1000' }),
      at('network-ledger', 'EpochClosed', { epoch: 1 }),
      at('claims-0', 'UnclaimedRewardsCarried', { epoch: 0, entries: [{ wallet: B, amount: '60' }], total: '60' }),
      at('network-ledger', 'EpochOpened', { epoch: 2, start: '2026-11-01T01:00:00Z', end: '2026-11-01T02:00:00Z', rewardPool: '1000' }),
      at('network-ledger', 'EpochClosed', { epoch: 2 }),
      at('network-ledger', 'EpochOpened', { epoch: 3, start: '2026-11-01T02:00:00Z', end: '2026-11-01T03:00:00Z', rewardPool: '1000' }),
      at('network-ledger', 'EpochClosed', { epoch: 3 }),
    ];
    const books = openBooks(cutOffsOf(events.filter((event) => event.stream === 'network-ledger')));
    for (const event of events) record(books, event);
    const payouts = new Map([
      [1, [{ wallet: A, amount: 40n }]],
      [
        2,
        [
          { wallet: A, amount: 70n },
          { wallet: B, amount: 50n },
        ],
      ],
      [3, []],
    ]);
    const asked: number[] = [];
    const outcomes = carriesAtCloses(books, (epoch) => (asked.push(epoch), payouts.get(epoch)!));
    expect(outcomes.get(1)).toMatchObject({ leaves: [], carriedOutTotal: 40n });
    // A: 40 carried + 70; B: 60 unclaimed + 50.
    expect(outcomes.get(2)).toMatchObject({ carriedInTotal: 100n, carriedOutTotal: 0n });
    expect(sum(outcomes.get(2)!.leaves.map((leaf) => leaf.amount))).toBe(220n);
    expect(outcomes.get(3)!.leaves).toEqual([]);
    expect(asked).toEqual([1, 2, 3]);
  });

  it('does not ask for the payouts of an epoch without a minimum that is not wanted: it pays every balance off whatever they are', () => {
    position = 0n;
    const events = [
      at('network-ledger', 'EpochOpened', { epoch: 1, start: '2026-11-01T00:00:00Z', end: '2026-11-01T01:00:00Z', rewardPool: '1000' }),
      at('network-ledger', 'EpochClosed', { epoch: 1 }),
      at('network-ledger', 'PolicyAdopted', policy('100', 2)),
      at('network-ledger', 'EpochOpened', { epoch: 2, start: '2026-11-01T01:00:00Z', end: '2026-11-01T02:00:00Z', rewardPool: '1000' }),
      at('claims-0', 'UnclaimedRewardsCarried', { epoch: 0, entries: [{ wallet: B, amount: '60' }], total: '60' }),
      at('network-ledger', 'EpochClosed', { epoch: 2 }),
    ];
    const books = openBooks(cutOffsOf(events.filter((event) => event.stream === 'network-ledger')));
    for (const event of events) record(books, event);
    const asked: number[] = [];
    const outcomes = carriesAtCloses(books, (epoch) => (asked.push(epoch), [{ wallet: A, amount: 10n }]), new Set([2]));
    expect(asked).toEqual([2]);
    expect(outcomes.get(2)).toMatchObject({ leaves: [], carriedOutTotal: 10n });
    expect(outcomes.get(2)!.outstanding).toEqual(
      new Map([
        [A, 10n],
        [B, 60n],
      ]),
    );
  });
});

describe('liabilities with carries', () => {
  const epoch = { epoch: 1, start: 0, end: 3600, rewardPool: 1000n, status: 'closed' as const };

  it('reserves the outstanding balances, and a built distribution at its total (carries in and out included)', () => {
    const built = [
      { carriedIn: '0', carriedOut: '40' },
      { carriedIn: '40', carriedOut: '15' },
      {}, // before carries
    ];
    expect(outstandingCarried(built, ['7'])).toBe(22n);
    const reserved = treasuryReservations([epoch], new Map(), [], { distributions: new Map([[1, 1025n]]), carried: 22n });
    expect(reserved).toEqual({ pools: 1025n, transfers: 0n, carried: 22n, total: 1047n });
    // Without a distribution built, the pool less what was returned, as before.
    expect(treasuryReservations([epoch], new Map(), []).total).toBe(1000n);
  });
});

describe('recording a distribution with carries (epoch-<n>)', () => {
  const spec = DeciderSpecification.for(epochSettlementDecider);
  const rewards: RewardsCalculated = {
    epoch: 2,
    policyVersion: 1,
    cutOffPosition: '10',
    pool: '1000',
    paid: '1000',
    returnedToTreasury: '0',
    synqers: 3,
    eligible: 3,
    ineligible: 0,
    bytes: '1',
    sessions: '1',
    totalWeight: '1',
    digest: 'd'.repeat(64),
  };
  const calculated: EpochSettlementEvent = { type: 'EpochRewardsCalculated', data: rewards };
  const built = (total: string, carries?: { carriedIn: string; carriedOut: string }): DistributionBuilt => ({
    epoch: 2,
    format: 'jito-merkle-distributor/v1',
    root: 'a'.repeat(64),
    leafCount: 2,
    total,
    maxTotalClaim: total,
    maxNumNodes: 2,
    ...carries,
  });
  const carried: RewardsCarriedForward = { epoch: 2, carriedIn: [{ wallet: A, amount: '40' }], carriedOut: [{ wallet: B, amount: '15' }] };

  it('given rewards, when the distribution pays them + carried in − carried out, then it and its carries are recorded in one append', () => {
    const distribution = built('1025', { carriedIn: '40', carriedOut: '15' });
    spec
      .given([calculated])
      .when({ type: 'RecordDistribution', data: distribution, carried })
      .then([
        { type: 'EpochDistributionBuilt', data: distribution },
        { type: 'RewardsCarriedForward', data: carried },
      ]);
  });

  it('given rewards, when a distribution without carries pays them, then only it is recorded, as before carries', () => {
    spec
      .given([calculated])
      .when({ type: 'RecordDistribution', data: built('1000') })
      .then([{ type: 'EpochDistributionBuilt', data: built('1000') }]);
  });

  it('refuses a total that is not rewards + carried in − carried out', () => {
    spec
      .given([calculated])
      .when({ type: 'RecordDistribution', data: built('1000', { carriedIn: '40', carriedOut: '15' }), carried })
      .thenRejects('conflict', { field: 'total' });
  });

  it('refuses carried totals the entries do not add up to, or carries without entries', () => {
    spec
      .given([calculated])
      .when({ type: 'RecordDistribution', data: built('1030', { carriedIn: '45', carriedOut: '15' }), carried })
      .thenRejects('conflict', { field: 'carried' });
    spec
      .given([calculated])
      .when({ type: 'RecordDistribution', data: built('1025', { carriedIn: '40', carriedOut: '15' }) })
      .thenRejects('conflict', { field: 'carried' });
  });

  it('given it recorded, when the close runs again, then nothing more is recorded', () => {
    const distribution = built('1025', { carriedIn: '40', carriedOut: '15' });
    spec
      .given([calculated, { type: 'EpochDistributionBuilt', data: distribution }, { type: 'RewardsCarriedForward', data: carried }])
      .when({ type: 'RecordDistribution', data: distribution, carried })
      .thenNothingHappened();
  });
});
