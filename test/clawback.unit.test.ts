import { clawbackDecider, type ClawbackEvent, type ClawbackWindow } from '../domain/clawback';
import { networkDecider, type NetworkEvent } from '../domain/network';
import { DeciderSpecification } from './support/decider-specification';

const spec = DeciderSpecification.for(clawbackDecider);
const DEADLINE = 1_800_000_000n;
const window = (chainNow: bigint, distributor: ClawbackWindow['distributor'] = { address: 'D1str', clawbackStartTs: DEADLINE.toString() }): ClawbackWindow => ({
  epoch: 7,
  distributor,
  chainNow,
});
const attempt = (signature: string, lastValidBlockHeight = '100') => ({
  signature,
  blockhash: 'bh',
  lastValidBlockHeight,
  wire: 'AA==',
  vaultBefore: '900',
  claimedBefore: '100',
});
const signed = (signature: string, n = 1): ClawbackEvent => ({ type: 'ClawbackTransactionSigned', data: { epoch: 7, attempt: n, ...attempt(signature) } });
const unclaimed = [
  { wallet: 'W1', amount: '500' },
  { wallet: 'W2', amount: '400' },
  { wallet: 'W3', amount: '0' },
];
const clawedBack: ClawbackEvent = {
  type: 'DistributorClawedBack',
  data: { epoch: 7, signature: 'S1', slot: '5', fee: '5000', amount: '900', claimed: '100', unclaimed, unclaimedTotal: '900' },
};

