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

/** 0 to 10000 as bigints made once: a million rows keep basis points that would each be a bigint of their own. */
const BASIS_POINTS = Array.from({ length: 10_001 }, (_, i) => BigInt(i));
const shared = (value: bigint): bigint => (value >= 0n && value <= BPS ? BASIS_POINTS[Number(value)] : value);

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
  const calculator = new RewardCalculator(request);
  try {
    for (const synqer of request.synqers) calculator.add(synqer);
    const calculation = calculator.finish();
    return { ...calculation, digest: rewardsDigest(calculation) };
  } catch (error) {
    // The inputs are refused with the error a check of each in turn meets first (a repeated id included).
    checkInputsInOrder(request.synqers);
    throw error;
  }
}

/**
 * The calculation, fed one input at a time (the settlement projection reads a million of them in chunks, and keeps
 * only the results): `add` every input, in any order (in synqer id order nothing is sorted), then `finish`. The same
 * results and totals as `calculateRewards`, which is this over a whole request, with the digest (`rewardsDigest`).
 */
export class RewardCalculator {
  private readonly epoch: number;
  private readonly length: bigint;
  private readonly pool: bigint;
  private readonly policy: RewardParameters;
  /** Only synqers with a report take part: one row each, in the order they came. */
  private readonly rows: SynqerReward[] = [];
  /** Ids of the inputs without a report (no row, but an id all the same, which must not repeat). */
  private readonly silent: string[] = [];
  private lastId: string | undefined;
  private inIdOrder = true;

  constructor(request: Omit<RewardRequest, 'synqers'>) {
    const { epoch, lengthSeconds: length, pool } = request;
    if (!Number.isSafeInteger(epoch) || epoch < 0) invalid('epoch', 'must be a whole number, 0 or more');
    if (length <= 0n) invalid('lengthSeconds', 'must be greater than 0');
    if (pool < 0n) invalid('pool', 'must not be negative');
    this.epoch = epoch;
    this.length = length;
    this.pool = pool;
    this.policy = rewardParameters(request.policy);
  }

  /** One synqer's input: checked, and its row started (capped uptime, QoS, boost and eligibility). */
  add(synqer: RewardInput): void {
    checkInput(synqer);
    const id = synqer.synqerId;
    if (this.inIdOrder && this.lastId !== undefined && !(this.lastId < id)) this.inIdOrder = false;
    this.lastId = id;
    const { totals } = synqer;
    if (totals.reports === 0) {
      this.silent.push(id);
      return;
    }
    const { length, policy } = this;
    const uptimeSeconds = min(totals.uptimeSeconds, length);
    const uptimeBps = shared((uptimeSeconds * BPS) / length);
    const qosBps = shared(totals.qosWeightedSum / totals.qosWeight);
    const noWallet = synqer.payoutWallet === null;
    const lowUptime = uptimeBps < policy.minUptimeBps;
    const lowQos = qosBps < policy.minQosBps;
    const reasons: IneligibilityReason[] = [];
    let reasonText = '';
    if (synqer.suspended || noWallet || lowUptime || lowQos) {
      const texts: string[] = [];
      if (synqer.suspended) {
        reasons.push('suspended');
        texts.push('suspended at the close of the epoch');
      }
      if (noWallet) {
        reasons.push('no_payout_wallet');
        texts.push('has no payout wallet');
      }
      if (lowUptime) {
        reasons.push('uptime_below_minimum');
        texts.push(`uptime ${uptimeBps} bps is below the minimum of ${policy.minUptimeBps} bps`);
      }
      if (lowQos) {
        reasons.push('qos_below_minimum');
        texts.push(`QoS ${qosBps} bps is below the minimum of ${policy.minQosBps} bps`);
      }
      reasonText = texts.join('; ');
    }
    this.rows.push({
      synqerId: id,
      payoutWallet: synqer.payoutWallet,
      bytes: totals.bytes,
      sessions: totals.sessions,
      uptimeSeconds,
      uptimeBps,
      qosBps,
      activeStake: synqer.activeStake,
      stakeBoostBps: synqer.activeStake === 0n ? 0n : shared(stakeBoostBps(synqer.activeStake, policy)),
      eligible: reasons.length === 0,
      reasons,
      reasonText,
      work: 0n,
      weight: 0n,
      reward: 0n,
    });
  }

