import { Logger } from '@nestjs/common';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { Connection, PublicKey, LAMPORTS_PER_SOL, Transaction, type Keypair } from '@solana/web3.js';
import type { Logger as PinoLogger } from 'pino';
import { canonicalReportBytes } from '../../domain/metric-report';
import { createApiKey } from '../auth/api-keys';
import { signEd25519 } from '../commands/ed25519';
import type { AppConfig } from '../config/config';
import type { Progress } from '../cli/progress';
import { DASHBOARD_DIR } from '../dashboard/dashboard-assets';
import { startEngine, type RunningEngine } from '../engine';
import { associatedTokenAddress, burnChecked, execute, memoInstruction, transferChecked } from '../chain/token';
import { demoNetwork, demoReports, type DemoNetwork } from './demo-network';

export interface DemoOptions {
  dataDir: string;
  port: number;
  synqers: number;
  developers: number;
  seed: string;
  /** Lines of progress (stderr) and the summary (stdout). */
  say: (line: string) => void;
  out: (line: string) => void;
  /** When `port` is taken, serve on a free one (the default port; a port asked for explicitly is not replaced). */
  anyPortIfTaken?: boolean;
  /** A progress bar (src/cli/progress.ts) for the longer steps. */
  progress?: (label: string, unit: string) => Progress;
  /** The engine's structured log (`--log-level`); without it, only the engine's own lines, through `say`. */
  engineLogger?: PinoLogger;
}

export interface EpochSummary {
  epoch: number;
  mode: string;
  pool: string;
  paid: string;
  synqers: number;
  eligible: number;
  root: string;
  reportsAccepted: number;
  reportsRefused: number;
  topEarners: { synqerId: string; reward: string }[];
  settlementTransactions: number;
  feeLamports: string;
  rentLamports: string;
  verification: { runId: string; discrepancies: number };
}

/** The web3 epoch's claims: who claimed from the distributor (on their own or sponsored), who did not, and the clawback. */
export interface ClaimsSummary {
  epoch: number;
  distributor: string;
  leaves: number;
  claimed: number;
  sponsored: number;
  claimedAmount: string;
  unclaimed: number;
  clawedBack: string;
  unclaimedPolicy: string;
  verification: { runId: string; discrepancies: number };
}

export interface DemoResult {
  engine: RunningEngine;
  keys: { operator: string; auditor: string };
  epochs: EpochSummary[];
  claims: ClaimsSummary;
  audit: { epoch: number; status: string }[];
  rewind: { toEpoch: number; resumedTo: string };
}

const SYNQ = 1_000_000n;
const EPOCH_START = Date.parse('2026-11-02T00:00:00Z') / 1000;
const POOL = 50_000n * SYNQ;
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
export const synq = (amount: string | bigint) => {
  const value = BigInt(amount);
  const fraction = (value % SYNQ).toString().padStart(6, '0').replace(/0+$/, '');
  return `${(value / SYNQ).toLocaleString('en-US')}${fraction ? `.${fraction}` : ''} SYNQ`;
};

