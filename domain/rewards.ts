import { createHash } from 'node:crypto';
import type { Policy } from './policy';

/**
 * The reward calculation of policy version 1, for one closed epoch. Pure and exact: every amount and every product is a
 * `bigint` (no floating point anywhere), the input order does not matter, and the result carries a SHA-256 digest of a
 * canonical text (`canonicalRewardsText`) so an auditor can replay the epoch and compare one line.
 *
 * For an epoch of L seconds and a pool of P base units, over the synqers with at least one (not voided) report (an
 * input without a report takes no part and is not in the results):
 * - B, S: sums of bytes and sessions; U: sum of uptime seconds capped at L; uptimeBps = floor(U * 10000 / L);
 *   Q (qosBps): the mean of the reports' QoS weighted by max(bytes, 1), floored.
 * - Eligible: not suspended at close, has a payout wallet, uptimeBps >= minUptimeBps and Q >= minQosBps.
 * - Over the eligible, SB = ΣB and SS = ΣS: work = wBytes * B * SS + wSessions * S * SB (basis points summing to
 *   10000). Cross-multiplying by the other total keeps the bytes and sessions shares exact without a division.
 *   SS = 0 gives work = 10000 * B, SB = 0 gives work = 10000 * S (the empty term's weight goes to the other), both 0
 *   gives 0.
 * - stakeBoostBps = min(floor(stake * stakeBoostMaxBps / stakeTarget), stakeBoostMaxBps), from the active stake at close.
 * - weight = work * Q * uptimeBps * (10000 + stakeBoostBps); W = Σ weight.
 * - reward = floor(P * weight / W); the P - Σ reward units left over go one each to the largest remainders
 *   (P * weight mod W), ties by synqer id ascending (UTF-16 code units), so the rewards sum to exactly P. W = 0: every reward is 0 and
 *   the whole pool is returned to the treasury.
 * Ineligible synqers appear with their totals, reward 0, work 0, weight 0 and every reason they failed.
 */

/** What a synqer reported in one epoch, summed over its reports. */
export interface SynqerTotals {
  bytes: bigint;
  sessions: bigint;
  /** Uncapped: the cap at the epoch's length is applied by the calculation. */
  uptimeSeconds: bigint;
  /** Σ qosBps * max(bytes, 1) over the reports. */
  qosWeightedSum: bigint;
  /** Σ max(bytes, 1) over the reports: a report without bytes still counts once, so its QoS is not ignored. */
  qosWeight: bigint;
  reports: number;
}

export interface ReportFigures {
  bytes: bigint;
  sessions: bigint;
  uptimeSeconds: bigint;
  qosBps: bigint;
}

export const emptyTotals = (): SynqerTotals => ({ bytes: 0n, sessions: 0n, uptimeSeconds: 0n, qosWeightedSum: 0n, qosWeight: 0n, reports: 0 });

/** The totals with one more accepted report. A voided report is never added (the caller leaves it out). */
export function addReport(totals: SynqerTotals, report: ReportFigures): SynqerTotals {
  for (const field of ['bytes', 'sessions', 'uptimeSeconds', 'qosBps'] as const) {
    if (report[field] < 0n) invalid(`report.${field}`, 'must not be negative');
  }
  if (report.qosBps > BPS) invalid('report.qosBps', 'must be at most 10000');
  const weight = max(report.bytes, 1n);
  return {
    bytes: totals.bytes + report.bytes,
    sessions: totals.sessions + report.sessions,
    uptimeSeconds: totals.uptimeSeconds + report.uptimeSeconds,
    qosWeightedSum: totals.qosWeightedSum + report.qosBps * weight,
    qosWeight: totals.qosWeight + weight,
    reports: totals.reports + 1,
  };
}

export interface RewardInput {
  synqerId: string;
  /** The wallet in force for this epoch, or null when the synqer has none. */
  payoutWallet: string | null;
  /** Suspended at the close of the epoch. */
  suspended: boolean;
  /** Active stake at close: stake asked back (unstaking) and slashed stake excluded. */
  activeStake: bigint;
  totals: SynqerTotals;
}

/** The parameters of a `Policy` that the calculation uses, as bigints. */
export interface RewardParameters {
  version: number;
  weightBytesBps: bigint;
  weightSessionsBps: bigint;
  minUptimeBps: bigint;
  minQosBps: bigint;
  stakeBoostMaxBps: bigint;
  stakeTarget: bigint;
}

export type IneligibilityReason = 'suspended' | 'no_payout_wallet' | 'uptime_below_minimum' | 'qos_below_minimum';

