import {
  claimCosts,
  claimsStream,
  epochClaimsDecider,
  initialEpochClaims,
  evolveEpochClaims,
  sponsoredSignatures,
  type ClaimSighting,
  type EpochClaimsEvent,
  type SponsoredAttempt,
} from '../domain/epoch-claims';
import { DeciderSpecification } from './support/decider-specification';

const spec = DeciderSpecification.for(epochClaimsDecider);
const fold = (events: EpochClaimsEvent[]) => events.reduce(evolveEpochClaims, initialEpochClaims());

const sighting = (wallet: string, amount = '500', leafAmount: string | null = amount): ClaimSighting => ({
  epoch: 7,
  wallet,
  amount,
  claimStatus: `status-${wallet}`,
  signature: `sig-${wallet}`,
  slot: '42',
  leafAmount,
});
const observed = (wallet: string, amount = '500'): EpochClaimsEvent => {
  const { leafAmount: _leaf, ...data } = sighting(wallet, amount);
  return { type: 'RewardClaimObserved', data };
};
const attempt = (wallet = 'alice', signature = 'sponsored-1', overrides: Partial<SponsoredAttempt> = {}): Omit<SponsoredAttempt, 'attempt'> => ({
  epoch: 7,
  wallet,
  amount: '2000000',
  signature,
  blockhash: 'hash-1',
  lastValidBlockHeight: '150',
  wire: 'AQID',
  sponsor: 'sponsor-key',
  rentLamports: '3375600',
  ...overrides,
});
const signed = (wallet = 'alice', signature = 'sponsored-1', n = 1): EpochClaimsEvent => ({
  type: 'SponsoredClaimSigned',
  data: { ...attempt(wallet, signature), attempt: n },
});
const confirmed = (wallet = 'alice', signature = 'sponsored-1'): EpochClaimsEvent => ({
  type: 'SponsoredClaimConfirmed',
  data: { epoch: 7, wallet, signature, slot: '60', fee: '10000', rentLamports: '3375600' },
});
const sign = (data: Omit<SponsoredAttempt, 'attempt'>, minimum = '1000000', claimedOnChain = false) =>
  ({ type: 'SignSponsoredClaim', data: { attempt: data, minimum, claimedOnChain } }) as const;