  /** Work needs SB and SS of the eligible, rewards need W: both come once every input is in. */
  finish(): Omit<RewardCalculation, 'digest'> {
    const { rows, pool, policy } = this;
    // The order the inputs came in must not matter: rows go by synqer id, in code units.
    if (!this.inIdOrder) {
      rows.sort((a, b) => compareIds(a.synqerId, b.synqerId));
      const ids = [...rows.map((row) => row.synqerId), ...this.silent].sort(compareIds);
      for (let i = 1; i < ids.length; i++) if (ids[i] === ids[i - 1]) invalid(`synqers[${ids[i]}].synqerId`, 'appears more than once');
    }

    const eligible: SynqerReward[] = [];
    let SB = 0n;
    let SS = 0n;
    let bytes = 0n;
    let sessions = 0n;
    for (const row of rows) {
      bytes += row.bytes;
      sessions += row.sessions;
      if (!row.eligible) continue;
      eligible.push(row);
      SB += row.bytes;
      SS += row.sessions;
    }
    // work = wBytes * B * SS + wSessions * S * SB, the two factors of B and S taken once.
    const perByte = SB === 0n && SS === 0n ? 0n : SS === 0n ? BPS : SB === 0n ? 0n : policy.weightBytesBps * SS;
    const perSession = SB === 0n && SS === 0n ? 0n : SS === 0n ? 0n : SB === 0n ? BPS : policy.weightSessionsBps * SB;
    let W = 0n;
    for (const row of eligible) {
      row.work = perByte * row.bytes + perSession * row.sessions;
      row.weight = row.work * row.qosBps * row.uptimeBps * (BPS + row.stakeBoostBps);
      W += row.weight;
    }

    let paid = 0n;
    if (W > 0n) {
      // Floor shares first; what they leave over (fewer units than synqers with a remainder) goes one unit each to the
      // largest remainders, ties by id, so the total is exactly P and no unit is created or lost.
      const holders: SynqerReward[] = [];
      const remainders: bigint[] = [];
      for (const row of eligible) {
        const share = pool * row.weight;
        const reward = share / W;
        row.reward = reward;
        paid += reward;
        if (row.weight > 0n) {
          holders.push(row);
          remainders.push(share - reward * W);
        }
      }
      if (paid < pool) for (const i of largestRemainders(remainders, Number(pool - paid))) holders[i].reward += 1n;
      paid = pool;
    }

    const totals: RewardTotals = {
      pool,
      paid,
      returnedToTreasury: pool - paid,
      eligible: eligible.length,
      ineligible: rows.length - eligible.length,
      bytes,
      sessions,
      eligibleBytes: SB,
      eligibleSessions: SS,
      totalWeight: W,
    };
    return { epoch: this.epoch, lengthSeconds: this.length, policyVersion: policy.version, results: rows, totals };
  }
}

/**
 * The indexes of the `count` largest remainders, ties to the lower index (the lower id: holders are in id order). Each
 * remainder's nearest double orders them wherever the doubles differ (a larger double is a larger remainder), so only
 * the remainders whose double equals the `count`-th largest double are compared exactly. Linear but for one sort of
 * doubles, where sorting every remainder as a bigint took seconds at a million synqers.
 */
function largestRemainders(remainders: readonly bigint[], count: number): number[] {
  const near = new Float64Array(remainders.length);
  for (let i = 0; i < near.length; i++) near[i] = Number(remainders[i]);
  const threshold = near.slice().sort()[near.length - count];
  const chosen: number[] = [];
  const tied: number[] = [];
  for (let i = 0; i < near.length; i++) {
    if (near[i] > threshold) chosen.push(i);
    else if (near[i] === threshold) tied.push(i);
  }
  tied.sort((a, b) => (remainders[a] > remainders[b] ? -1 : remainders[a] < remainders[b] ? 1 : a - b));
  for (let i = 0; chosen.length < count; i++) chosen.push(tied[i]);
  return chosen;
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
  return results.map(canonicalResultLine);
}