export interface SynqerReward {
  synqerId: string;
  payoutWallet: string | null;
  bytes: bigint;
  sessions: bigint;
  /** Capped at the epoch's length. */
  uptimeSeconds: bigint;
  uptimeBps: bigint;
  qosBps: bigint;
  activeStake: bigint;
  /** From the active stake, shown for every synqer; it enters a weight only when eligible. */
  stakeBoostBps: bigint;
  eligible: boolean;
  /** Every failed condition, in the order suspended, no_payout_wallet, uptime_below_minimum, qos_below_minimum. */
  reasons: IneligibilityReason[];
  /** The reasons in words ('' when eligible); not part of the digest. */
  reasonText: string;
  work: bigint;
  weight: bigint;
  reward: bigint;
}

export interface RewardTotals {
  pool: bigint;
  paid: bigint;
  returnedToTreasury: bigint;
  eligible: number;
  ineligible: number;
  /** Over every synqer in the results. */
  bytes: bigint;
  sessions: bigint;
  /** SB and SS: over the eligible synqers only, as they enter the work formula. */
  eligibleBytes: bigint;
  eligibleSessions: bigint;
  totalWeight: bigint;
}

export interface RewardCalculation {
  epoch: number;
  lengthSeconds: bigint;
  policyVersion: number;
  /** One per synqer with at least one report, by synqer id ascending (UTF-16 code units). */
  results: SynqerReward[];
  totals: RewardTotals;
  /** SHA-256 (hex) of the UTF-8 of `canonicalRewardsText`. */
  digest: string;
}

export interface RewardRequest {
  epoch: number;
  lengthSeconds: bigint;
  pool: bigint;
  policy: Policy;
  synqers: readonly RewardInput[];
}

const BPS = 10_000n;

/** Converts and checks the policy fields the calculation uses. */
export function rewardParameters(policy: Policy): RewardParameters {
  const bps = (field: keyof Policy & `${string}Bps`): bigint => {
    const value = policy[field];
    if (!Number.isSafeInteger(value) || value < 0 || value > 10_000) invalid(`policy.${field}`, 'must be a whole number from 0 to 10000');
    return BigInt(value);
  };
  const parameters: RewardParameters = {
    version: policy.version,
    weightBytesBps: bps('weightBytesBps'),
    weightSessionsBps: bps('weightSessionsBps'),
    minUptimeBps: bps('minUptimeBps'),
    minQosBps: bps('minQosBps'),
    stakeBoostMaxBps: bps('stakeBoostMaxBps'),
    stakeTarget: /^(0|[1-9]\d*)$/.test(policy.stakeTarget) ? BigInt(policy.stakeTarget) : invalid('policy.stakeTarget', 'must be a decimal integer'),
  };
  if (parameters.weightBytesBps + parameters.weightSessionsBps !== BPS)
    invalid('policy.weightSessionsBps', 'weightBytesBps and weightSessionsBps must sum to 10000');
  if (parameters.stakeTarget <= 0n) invalid('policy.stakeTarget', 'must be greater than 0');
  return parameters;
}

/** The boost of `stake`: linear up to the target, then flat at the maximum. */
export function stakeBoostBps(stake: bigint, parameters: Pick<RewardParameters, 'stakeBoostMaxBps' | 'stakeTarget'>): bigint {
  return min((stake * parameters.stakeBoostMaxBps) / parameters.stakeTarget, parameters.stakeBoostMaxBps);
}