/**
 * `synq demo`: a whole network on the embedded PostgreSQL and the embedded chain, in a fresh data folder, driven through
 * the REST API as its users would: the chain set up and the treasury funded; synqers in several regions with
 * heavy-tailed traffic (a few with poor QoS or uptime, one whose signatures are bad, one suspended mid-way), stakes of
 * various sizes and one slashing; developers who buy, burn on chain and consume credits; four epochs (web2, hybrid,
 * hybrid, web3), each closed, settled and verified; in the web3 epoch most synqers claim from the epoch's Jito merkle
 * distributor with their own keys through the embedded chain's JSON-RPC (two of them sponsored, holding no SOL), three
 * do not, the chain clock moves past the claim deadline and the unclaimed part is clawed back; then an audit replay
 * and a projection rewind and resume.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { say } = options;
  freshDataDir(options.dataDir);
  const network = demoNetwork(options.seed, options.synqers, options.developers);
  const config: AppConfig = { databaseUrl: undefined, eventStoreConnectionString: undefined, port: options.port, dataDir: options.dataDir };
  say(`starting the engine on embedded PostgreSQL and the embedded chain in ${options.dataDir}`);
  if (options.anyPortIfTaken && config.port !== 0 && !(await portFree(config.port))) {
    say(`port ${config.port} is taken: serving on a free port instead`);
    config.port = 0;
  }
  const engine = await startEngine(config, new DemoLogger(say), { frameworkLogs: false, jsonLogger: options.engineLogger });
  try {
    const keys = {
      operator: (await createApiKey(engine, 'operator')).key,
      ingest: (await createApiKey(engine, 'ingest')).key,
      auditor: (await createApiKey(engine, 'auditor')).key,
    };
    const api = client(engine.url, options.progress);
    const operator = (method: string, path: string, body?: unknown) => api(method, path, keys.operator, body);

    say('setting up the chain: $SYNQ mint, treasury, stake vault');
    await operator('POST', '/chain/init', {});
    await operator('POST', '/treasury/fundings', { amount: (10_000_000n * SYNQ).toString(), reference: 'demo-genesis' });
    say(
      `registering ${network.synqers.length} synqers in ${new Set(network.synqers.map((s) => s.region)).size} regions and ${network.developers.length} developers`,
    );
    const registering = options.progress?.('registering', 'synqers');
    registering?.update(0, network.synqers.length);
    for (const [i, synqer] of network.synqers.entries()) {
      await operator('POST', '/synqers', {
        synqerId: synqer.synqerId,
        payoutWallet: synqer.wallet.publicKey.toBase58(),
        reportingKey: new PublicKey(synqer.reportingKey.subarray(32)).toBase58(),
        region: synqer.region,
      });
      if (synqer.stake > 0n) await operator('POST', `/synqers/${synqer.synqerId}/stake/deposits`, { depositId: 'genesis', amount: synqer.stake.toString() });
      // Counted once registered: the last update, drawn by finish, is n of n.
      registering?.update(i + 1, network.synqers.length);
    }
    registering?.finish();
    for (const developer of network.developers) {
      await operator('POST', '/developers', { developerId: developer.developerId, wallet: developer.wallet.publicKey.toBase58() });
      // Fees for the developers' own transactions: the embedded chain is its own faucet.
      await engine.chain.requestAirdrop(developer.wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    }

    const epochs: EpochSummary[] = [];
    for (const epoch of [1, 2, 3, 4]) {
      if (epoch === 2) {
        say('choosing hybrid settlement from epoch 2: the books decide, the chain pays');
        await operator('POST', '/settlement/mode', { mode: 'hybrid', reason: 'demo: phase 2, parallel Web2/Web3' });
      }
      if (epoch === 4) {
        say('choosing web3 settlement from epoch 4: the chain holds the rewards, synqers claim them with their own keys');
        await operator('POST', '/settlement/mode', { mode: 'web3', reason: 'demo: phase 3, on chain' });
      }
      const start = EPOCH_START + (epoch - 1) * 3600;
      await operator('POST', '/epochs', { epoch, start: instant(start), end: instant(start + 3600), rewardPool: POOL.toString() });
      say(`epoch ${epoch}: reports, purchases, burns and usage`);
      const { accepted, refused } = await submitReports(api, keys.ingest, network, epoch, start);
      await developerActivity(engine, operator, network, epoch);
      if (epoch === 1)
        await operator('POST', `/synqers/${network.slashed}/stake/slashes`, {
          slashId: 'demo-slash-1',
          amount: (500n * SYNQ).toString(),
          reason: 'replayed reports detected',
        });
      if (epoch === 2) await operator('POST', `/synqers/${network.suspended}/suspend`, { reason: 'demo: abuse report under review' });
      if (epoch === 3) await stakeOnChain(engine, operator, network);
      say(`epoch ${epoch}: closing, settling, verifying`);
      const closed = await operator('POST', `/epochs/${epoch}/close`);
      const settled = await operator('POST', `/epochs/${epoch}/settlement`);
      // A hybrid settlement verifies the chain itself; a web2 epoch is verified here (the chain must not have moved).
      const run = settled.verification ?? (await api('POST', '/verification/runs', keys.operator));
      const rewards = await api('GET', `/epochs/${epoch}/rewards?limit=1000`, keys.auditor);
      const results = rewards.results as { synqerId: string; reward: string }[];
      epochs.push({
        epoch,
        mode: settled.mode,
        pool: POOL.toString(),
        paid: closed.settlement.paid,
        synqers: closed.settlement.synqers,
        eligible: closed.settlement.eligible,
        root: closed.settlement.distribution.root,
        reportsAccepted: accepted,
        reportsRefused: refused,
        topEarners: [...results]
          .sort((a, b) => (BigInt(b.reward) > BigInt(a.reward) ? 1 : BigInt(b.reward) < BigInt(a.reward) ? -1 : a.synqerId < b.synqerId ? -1 : 1))
          .slice(0, 3)
          .map(({ synqerId, reward }) => ({ synqerId, reward })),
        settlementTransactions: settled.transactions.confirmed,
        feeLamports: settled.cost.feeLamports,
        rentLamports: settled.cost.rentLamports,
        verification: { runId: run.runId, discrepancies: run.discrepancyCount },
      });
    }

    const claims = await claimWeb3Epoch(engine, api, keys, network, 4, say);

    say('auditing every epoch by replaying the log');
    const audit: DemoResult['audit'] = [];
    for (const { epoch } of epochs) audit.push({ epoch, status: (await api('GET', `/audit/epochs/${epoch}`, keys.auditor)).status });
    say('rewinding the settlement projection to epoch 2 and resuming it');
    await operator('POST', '/projections/settlement/rewind', { toEpoch: 2 });
    await waitForProjection(api, keys.auditor, 'paused');
    await operator('POST', '/projections/settlement/resume');
    const resumedTo = await waitForProjection(api, keys.auditor, 'running');
    return { engine, keys: { operator: keys.operator, auditor: keys.auditor }, epochs, claims, audit, rewind: { toEpoch: 2, resumedTo } };
  } catch (error) {
    await engine.stop().catch(() => undefined);
    throw error;
  }
}

export function printSummary(result: DemoResult, out: (line: string) => void): void {
  for (const e of result.epochs) {
    out(
      `epoch ${e.epoch} (${e.mode}): pool ${synq(e.pool)}, paid ${synq(e.paid)} to ${e.eligible} of ${e.synqers} synqers; reports ${e.reportsAccepted} accepted, ${e.reportsRefused} refused`,
    );
    out(`  top earners: ${e.topEarners.map((t) => `${t.synqerId} ${synq(t.reward)}`).join(', ')}`);
    out(`  root ${e.root}`);
    out(
      e.mode === 'web2'
        ? '  settled in the books (web2): no chain transactions'
        : `  settled on chain: ${e.settlementTransactions} transactions, fees ${e.feeLamports} lamports, rent ${e.rentLamports} lamports`,
    );
    out(
      `  verification ${e.verification.runId}: ${e.verification.discrepancies === 0 ? 'chain matches the books' : `${e.verification.discrepancies} discrepancies`}`,
    );
  }
  const c = result.claims;
  out(
    `epoch ${c.epoch} claims: ${c.claimed} of ${c.leaves} claimed (${c.sponsored} sponsored), ${synq(c.claimedAmount)}; ${c.unclaimed} unclaimed, ${synq(c.clawedBack)} clawed back to the treasury (${c.unclaimedPolicy === 'carry' ? "carried into those wallets' next leaves" : 'returned to the pool'})`,
  );
  out(`  distributor ${c.distributor}`);
  out(
    `  verification ${c.verification.runId}: ${c.verification.discrepancies === 0 ? 'chain matches the books' : `${c.verification.discrepancies} discrepancies`}`,
  );
  out(`audit replay: ${result.audit.map((a) => `epoch ${a.epoch} ${a.status}`).join(', ')}`);
  out(`projection settlement rewound to epoch ${result.rewind.toEpoch} and resumed to position ${result.rewind.resumedTo}`);
  out('');
  out(
    existsSync(path.join(DASHBOARD_DIR, 'index.html'))
      ? `dashboard: ${result.engine.url}/dashboard (auditor key: ${result.keys.auditor})`
      : `dashboard: not built (npm run build), then ${result.engine.url}/dashboard (auditor key: ${result.keys.auditor})`,
  );
  out(`API docs:  ${result.engine.url}/docs (operator key: ${result.keys.operator})`);
}

/** The engine's own lines (database started, listening) as demo progress lines. */
class DemoLogger extends Logger {
  constructor(private readonly say: (line: string) => void) {
    super('demo');
  }