/** One result's line of the canonical text (`canonicalResultLines`). */
export function canonicalResultLine(r: SynqerReward): string {
  return (
    `${r.synqerId}|${r.payoutWallet ?? '-'}|${r.bytes}|${r.sessions}|${r.uptimeSeconds}|${r.uptimeBps}|${r.qosBps}|${r.activeStake}|` +
    `${r.stakeBoostBps}|${r.eligible ? '1' : '0'}|${r.reasons.length > 0 ? r.reasons.join(',') : '-'}|${r.work}|${r.weight}|${r.reward}`
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

/** The SHA-256 (hex) of `canonicalRewardsText(calculation)`, hashed a chunk of lines at a time instead of as one text. */
export function rewardsDigest(calculation: Omit<RewardCalculation, 'digest'>): string {
  const digest = new RewardsDigest(calculation);
  for (let from = 0; from < calculation.results.length; from += 10_000) digest.lines(calculation.results, from, from + 10_000);
  return digest.digest();
}

/**
 * `rewardsDigest` fed a range of results at a time, in result order, each range's canonical lines handed back as
 * UTF-8 bytes: the settlement projection writes its rows from them, so that each figure is written out once. Bytes
 * rather than text: a million lines joined and hashed as strings cost several times more than writing them to a Buffer.
 */
export class RewardsDigest {
  private readonly hash = createHash('sha256');
  private readonly totals: RewardTotals;

  constructor(calculation: Omit<RewardCalculation, 'digest' | 'results'>) {
    const { epoch, lengthSeconds, policyVersion, totals } = calculation;
    this.totals = totals;
    // The text is the header, then "\n" and a line for each result, then "\n" and the total line: each range of
    // lines is hashed as "line\n...line\n" after the header's own "\n".
    this.hash.update(`synq-rewards/v1|epoch=${epoch}|lengthSeconds=${lengthSeconds}|pool=${totals.pool}|policy=${policyVersion}\n`, 'utf8');
  }

  /** The canonical lines of `results[from .. to)`, the next ones in result order, each ending in "\n": now part of the digest. */
  lines(results: readonly SynqerReward[], from: number, to: number): Buffer {
    const last = Math.min(to, results.length);
    let bytes = Buffer.allocUnsafe(Math.max(0, last - from) * 200);
    let at = 0;
    for (let i = from; i < last; i++) {
      const line = canonicalResultLine(results[i]);
      // UTF-8 takes at most 3 bytes a UTF-16 code unit.
      if (at + 3 * line.length + 1 > bytes.length) {
        const larger = Buffer.allocUnsafe(2 * bytes.length + 3 * line.length + 1);
        bytes.copy(larger, 0, 0, at);
        bytes = larger;
      }
      at += bytes.write(line, at, 'utf8');
      bytes[at++] = 10;
    }
    const written = bytes.subarray(0, at);
    this.hash.update(written);
    return written;
  }

  digest(): string {
    const { totalWeight, paid, returnedToTreasury } = this.totals;
    return this.hash.update(`total|weight=${totalWeight}|paid=${paid}|returnedToTreasury=${returnedToTreasury}`, 'utf8').digest('hex');
  }
}

/** Synqer ids compare by UTF-16 code units (plain `<`): locale-independent, as every replay must agree. */
export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The checks of each input in turn, ids repeated included, as `calculateRewards` refuses them (the first failing). */
function checkInputsInOrder(synqers: readonly RewardInput[]): void {
  const seen = new Set<string>();
  for (const synqer of synqers) {
    checkInput(synqer);
    if (seen.has(synqer.synqerId)) invalid(`synqers[${synqer.synqerId}].synqerId`, 'appears more than once');
    seen.add(synqer.synqerId);
  }
}

/** What an id or a wallet must not hold: the canonical text's separators. */
const TEXT_BREAK = /[|\n\r]/;

/** Refuses input that cannot come from the books: the canonical text must stay unambiguous and the totals coherent. */
function checkInput(synqer: RewardInput): void {
  const id = synqer.synqerId;
  if (typeof id !== 'string' || id.length === 0 || TEXT_BREAK.test(id)) invalid('synqers[].synqerId', 'must be a non-empty string without "|" or line breaks');
  const wallet = synqer.payoutWallet;
  if (wallet !== null && (wallet.length === 0 || wallet === '-' || TEXT_BREAK.test(wallet))) {
    invalid(`synqers[${id}].payoutWallet`, 'must be null or a non-empty string other than "-", without "|" or line breaks');
  }
  if (synqer.activeStake < 0n) invalid(`synqers[${id}].activeStake`, 'must not be negative');
  const { totals } = synqer;
  // One by one rather than in a loop over the names: this runs a million times at a close.
  if (totals.bytes < 0n) invalid(`synqers[${id}].totals.bytes`, 'must not be negative');
  if (totals.sessions < 0n) invalid(`synqers[${id}].totals.sessions`, 'must not be negative');
  if (totals.uptimeSeconds < 0n) invalid(`synqers[${id}].totals.uptimeSeconds`, 'must not be negative');
  if (totals.qosWeightedSum < 0n) invalid(`synqers[${id}].totals.qosWeightedSum`, 'must not be negative');
  if (totals.qosWeight < 0n) invalid(`synqers[${id}].totals.qosWeight`, 'must not be negative');
  if (!Number.isSafeInteger(totals.reports) || totals.reports < 0) invalid(`synqers[${id}].totals.reports`, 'must be a whole number, 0 or more');
  if (totals.reports === 0) {
    const anything = totals.bytes + totals.sessions + totals.uptimeSeconds + totals.qosWeightedSum + totals.qosWeight;
    if (anything !== 0n) invalid(`synqers[${id}].totals.reports`, 'is 0 but the totals are not empty');
    return;
  }
  // A bigint against a number compares exactly.
  if (totals.qosWeight < totals.reports) invalid(`synqers[${id}].totals.qosWeight`, 'must be at least the number of reports (each counts max(bytes, 1))');
  if (totals.qosWeightedSum > totals.qosWeight * BPS) invalid(`synqers[${id}].totals.qosWeightedSum`, 'must be at most 10000 * qosWeight');
}

function invalid(field: string, reason: string): never {
  throw new Error(`${field}: ${reason}`);
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