describe('claims of a web3 epoch (domain/epoch-claims.ts)', () => {
  it('lives on claims-<epoch>', () => {
    expect(epochClaimsDecider.streamOf(7)).toBe('claims-7');
    expect(claimsStream(12)).toBe('claims-12');
  });

  describe('observing claims', () => {
    it('records each claim seen once per wallet', () => {
      spec
        .given([])
        .when({ type: 'ObserveClaims', data: { sightings: [sighting('alice'), sighting('bob', '300'), sighting('alice')] } })
        .then([observed('alice'), observed('bob', '300')]);
    });

    it('records nothing new for a claim already recorded', () => {
      spec
        .given([observed('alice')])
        .when({ type: 'ObserveClaims', data: { sightings: [sighting('alice')] } })
        .thenNothingHappened();
    });

    it('refuses a claim whose amount is not the leaf: a discrepancy, not a claim the books accept', () => {
      spec
        .given([])
        .when({ type: 'ObserveClaims', data: { sightings: [sighting('alice', '501', '500')] } })
        .thenRejects('conflict', { field: 'amount', reason: expect.stringContaining('the leaf of alice is 500') });
    });

    it('refuses a claim of a wallet with no leaf', () => {
      spec
        .given([])
        .when({ type: 'ObserveClaims', data: { sightings: [sighting('mallory', '1', null)] } })
        .thenRejects('conflict', { field: 'amount', reason: expect.stringContaining('no leaf') });
    });

    it('refuses a second, different claim for a wallet recorded already', () => {
      spec
        .given([observed('alice')])
        .when({ type: 'ObserveClaims', data: { sightings: [{ ...sighting('alice'), claimStatus: 'elsewhere' }] } })
        .thenRejects('conflict', { field: 'wallet' });
    });
  });

  describe('sponsored claims: recorded before sending, once per wallet', () => {
    it('records the attempt with its sponsor and rent', () => {
      const state = spec.given([]).when(sign(attempt())).then([signed()]);
      expect(state.sponsored.get('alice')).toMatchObject({ status: 'awaiting', attempts: 1 });
    });

    it('the same transaction posted again is nothing new (the caller resolves the recorded attempt)', () => {
      spec.given([signed()]).when(sign(attempt())).thenNothingHappened();
      spec.given([signed(), confirmed()]).when(sign(attempt())).thenNothingHappened();
    });

    it('refuses an amount below the policy minimum', () => {
      spec
        .given([])
        .when(sign(attempt('alice', 'sponsored-1', { amount: '999999' })))
        .thenRejects('conflict', { field: 'amount', reason: expect.stringContaining('minimum of 1000000') });
    });

    it('accepts exactly the minimum', () => {
      spec
        .given([])
        .when(sign(attempt('alice', 'sponsored-1', { amount: '1000000' })))
        .then((events) => expect(events).toHaveLength(1));
    });

    it('refuses a wallet that has claimed already, seen in the books or on chain', () => {
      spec
        .given([observed('alice')])
        .when(sign(attempt()))
        .thenRejects('conflict', { field: 'wallet', reason: expect.stringContaining('claimed already') });
      spec
        .given([])
        .when(sign(attempt(), '1000000', true))
        .thenRejects('conflict', { field: 'wallet', reason: expect.stringContaining('claimed already') });
    });

    it('refuses a second attempt while the first may still land, and after it landed or failed', () => {
      spec
        .given([signed()])
        .when(sign(attempt('alice', 'sponsored-2')))
        .thenRejects('conflict', { field: 'wallet', reason: expect.stringContaining('may still land') });
      spec
        .given([signed(), confirmed()])
        .when(sign(attempt('alice', 'sponsored-2')))
        .thenRejects('conflict', { field: 'wallet' });
      const failed: EpochClaimsEvent = {
        type: 'SponsoredClaimFailed',
        data: { epoch: 7, wallet: 'alice', signature: 'sponsored-1', slot: '60', fee: '10000', error: 'custom program error: 0x0' },
      };
      spec
        .given([signed(), failed])
        .when(sign(attempt('alice', 'sponsored-2')))
        .thenRejects('conflict', { field: 'wallet', reason: expect.stringContaining('failed') });
    });

    it('allows a new attempt once the last is proven expired', () => {
      const expired: EpochClaimsEvent = { type: 'SponsoredClaimExpired', data: { epoch: 7, wallet: 'alice', signature: 'sponsored-1', blockHeight: '151' } };
      spec
        .given([signed(), expired])
        .when(sign(attempt('alice', 'sponsored-2')))
        .then([signed('alice', 'sponsored-2', 2)]);
    });

    it('records an outcome once: confirmed with the rent the sponsor paid; a repeat is nothing new', () => {
      spec
        .given([signed()])
        .when({ type: 'RecordSponsoredOutcome', data: { wallet: 'alice', signature: 'sponsored-1', status: 'succeeded', slot: 60n, fee: 10_000n } })
        .then([confirmed()]);
      spec
        .given([signed(), confirmed()])
        .when({ type: 'RecordSponsoredOutcome', data: { wallet: 'alice', signature: 'sponsored-1', status: 'succeeded', slot: 60n, fee: 10_000n } })
        .thenNothingHappened();
    });

    it('refuses an expiry at a height the attempt can still land at, and an outcome for another signature', () => {
      spec
        .given([signed()])
        .when({ type: 'RecordSponsoredOutcome', data: { wallet: 'alice', signature: 'sponsored-1', status: 'expired', blockHeight: 150n } })
        .thenRejects('conflict', { field: 'signature', reason: expect.stringContaining('can still land') });
      spec
        .given([signed()])
        .when({ type: 'RecordSponsoredOutcome', data: { wallet: 'alice', signature: 'forged', status: 'succeeded', slot: 1n, fee: 1n } })
        .thenRejects('conflict', { field: 'signature' });
    });
  });

  it('sums what claims cost the sponsor per epoch: fees of every landed attempt, rent of the confirmed ones', () => {
    const failed: EpochClaimsEvent = {
      type: 'SponsoredClaimFailed',
      data: { epoch: 7, wallet: 'bob', signature: 'sponsored-b', slot: '61', fee: '10000', error: 'failed' },
    };
    const carolPaidHerself: EpochClaimsEvent = {
      type: 'RewardClaimObserved',
      data: { ...observed('carol').data, feePayer: 'carol', fee: '5000', rentLamports: '1336320' },
    } as EpochClaimsEvent;
    const state = fold([carolPaidHerself, signed(), confirmed(), observed('alice', '2000000'), signed('bob', 'sponsored-b'), failed]);
    // Carol paid her fee and her ClaimStatus rent; alice's claim was sponsored (her wallet paid nothing).
    expect(claimCosts(state)).toEqual({
      claims: 2,
      sponsoredClaims: 1,
      sponsorLamports: 10_000n + 3_375_600n + 10_000n,
      claimantLamports: 5_000n + 1_336_320n,
    });
    expect(sponsoredSignatures(state)).toEqual(new Set(['sponsored-1']));
  });
});
