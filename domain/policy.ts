import { Checks } from './values';

/**
 * Reward policy and governance parameters. Versions are adopted on the network ledger and take effect from the epoch
 * after the last one opened, so every replay of an epoch uses the same parameters.
 */
export interface Policy {
  version: number;
  effectiveFromEpoch: number;
  /** Reward weights in basis points, summing to 10,000. */
  weightBytesBps: number;
  weightSessionsBps: number;
  minUptimeBps: number;
  minQosBps: number;
  stakeBoostMaxBps: number;
  /** Stake (base units) at which the boost reaches its maximum. */
  stakeTarget: string;
  /** Data credits for one whole token (1,000,000 base units). */
  creditsPerToken: string;
  unstakeCooldownEpochs: number;
  /** Largest reward pool an epoch may have, base units. */
  maxPoolPerEpoch: string;
  /** $SYNQ base units one SOL is worth, when set: settlement cost is then reported as a share of the rewards paid. */
  solPriceInSynq?: string;
  /**
   * Web3 claims (each optional, with the defaults of `claimPolicy`). Seconds from the distributor's creation to its
   * clawback start: the claim deadline (at least 86,400, the program's own floor).
   */
  claimWindowSeconds?: number;
  /** Leaves below this many base units are not paid or put in a tree: carried to the wallet's next epoch. */
  minimumPayout?: string;
  /** What happens to a leaf left unclaimed at the clawback: `carry` (into the wallet's next leaf) or `return` (to the treasury). */
  unclaimedRewards?: UnclaimedRewardsPolicy;
  /** Claims of fewer base units than this are not sponsored (the treasury would pay more rent than it is worth). */
  sponsoredClaimMinimum?: string;
}

export const UNCLAIMED_REWARDS_POLICIES = ['carry', 'return'] as const;
export type UnclaimedRewardsPolicy = (typeof UNCLAIMED_REWARDS_POLICIES)[number];

/** The program refuses a clawback start earlier than a day after the vesting end. */
export const MIN_CLAIM_WINDOW_SECONDS = 86_400;

/**
 * The most a sponsored claim costs the sponsor, at mainnet's rent-exempt minimums: the ClaimStatus account (64 bytes,
 * 1,336,320), the wallet's token account when it is missing (165 bytes, 2,039,280) and two signatures' fees (10,000).
 */
export const SPONSORED_CLAIM_MAX_LAMPORTS = 3_385_600n;
const LAMPORTS_PER_SOL = 1_000_000_000n;

/**
 * The claim parameters in force, with their defaults: 30 days to claim, no minimum, unclaimed carried. Sponsoring
 * starts at 1 $SYNQ, or, where the policy prices SOL, at the reward whose sponsored claim costs at most 1% of it (the
 * roadmap's target; docs/claims-cost.md): 100 x 3,385,600 lamports in $SYNQ.
 */
export function claimPolicy(policy: Policy) {
  const onePercentRule =
    policy.solPriceInSynq === undefined
      ? TOKEN
      : (100n * SPONSORED_CLAIM_MAX_LAMPORTS * BigInt(policy.solPriceInSynq) + LAMPORTS_PER_SOL - 1n) / LAMPORTS_PER_SOL;
  return {
    claimWindowSeconds: policy.claimWindowSeconds ?? 30 * 86_400,
    minimumPayout: BigInt(policy.minimumPayout ?? '0'),
    unclaimedRewards: policy.unclaimedRewards ?? 'carry',
    sponsoredClaimMinimum: policy.sponsoredClaimMinimum !== undefined ? BigInt(policy.sponsoredClaimMinimum) : onePercentRule > TOKEN ? onePercentRule : TOKEN,
  };
}

/** In force until a version is adopted (version 0). */
export const GENESIS_POLICY: Policy = {
  version: 0,
  effectiveFromEpoch: 0,
  weightBytesBps: 7_000,
  weightSessionsBps: 3_000,
  minUptimeBps: 5_000,
  minQosBps: 6_000,
  stakeBoostMaxBps: 2_000,
  stakeTarget: '10000000000',
  creditsPerToken: '1000',
  unstakeCooldownEpochs: 2,
  maxPoolPerEpoch: '100000000000000',
};

export const TOKEN = 1_000_000n;

export type PolicyParameters = Omit<Policy, 'version' | 'effectiveFromEpoch'>;

export function parsePolicyParameters(input: Record<string, unknown>): PolicyParameters {
  const checks = new Checks();
  const parameters: PolicyParameters = {
    weightBytesBps: checks.integer('weightBytesBps', input.weightBytesBps, 0, 10_000),
    weightSessionsBps: checks.integer('weightSessionsBps', input.weightSessionsBps, 0, 10_000),
    minUptimeBps: checks.integer('minUptimeBps', input.minUptimeBps, 0, 10_000),
    minQosBps: checks.integer('minQosBps', input.minQosBps, 0, 10_000),
    stakeBoostMaxBps: checks.integer('stakeBoostMaxBps', input.stakeBoostMaxBps, 0, 10_000),
    stakeTarget: checks.amount('stakeTarget', input.stakeTarget).toString(),
    creditsPerToken: checks.amount('creditsPerToken', input.creditsPerToken).toString(),
    unstakeCooldownEpochs: checks.integer('unstakeCooldownEpochs', input.unstakeCooldownEpochs, 0, 1_000),
    maxPoolPerEpoch: checks.amount('maxPoolPerEpoch', input.maxPoolPerEpoch).toString(),
    ...(input.solPriceInSynq === undefined ? {} : { solPriceInSynq: checks.amount('solPriceInSynq', input.solPriceInSynq).toString() }),
    ...(input.claimWindowSeconds === undefined
      ? {}
      : { claimWindowSeconds: checks.integer('claimWindowSeconds', input.claimWindowSeconds, MIN_CLAIM_WINDOW_SECONDS, 10 * 365 * 86_400) }),
    ...(input.minimumPayout === undefined ? {} : { minimumPayout: checks.amount('minimumPayout', input.minimumPayout, { allowZero: true }).toString() }),
    ...(input.unclaimedRewards === undefined ? {} : { unclaimedRewards: checks.oneOf('unclaimedRewards', input.unclaimedRewards, UNCLAIMED_REWARDS_POLICIES) }),
    ...(input.sponsoredClaimMinimum === undefined
      ? {}
      : { sponsoredClaimMinimum: checks.amount('sponsoredClaimMinimum', input.sponsoredClaimMinimum, { allowZero: true }).toString() }),
  };
  if (parameters.weightBytesBps + parameters.weightSessionsBps !== 10_000) {
    checks.add('weightSessionsBps', 'weightBytesBps and weightSessionsBps must sum to 10000');
  }
  checks.done();
  return parameters;
}

/** The version in force for `epoch`: the latest adopted one effective from it or earlier. */
export function policyFor(versions: readonly Policy[], epoch: number): Policy {
  let inForce = GENESIS_POLICY;
  for (const version of versions) if (version.effectiveFromEpoch <= epoch) inForce = version;
  return inForce;
}