/** Calculates an epoch's rewards. Throws an Error naming the field for nonsense input. */
export function calculateRewards(request: RewardRequest): RewardCalculation {
  const { epoch, lengthSeconds: length, pool } = request;
  if (!Number.isSafeInteger(epoch) || epoch < 0) invalid('epoch', 'must be a whole number, 0 or more');
  if (length <= 0n) invalid('lengthSeconds', 'must be greater than 0');
  if (pool < 0n) invalid('pool', 'must not be negative');
  const policy = rewardParameters(request.policy);

  const seen = new Set<string>();
  for (const synqer of request.synqers) {
    checkInput(synqer);
    if (seen.has(synqer.synqerId)) invalid(`synqers[${synqer.synqerId}].synqerId`, 'appears more than once');
    seen.add(synqer.synqerId);
  }
  // Only synqers with a report take part; the order they come in must not matter, so sort by code units.
  const population = request.synqers.filter((synqer) => synqer.totals.reports > 0).sort((a, b) => compareIds(a.synqerId, b.synqerId));

  // Per synqer: capped uptime, QoS, boost and eligibility; work needs SB and SS of the eligible, so it comes after.
  const rows = population.map((synqer): SynqerReward => {
    const { totals } = synqer;
    const uptimeSeconds = min(totals.uptimeSeconds, length);
    const uptimeBps = (uptimeSeconds * BPS) / length;
    const qosBps = totals.qosWeightedSum / totals.qosWeight;
    const reasons: IneligibilityReason[] = [];
    const texts: string[] = [];
    if (synqer.suspended) {
      reasons.push('suspended');
      texts.push('suspended at the close of the epoch');
    }
    if (synqer.payoutWallet === null) {
      reasons.push('no_payout_wallet');
      texts.push('has no payout wallet');
    }
    if (uptimeBps < policy.minUptimeBps) {
      reasons.push('uptime_below_minimum');
      texts.push(`uptime ${uptimeBps} bps is below the minimum of ${policy.minUptimeBps} bps`);
    }
    if (qosBps < policy.minQosBps) {
      reasons.push('qos_below_minimum');
      texts.push(`QoS ${qosBps} bps is below the minimum of ${policy.minQosBps} bps`);
    }
    return {
      synqerId: synqer.synqerId,
      payoutWallet: synqer.payoutWallet,
      bytes: totals.bytes,
      sessions: totals.sessions,
      uptimeSeconds,
      uptimeBps,
      qosBps,
      activeStake: synqer.activeStake,
      stakeBoostBps: stakeBoostBps(synqer.activeStake, policy),
      eligible: reasons.length === 0,
      reasons,
      reasonText: texts.join('; '),
      work: 0n,
      weight: 0n,
      reward: 0n,
    };
  });

  const eligible = rows.filter((row) => row.eligible);
  const SB = sum(eligible.map((row) => row.bytes));
  const SS = sum(eligible.map((row) => row.sessions));
  for (const row of eligible) {
    row.work = work(row.bytes, row.sessions, SB, SS, policy);
    row.weight = row.work * row.qosBps * row.uptimeBps * (BPS + row.stakeBoostBps);
  }
  const W = sum(eligible.map((row) => row.weight));

  let paid = 0n;
  if (W > 0n) {
    // Floor shares first; what they leave over (fewer units than synqers with a remainder) goes one unit each to the
    // largest remainders, ties by id, so the total is exactly P and no unit is created or lost.
    const withRemainders: { row: SynqerReward; remainder: bigint }[] = [];
    for (const row of eligible) {
      const share = pool * row.weight;
      row.reward = share / W;
      paid += row.reward;
      if (row.weight > 0n) withRemainders.push({ row, remainder: share % W });
    }
    withRemainders.sort((a, b) => (a.remainder > b.remainder ? -1 : a.remainder < b.remainder ? 1 : compareIds(a.row.synqerId, b.row.synqerId)));
    for (let i = 0; paid < pool; i += 1) {
      withRemainders[i].row.reward += 1n;
      paid += 1n;
    }
  }

  const totals: RewardTotals = {
    pool,
    paid,
    returnedToTreasury: pool - paid,
    eligible: eligible.length,
    ineligible: rows.length - eligible.length,
    bytes: sum(rows.map((row) => row.bytes)),
    sessions: sum(rows.map((row) => row.sessions)),
    eligibleBytes: SB,
    eligibleSessions: SS,
    totalWeight: W,
  };
  const calculation = { epoch, lengthSeconds: length, policyVersion: policy.version, results: rows, totals };
  return { ...calculation, digest: createHash('sha256').update(canonicalRewardsText(calculation), 'utf8').digest('hex') };
}

/**
 * The work term. Each term is a synqer's share of one total, multiplied out by the other total (B * SS vs S * SB) so
 * both terms sit over the same denominator SB * SS; when a total is 0 its term is dropped and the other takes 10000.
 */
function work(bytes: bigint, sessions: bigint, SB: bigint, SS: bigint, policy: RewardParameters): bigint {
  if (SB === 0n && SS === 0n) return 0n;
  if (SS === 0n) return BPS * bytes;
  if (SB === 0n) return BPS * sessions;
  return policy.weightBytesBps * bytes * SS + policy.weightSessionsBps * sessions * SB;
}

/**
 * One line per synqer, fields in this order separated by "|", integers in plain decimal:
 *
 *   synqerId|payoutWallet|bytes|sessions|uptimeSeconds|uptimeBps|qosBps|activeStake|stakeBoostBps|eligible|reasons|work|weight|reward
 *
 * payoutWallet is "-" when there is none; uptimeSeconds is the capped value; eligible is "1" or "0"; reasons are the
 * codes joined by "," in their fixed order, or "-" when there are none.
 */
