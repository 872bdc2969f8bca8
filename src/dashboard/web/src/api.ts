/** The engine's REST API, called with the key the user gave (kept in this tab's sessionStorage only). */

const KEY = 'synq-dashboard-api-key';

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export interface Problem {
  field: string;
  reason: string;
}

/** An answer other than 2xx, from the API's application/problem+json (or what stood in for it). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly problems: Problem[],
    readonly path: string,
  ) {
    super(`${status} ${title}: ${detail}`);
  }
}

export async function get<T>(path: string): Promise<T> {
  const key = apiKey.get();
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, 'Engine unreachable', `the engine did not answer (${(error as Error).message})`, [], path);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = (body ?? {}) as { title?: string; detail?: string; problems?: Problem[] };
    throw new ApiError(
      response.status,
      problem.title ?? response.statusText,
      problem.detail ?? (text.slice(0, 200) || response.statusText),
      problem.problems ?? [],
      path,
    );
  }
  return body as T;
}

/** `get`, with a 404 answered as `undefined` (a thing that does not exist yet, such as an unsettled epoch's settlement). */
export async function find<T>(path: string): Promise<T | undefined> {
  try {
    return await get<T>(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** Runs `task` over `items`, at most `limit` at a time, keeping their order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// The shapes the pages read (only the fields they use).

export type Mode = 'web2' | 'hybrid' | 'web3';

export interface EpochSettlementSummary {
  policyVersion: number;
  cutOffPosition: string;
  synqers: number;
  eligible: number;
  ineligible: number;
  bytes: string;
  sessions: string;
  paid: string;
  returnedToTreasury: string;
  digest: string;
  distribution: { root: string; leafCount: number; total: string } | null;
}

export interface Epoch {
  epoch: number;
  start: string;
  end: string;
  rewardPool: string;
  status: 'open' | 'closed';
  cutOffPosition?: string;
  stage?: string;
  settlement: EpochSettlementSummary | null;
}

export interface Payout {
  epoch: number;
  mode: Mode;
  root: string;
  leafCount: number;
  total: string;
  status: 'settled' | 'in_progress';
  transactions: { planned: number; confirmed: number; awaiting: number; failed: number; expired: number; unsigned: number };
  cost: {
    feeLamports: string;
    rentLamports: string;
    totalLamports: string;
    claims: { claims: number; sponsoredClaims: number; claimantLamports: string; sponsorLamports: string } | null;
    allLamports: string;
    percentOfPaid: string | null;
  };
  batches: {
    batch: number;
    kind: 'payout' | 'anchor' | 'distributor';
    firstLeaf: number;
    leafCount: number;
    status: string;
    attempts: number;
    signature: string | null;
  }[];
  /** web3: the epoch's Jito merkle distributor and its vault, funded once its transaction is confirmed. */
  distributor: string | null;
  vault: string | null;
  funded: boolean;
  claimDeadline: { unixTimestamp: number; at: string } | null;
}

/** `GET /epochs/{n}/claims`: how far the claims of a web3 epoch have come. */
export interface ClaimsProgress {
  totals: {
    leaves: number;
    claimed: { count: number; amount: string };
    unclaimed: { count: number; amount: string };
    sponsored: { count: number; sponsorLamports: string };
  };
  claimDeadline: { unixTimestamp: number; at: string } | null;
}

/** `GET /epochs/{n}/clawback`: what came back after the deadline. */
export interface ClawbackRecord {
  status: string;
  signature: string | null;
  amount: string | null;
  policy: string | null;
}

export interface SettlementControl {
  nextEpoch: number;
  modeOfNextEpoch: Mode;
  modes: { mode: Mode; effectiveFromEpoch: number }[];
  paused: { verificationRunId: string; discrepancies: number } | null;
}

export interface ProjectionInfo {
  name: string;
  version: number;
  generation: number;
  status: string;
  position: string;
  lagEvents: string;
  lagSeconds: number;
}

export interface Discrepancy {
  type: string;
  epoch: number | null;
  account: string | null;
  signature: string | null;
  expected: string | null;
  actual: string | null;
  detail: string;
}

export interface VerificationRun {
  runId: string;
  cluster: string;
  upToPosition: string;
  completedAt: string;
  checked: Record<string, number>;
  discrepancyCount: number;
  byType: Record<string, number>;
  discrepancies?: Discrepancy[];
}

/** Long work (a settlement, a close, a verification run), as `GET /jobs` lists it (src/jobs). */
export interface Job {
  id: string;
  kind: 'settlement' | 'close' | 'verification';
  epoch?: number;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';
  progress?: { done: number; total: number; phase: string };
  error?: { status: number; title: string; detail: string };
  runs: number;
  createdAt: string;
  updatedAt: string;
  links: Record<string, string>;
}

export interface EpochStatistics {
  epoch: number;
  status: string;
  calculated: boolean;
  reported: { synqers: number; bytes: string; sessions: string; reports: number };
  eligibility: { synqers: number; eligible: number; ineligible: number; reasons: { reason: string; count: number }[] } | null;
  rewards: {
    count: number;
    min: string | null;
    median: string | null;
    max: string | null;
    total: string;
    histogram: { from: string; to: string; count: number }[];
  } | null;
}

export interface RewardRow {
  synqerId: string;
  payoutWallet: string | null;
  bytes: string;
  sessions: string;
  uptimeBps: number;
  qosBps: number;
  stakeBoostBps: number;
  eligible: boolean;
  reasons: string[];
  reward: string;
}

export interface Claim {
  epoch: number;
  wallet: string;
  index: number;
  amount: string;
  root: string;
  proof: string[];
}

export interface Synqer {
  synqerId: string;
  reportingKey: string;
  region: string;
  labels: Record<string, string>;
  wallets: { payoutWallet: string; fromEpoch: number }[];
  status: 'active' | 'suspended';
  payoutWallet: string;
}

export interface Stake {
  synqerId: string;
  active: string;
  held: string;
  slashed: string;
  unstaking: { requestId: string; amount: string; unlockEpoch: number; withdrawn: boolean }[];
}

export interface SynqerEpoch {
  epoch: number;
  calculated: boolean;
  bytes: string;
  sessions: string;
  uptimeSeconds: string;
  uptimeBps: number;
  qosBps: number;
  reports: number;
  eligible: boolean | null;
  reasons: string[];
  activeStake: string | null;
  stakeBoostBps: number | null;
  reward: string | null;
  payoutWallet: string | null;
  leaf: { index: number; amount: string } | null;
}

export interface PolicyInfo {
  inForce: { version: number; minUptimeBps: number; minQosBps: number };
}

/** The mode an epoch is settled in: its settlement's, or else the operator's choice in force from that epoch. */
export function modeOf(control: SettlementControl, epoch: number, payout?: Payout): Mode {
  if (payout) return payout.mode;
  let mode: Mode = 'web2';
  for (const choice of control.modes) if (choice.effectiveFromEpoch <= epoch) mode = choice.mode;
  return mode;
}