  override log(message: unknown): void {
    this.say(String(message));
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

const MARKER = '.synq-demo';

/** The demo starts from nothing: it empties its folder, but only one it made itself (or an empty one). */
function freshDataDir(dataDir: string): void {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0 && !existsSync(path.join(dataDir, MARKER))) {
    throw new Error(`${dataDir} holds files the demo did not make; choose another folder with --data-dir`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  // Its parents as mkdir makes them; the folder itself private (it will hold keys), as the engine makes its own.
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { mode: 0o700 });
  writeFileSync(path.join(dataDir, MARKER), 'made by synq demo; removed and made again by each run\n');
}

type Api = (method: string, path: string, key: string, body?: unknown) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Calls the API as a client would. Long work answers 202 with a job (`Location: /jobs/{id}`): the job is polled until
 * it finishes, its progress shown on `progress` when given, and its result answered (its problem thrown).
 */
function client(base: string, progress?: (label: string, unit: string) => Progress): Api {
  const call: Api = async (method, path, key, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${parsed?.detail ?? text}`);
    const location = response.headers.get('location');
    if (response.status !== 202 || !location?.startsWith('/jobs/')) return parsed;
    let bar: Progress | undefined;
    let total = 0;
    for (;;) {
      const job = await call('GET', location, key);
      // A settlement's transactions, the long part: a bar (its verification and closes are shorter steps).
      if (progress && job.kind === 'settlement' && job.progress?.phase === 'transactions' && job.progress.total > 0) {
        bar ??= progress(`settling epoch ${job.epoch}`, 'transactions');
        total = job.progress.total;
        bar.update(job.progress.done, total);
      }
      if (job.state === 'succeeded') {
        bar?.update(total, total);
        bar?.finish();
        return job.result;
      }
      if (job.state === 'failed' || job.state === 'interrupted')
        throw new Error(`${method} ${path}: job ${job.id} ${job.state}: ${job.error?.status} ${job.error?.detail}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return call;
}

async function submitReports(api: Api, ingestKey: string, network: DemoNetwork, epoch: number, start: number) {
  const reports = demoReports(network, epoch, start).map(({ synqer, content }) => {
    // One synqer signs with a key that is not its registered one: every report of it is refused.
    const key =
      synqer.profile === 'bad_signatures' ? network.synqers[(network.synqers.indexOf(synqer) + 1) % network.synqers.length].reportingKey : synqer.reportingKey;
    return { ...content, signature: signEd25519(canonicalReportBytes(content), key) };
  });
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < reports.length; i += 2000) {
    const answer = await api('POST', '/metric-reports', ingestKey, { reports: reports.slice(i, i + 2000) });
    accepted += answer.accepted;
    refused += answer.refused;
  }
  return { accepted, refused };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function developerActivity(engine: RunningEngine, operator: (m: string, p: string, b?: unknown) => Promise<any>, network: DemoNetwork, epoch: number) {
  const setup = await operator('GET', '/chain');
  const mint = new PublicKey(setup.mint);
  for (const [i, developer] of network.developers.entries()) {
    const path = `/developers/${developer.developerId}`;
    await operator('POST', `${path}/purchases`, {
      purchaseId: `e${epoch}`,
      amount: developer.purchase.toString(),
      paymentReference: `demo invoice ${epoch}-${i}`,
    });
    const burn = (developer.purchase / 2n / SYNQ) * SYNQ;
    if (epoch === 1) {
      // Web2: the burn is a books operation.
      await operator('POST', `${path}/burns`, { burnId: 'e1', amount: burn.toString() });
    } else {
      // Hybrid: the purchase was delivered to the wallet; the developer burns on chain and submits the signature.
      const signature = await execute(
        engine.chain,
        [burnChecked(associatedTokenAddress(developer.wallet.publicKey, mint), mint, developer.wallet.publicKey, burn)],
        [developer.wallet],
        'demo burn',
      );
      await operator('POST', `${path}/burns/onchain`, { signature });
    }
    const state = await operator('GET', path);
    const credits = BigInt(state.credits) / 3n;
    if (credits > 0n)
      await operator('POST', `${path}/usage`, { usageId: `e${epoch}`, credits: credits.toString(), sessionReference: `demo sessions ${epoch}` });
  }
}

/** A synqer paid on chain stakes part of its reward into the vault, then is credited from the chain. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function stakeOnChain(engine: RunningEngine, operator: (m: string, p: string, b?: unknown) => Promise<any>, network: DemoNetwork) {
  const synqer = network.synqers.find((s) => s.synqerId === network.stakerOnChain)!;
  const setup = await operator('GET', '/chain');
  const mint = new PublicKey(setup.mint);
  await engine.chain.requestAirdrop(synqer.wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
  const source = associatedTokenAddress(synqer.wallet.publicKey, mint);
  const signature = await execute(
    engine.chain,
    [
      transferChecked(source, mint, new PublicKey(setup.stakeVault), synqer.wallet.publicKey, 10n * SYNQ),
      memoInstruction(`synq:stake:${synqer.synqerId}`, synqer.wallet.publicKey),
    ],
    [synqer.wallet],
    'demo stake',
  );
  await operator('POST', `/synqers/${synqer.synqerId}/stake/deposits/onchain`, { signature });
}

/** Synqers who do not claim in the demo's web3 epoch: their part comes back at the clawback. */
const NOT_CLAIMING = 3;
/** Synqers whose payout wallet holds no SOL: the treasury's sponsor key pays their claim. */
const SPONSORED = 2;

/**
 * The web3 epoch after its settlement: every synqer with a leaf but the last three claims it, as a wallet holder would:
 * the claim transaction from the public endpoint (no API key), signed with the wallet's own key and sent through the
 * embedded chain's Solana JSON-RPC (`/chain/rpc`, confirmation by polling); two wallets with no SOL sign their part of
 * a sponsored claim and post it. Then the unclaimed leaves are listed, the chain clock moves past the deadline, the
 * rest is clawed back, and the chain is verified.
 */
async function claimWeb3Epoch(
  engine: RunningEngine,
  api: Api,
  keys: { operator: string; auditor: string },
  network: DemoNetwork,
  epoch: number,
  say: (line: string) => void,
): Promise<ClaimsSummary> {
  const connection = new Connection(`${engine.url}/chain/rpc`, 'confirmed');
  const withLeaves: { wallet: Keypair; amount: bigint }[] = [];
  for (const synqer of network.synqers) {
    const response = await fetch(`${engine.url}/epochs/${epoch}/claims/${synqer.wallet.publicKey.toBase58()}`);
    if (response.status === 200) withLeaves.push({ wallet: synqer.wallet, amount: BigInt(((await response.json()) as { amount: string }).amount) });
  }
  const claiming = withLeaves.slice(0, Math.max(0, withLeaves.length - NOT_CLAIMING));
  say(`epoch ${epoch}: ${claiming.length} of ${withLeaves.length} synqers claim from the distributor with their own keys (${SPONSORED} sponsored)`);
  let claimedAmount = 0n;
  for (const [i, { wallet, amount }] of claiming.entries()) {
    const address = wallet.publicKey.toBase58();
    const sponsored = i < SPONSORED;
    const response = await fetch(`${engine.url}/epochs/${epoch}/claims/${address}${sponsored ? '?sponsored=true' : ''}`);
    const claim = (await response.json()) as { transaction: string };
    const transaction = Transaction.from(Buffer.from(claim.transaction, 'base64'));
    transaction.partialSign(wallet);
    if (sponsored) {
      const posted = await fetch(`${engine.url}/epochs/${epoch}/claims/${address}/sponsored`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ transaction: transaction.serialize({ requireAllSignatures: false }).toString('base64') }),
      });
      if (!posted.ok) throw new Error(`sponsored claim of ${address}: ${posted.status} ${await posted.text()}`);
    } else {
      // A wallet pays its own fee and the ClaimStatus rent: the faucet of the embedded chain gives it SOL first.
      await confirmed(connection, await connection.requestAirdrop(wallet.publicKey, LAMPORTS_PER_SOL / 100));
      await confirmed(connection, await connection.sendRawTransaction(transaction.serialize()));
    }
    claimedAmount += amount;
  }
  const unclaimed = await api('GET', `/epochs/${epoch}/unclaimed`, keys.auditor);
  say(`epoch ${epoch}: ${unclaimed.unclaimed.count} leaves unclaimed, ${unclaimed.secondsLeft} s to the deadline: moving the chain clock past it`);
  await api('POST', '/chain/clock', keys.operator, { advanceSeconds: Number(unclaimed.secondsLeft) + 60 });
  const clawback = await api('POST', `/epochs/${epoch}/clawback`, keys.operator);
  const run = await api('POST', '/verification/runs', keys.operator);
  const settlement = await api('GET', `/epochs/${epoch}/settlement`, keys.auditor);
  return {
    epoch,
    distributor: settlement.distributor,
    leaves: withLeaves.length,
    claimed: claiming.length,
    sponsored: Math.min(SPONSORED, claiming.length),
    claimedAmount: claimedAmount.toString(),
    unclaimed: withLeaves.length - claiming.length,
    clawedBack: String(clawback.amount),
    unclaimedPolicy: String(clawback.policy),
    verification: { runId: run.runId, discrepancies: run.discrepancyCount },
  };
}

/** Polls the signature's status through JSON-RPC until it is confirmed (no websockets on the embedded chain). */
async function confirmed(connection: Connection, signature: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const status = (await connection.getSignatureStatuses([signature])).value[0];
    if (status?.err) throw new Error(`${signature} failed: ${JSON.stringify(status.err)}`);
    if (status?.confirmationStatus === 'confirmed' || status?.confirmationStatus === 'finalized') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${signature} was not confirmed`);
}

async function waitForProjection(api: Api, key: string, status: 'paused' | 'running'): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const listed = (await api('GET', '/projections', key)).projections as { name: string; status: string; position: string; lagEvents: string }[];
    const settlement = listed.find((p) => p.name === 'settlement')!;
    if (settlement.status === status && (status === 'paused' || settlement.lagEvents === '0')) return settlement.position;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the settlement projection did not become ${status}`);
}