describe('the clawback of a web3 epoch (domain/clawback.ts)', () => {
  describe('signing an attempt', () => {
    it('is refused before the clawback start by the chain clock, saying when it starts', () => {
      spec
        .given([])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE - 61n), attempt: attempt('S1') } })
        .thenRejects('conflict', { field: 'epoch', reason: expect.stringContaining('the clawback starts in 61 seconds') });
    });

    it('is refused for an epoch without a funded distributor', () => {
      spec
        .given([])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE, null), attempt: attempt('S1') } })
        .thenRejects('conflict', { field: 'epoch', reason: expect.stringContaining('no funded distributor') });
    });

    it('records the attempt from the clawback start on', () => {
      spec
        .given([])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE), attempt: attempt('S1') } })
        .then([signed('S1')]);
    });

    it('never signs again while an attempt may still land, nor once clawed back', () => {
      spec
        .given([signed('S1')])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE + 10n), attempt: attempt('S2') } })
        .thenRejects('conflict', { reason: expect.stringContaining('may still land') });
      spec
        .given([signed('S1'), clawedBack])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE + 10n), attempt: attempt('S2') } })
        .thenRejects('conflict', { reason: expect.stringContaining('clawed back already') });
    });

    it('signs a new attempt after a failure or a proven expiry, never reusing a signature', () => {
      const failed: ClawbackEvent = { type: 'ClawbackTransactionFailed', data: { epoch: 7, signature: 'S1', slot: '3', fee: '5000', error: 'x' } };
      spec
        .given([signed('S1'), failed])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE), attempt: attempt('S2') } })
        .then([signed('S2', 2)]);
      spec
        .given([signed('S1'), failed])
        .when({ type: 'SignClawback', data: { window: window(DEADLINE), attempt: attempt('S1') } })
        .thenRejects('conflict', { field: 'signature' });
    });
  });

  describe('recording the outcome', () => {
    it('measures the amount moved from the vault at signing, less claims since and what is left, and lists the unclaimed leaves', () => {
      const state = spec
        .given([signed('S1')])
        .when({
          type: 'RecordClawbackOutcome',
          data: { signature: 'S1', status: 'succeeded', slot: 5n, fee: 5000n, vaultAfter: 0n, claimedAfter: 100n, unclaimed },
        })
        .then([clawedBack]);
      expect(state.status).toBe('clawed_back');
      // A claim landing between signing and the clawback: the vault held less by then.
      spec
        .given([signed('S1')])
        .when({
          type: 'RecordClawbackOutcome',
          data: { signature: 'S1', status: 'succeeded', slot: 5n, fee: 5000n, vaultAfter: 0n, claimedAfter: 600n, unclaimed: unclaimed.slice(1) },
        })
        .then((events) => expect(events[0].data).toMatchObject({ amount: '400', claimed: '600', unclaimedTotal: '400' }));
    });

    it('records a mismatch as it is (tokens sent into the vault by someone else): the verification flags it', () => {
      spec
        .given([{ type: 'ClawbackTransactionSigned', data: { epoch: 7, attempt: 1, ...attempt('S1'), vaultBefore: '950' } }])
        .when({
          type: 'RecordClawbackOutcome',
          data: { signature: 'S1', status: 'succeeded', slot: 5n, fee: 5000n, vaultAfter: 0n, claimedAfter: 100n, unclaimed },
        })
        .then((events) => expect(events[0].data).toMatchObject({ amount: '950', unclaimedTotal: '900' }));
    });

    it('refuses an outcome for another signature, an expiry it could still land after, and a wallet listed twice', () => {
      spec
        .given([signed('S1')])
        .when({ type: 'RecordClawbackOutcome', data: { signature: 'S9', status: 'failed', slot: 1n, fee: 1n, error: 'x' } })
        .thenRejects('conflict', { field: 'signature' });
      spec
        .given([signed('S1')])
        .when({ type: 'RecordClawbackOutcome', data: { signature: 'S1', status: 'expired', blockHeight: 100n } })
        .thenRejects('conflict', { reason: expect.stringContaining('can still land until block 100') });
      spec
        .given([signed('S1')])
        .when({ type: 'RecordClawbackOutcome', data: { signature: 'S1', status: 'expired', blockHeight: 101n } })
        .then([{ type: 'ClawbackTransactionExpired', data: { epoch: 7, signature: 'S1', blockHeight: '101' } }]);
      spec
        .given([signed('S1')])
        .when({
          type: 'RecordClawbackOutcome',
          data: { signature: 'S1', status: 'succeeded', slot: 5n, fee: 5000n, vaultAfter: 0n, claimedAfter: 100n, unclaimed: [unclaimed[0], unclaimed[0]] },
        })
        .thenRejects('invalid', { field: 'unclaimed' });
    });
  });

  describe('the unclaimed-rewards policy', () => {
    it("'carry': the unclaimed leaves (not those of 0) go to their wallets' next leaves", () => {
      spec
        .given([signed('S1'), clawedBack])
        .when({ type: 'ApplyUnclaimedPolicy', data: { epoch: 7, policy: 'carry' } })
        .then([{ type: 'UnclaimedRewardsCarried', data: { epoch: 7, entries: unclaimed.slice(0, 2), total: '900' } }]);
    });

    it("'return': the total is the treasury's again", () => {
      spec
        .given([signed('S1'), clawedBack])
        .when({ type: 'ApplyUnclaimedPolicy', data: { epoch: 7, policy: 'return' } })
        .then([{ type: 'UnclaimedRewardsReturned', data: { epoch: 7, total: '900' } }]);
    });

    it('is decided once, after the clawback only', () => {
      spec
        .given([signed('S1')])
        .when({ type: 'ApplyUnclaimedPolicy', data: { epoch: 7, policy: 'carry' } })
        .thenRejects('conflict', 'not clawed back yet');
      spec
        .given([signed('S1'), clawedBack, { type: 'UnclaimedRewardsCarried', data: { epoch: 7, entries: unclaimed.slice(0, 2), total: '900' } }])
        .when({ type: 'ApplyUnclaimedPolicy', data: { epoch: 7, policy: 'return' } })
        .thenNothingHappened();
    });
  });

  describe("the network ledger under 'return' (UnclaimedRewardsReleased)", () => {
    const network = DeciderSpecification.for(networkDecider);
    const ledger: NetworkEvent[] = [
      { type: 'TreasuryFunded', data: { amount: '10000', reference: 'seed' } },
      { type: 'EpochOpened', data: { epoch: 7, start: '2026-11-01T00:00:00Z', end: '2026-11-01T01:00:00Z', rewardPool: '1000' } },
      { type: 'EpochClosed', data: { epoch: 7, cutOffPosition: '3' } },
    ];

    it('releases the unclaimed rewards from the allocated pools once: the treasury may allocate them again', () => {
      const state = network
        .given(ledger)
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 7, amount: 900n } })
        .then([{ type: 'UnclaimedRewardsReleased', data: { epoch: 7, amount: '900' } }]);
      expect(state.funded - state.allocated).toBe(9_900n);
      const released: NetworkEvent = { type: 'UnclaimedRewardsReleased', data: { epoch: 7, amount: '900' } };
      network
        .given([...ledger, released])
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 7, amount: 900n } })
        .thenNothingHappened();
      network
        .given([...ledger, released])
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 7, amount: 800n } })
        .thenRejects('conflict', { field: 'amount' });
    });

    it('never releases more than is allocated (carried-in balances may take a leaf past its own pool), nor for an epoch not closed', () => {
      network
        .given([
          ...ledger,
          { type: 'EpochOpened', data: { epoch: 8, start: '2026-11-01T01:00:00Z', end: '2026-11-01T02:00:00Z', rewardPool: '1000' } },
          { type: 'EpochClosed', data: { epoch: 8, cutOffPosition: '5' } },
        ])
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 8, amount: 1500n } })
        .then([{ type: 'UnclaimedRewardsReleased', data: { epoch: 8, amount: '1500' } }]);
      network
        .given(ledger)
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 7, amount: 1001n } })
        .thenRejects('invalid', { field: 'amount' });
      network
        .given([...ledger, { type: 'EpochPoolReturned', data: { epoch: 7, amount: '200' } }])
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 7, amount: 801n } })
        .thenRejects('invalid', { field: 'amount' });
      network
        .given(ledger.slice(0, 2))
        .when({ type: 'ReleaseUnclaimedRewards', data: { epoch: 7, amount: 1n } })
        .thenRejects('conflict', { field: 'epoch' });
    });
  });
});
