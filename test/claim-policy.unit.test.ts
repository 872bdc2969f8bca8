import { claimPolicy, GENESIS_POLICY, SPONSORED_CLAIM_MAX_LAMPORTS } from '../domain/policy';

describe('the claim policy and its defaults (domain/policy.ts)', () => {
  it('defaults to 30 days to claim, no minimum payout, unclaimed rewards carried and sponsoring from 1 $SYNQ', () => {
    expect(claimPolicy(GENESIS_POLICY)).toEqual({
      claimWindowSeconds: 2_592_000,
      minimumPayout: 0n,
      unclaimedRewards: 'carry',
      sponsoredClaimMinimum: 1_000_000n,
    });
  });

  it('sponsors, where the policy prices SOL, only claims whose sponsored cost is at most 1% of them', () => {
    // 1 SOL = 1,000 SYNQ: the sponsor pays at most 3,385,600 lamports = 3.3856 SYNQ, so from 338.56 SYNQ.
    const priced = claimPolicy({ ...GENESIS_POLICY, solPriceInSynq: '1000000000' });
    expect(priced.sponsoredClaimMinimum).toBe(338_560_000n);
    // The sponsor's most, in base units at that price, is 1% of the minimum.
    expect((SPONSORED_CLAIM_MAX_LAMPORTS * 1_000_000_000n) / 1_000_000_000n).toBe(priced.sponsoredClaimMinimum / 100n);
    // Rounded up, never below 1 SYNQ: at 2,953,686 base units a SOL the rule gives 999,999.9, at 2,953,687 1,000,000.3.
    expect(claimPolicy({ ...GENESIS_POLICY, solPriceInSynq: '3' }).sponsoredClaimMinimum).toBe(1_000_000n);
    expect(claimPolicy({ ...GENESIS_POLICY, solPriceInSynq: '2953686' }).sponsoredClaimMinimum).toBe(1_000_000n);
    expect(claimPolicy({ ...GENESIS_POLICY, solPriceInSynq: '2953687' }).sponsoredClaimMinimum).toBe(1_000_001n);
    // A minimum the policy sets wins.
    expect(claimPolicy({ ...GENESIS_POLICY, solPriceInSynq: '1000000000', sponsoredClaimMinimum: '5' }).sponsoredClaimMinimum).toBe(5n);
  });
});