export function canonicalResultLines(results: readonly SynqerReward[]): string[] {
  return results.map((r) =>
    [
      r.synqerId,
      r.payoutWallet ?? '-',
      r.bytes,
      r.sessions,
      r.uptimeSeconds,
      r.uptimeBps,
      r.qosBps,
      r.activeStake,
      r.stakeBoostBps,
      r.eligible ? '1' : '0',
      r.reasons.length > 0 ? r.reasons.join(',') : '-',
      r.work,
      r.weight,
      r.reward,
    ].join('|'),
  );
}

/**
 * The text the digest is the SHA-256 (hex, lower case) of, as UTF-8: lines joined by "\n", no trailing newline:
 *
 *   synq-rewards/v1|epoch=<epoch>|lengthSeconds=<L>|pool=<P>|policy=<policy version>
 *   <one line per synqer, in result order (synqer id ascending by UTF-16 code units): see canonicalResultLines>
 *   total|weight=<W>|paid=<Σ reward>|returnedToTreasury=<P - Σ reward>
 *
 * For example, one eligible synqer taking a pool of 100 in epoch 7 under policy 1 (weights 7000 / 3000):
 *   synq-rewards/v1|epoch=7|lengthSeconds=3600|pool=100|policy=1
 *   alpha|<wallet>|5|2|3600|10000|9000|0|0|1|-|100000|90000000000000000|100
 *   total|weight=90000000000000000|paid=100|returnedToTreasury=0
 * (SB = 5, SS = 2: work = 7000 * 5 * 2 + 3000 * 2 * 5 = 100000; weight = 100000 * 9000 * 10000 * (10000 + 0).)
 */
export function canonicalRewardsText(calculation: Omit<RewardCalculation, 'digest'>): string {
  const { epoch, lengthSeconds, policyVersion, results, totals } = calculation;
  return [
    `synq-rewards/v1|epoch=${epoch}|lengthSeconds=${lengthSeconds}|pool=${totals.pool}|policy=${policyVersion}`,
    ...canonicalResultLines(results),
    `total|weight=${totals.totalWeight}|paid=${totals.paid}|returnedToTreasury=${totals.returnedToTreasury}`,
  ].join('\n');
}

/** Synqer ids compare by UTF-16 code units (plain `<`): locale-independent, as every replay must agree. */
export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Refuses input that cannot come from the books: the canonical text must stay unambiguous and the totals coherent. */
function checkInput(synqer: RewardInput): void {
  const id = synqer.synqerId;
  if (typeof id !== 'string' || id.length === 0 || /[|\n\r]/.test(id)) invalid('synqers[].synqerId', 'must be a non-empty string without "|" or line breaks');
  const field = (name: string) => `synqers[${id}].${name}`;
  const wallet = synqer.payoutWallet;
  if (wallet !== null && (wallet.length === 0 || wallet === '-' || /[|\n\r]/.test(wallet))) {
    invalid(field('payoutWallet'), 'must be null or a non-empty string other than "-", without "|" or line breaks');
  }
  if (synqer.activeStake < 0n) invalid(field('activeStake'), 'must not be negative');
  const { totals } = synqer;
  for (const name of ['bytes', 'sessions', 'uptimeSeconds', 'qosWeightedSum', 'qosWeight'] as const) {
    if (totals[name] < 0n) invalid(field(`totals.${name}`), 'must not be negative');
  }
  if (!Number.isSafeInteger(totals.reports) || totals.reports < 0) invalid(field('totals.reports'), 'must be a whole number, 0 or more');
  if (totals.reports === 0) {
    const anything = totals.bytes + totals.sessions + totals.uptimeSeconds + totals.qosWeightedSum + totals.qosWeight;
    if (anything !== 0n) invalid(field('totals.reports'), 'is 0 but the totals are not empty');
    return;
  }
  if (totals.qosWeight < BigInt(totals.reports)) invalid(field('totals.qosWeight'), 'must be at least the number of reports (each counts max(bytes, 1))');
  if (totals.qosWeightedSum > totals.qosWeight * BPS) invalid(field('totals.qosWeightedSum'), 'must be at most 10000 * qosWeight');
}

function invalid(field: string, reason: string): never {
  throw new Error(`${field}: ${reason}`);
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const sum = (values: readonly bigint[]) => values.reduce((total, value) => total + value, 0n);
