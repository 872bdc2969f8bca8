import { PublicKey, type Keypair } from '@solana/web3.js';
import {
  clawbackDecider,
  clawbackMismatch,
  requireClawbackWindow,
  secondsLeft,
  type ClawbackCommand,
  type ClawbackOutcome,
  type ClawbackState,
  type UnclaimedEntry,
} from '../../domain/clawback';
import { createdDistributor, payoutDecider } from '../../domain/epoch-payout';
import { decodeClaimStatus, decodeMerkleDistributor } from '../../domain/jito-distributor';
import { networkDecider } from '../../domain/network';
import { claimPolicy, policyFor } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import { settlementQueries } from '../../projections/settlement';
import { ChainError, signatureOf, type ChainGateway } from '../chain/chain-gateway';
import { claimStatusAddress, clawbackInstruction } from '../chain/jito-distributor';
import { readTokenAccount, signTransaction } from '../chain/token';
import { KeyedQueue } from '../commands/keyed-queue';
import { decideAndAppend, load, loadLatest, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import type { EngineMetrics } from '../observability/engine-metrics';
import type { ProjectionReader } from '../projections/projection-reader';
import { resolveAttempt, sendAttempt } from '../settlement/chain-attempts';
import { loadChainSetup } from '../treasury/chain-setup';
import type { ClaimObserver } from '../claims/claims';

/** ClaimStatus accounts asked for per request to the chain. */
const ACCOUNTS_PER_READ = 100;

interface FundedDistributor {
  epoch: number;
  address: PublicKey;
  vault: PublicKey;
  mint: PublicKey;
  clawbackReceiver: PublicKey;
  clawbackStartTs: string;
  total: bigint;
  leafCount: number;
}

export interface ClawbackDependencies {
  store: EventStore;
  chain: ChainGateway;
  reader: ProjectionReader;
  /** The treasury authority's key: signs and pays for the clawback. */
  treasuryKey: () => Promise<Keypair>;
  metrics?: EngineMetrics;
  /** Records the claims seen on chain in the books (`RewardClaimObserved`, src/claims) before the clawback is recorded. */
  observer?: Pick<ClaimObserver, 'observe'>;
}

/**
 * Unclaimed rewards of web3 epochs and their clawback (domain/clawback.ts holds the rules): `GET /epochs/{n}/unclaimed`,
 * `POST /epochs/{n}/clawback` and `synq clawback --epoch N` all call this, composed once by `createClawback`.
 * Claims are read from the chain itself: a leaf is unclaimed while its wallet's ClaimStatus account does not exist.
 */
export class Clawback {
  /** Clawbacks of one epoch in this process run one after another: the second finds the first's result recorded. */
  private readonly queue = new KeyedQueue();
  /** ClaimStatus addresses per epoch (a PDA search per leaf is worth keeping), in leaf order. */
  private readonly statusAddresses = new Map<number, { root: string; addresses: PublicKey[] }>();

  constructor(private readonly deps: ClawbackDependencies) {}

  /** The leaves not claimed (a page of them in leaf order), their count and total, and the time left to claim them. */
  async unclaimed(epoch: number, page: { limit: number; offset: number } = { limit: 100, offset: 0 }) {
    const distributor = await this.fundedDistributor(epoch);
    const recorded = (await load(this.deps.store, clawbackDecider, epoch)).state;
    const chainNow = await this.deps.chain.unixTimestamp();
    const leaves = await this.leaves(distributor);
    // After the clawback nobody can claim: the list is what the clawback recorded.
    const unclaimed = recorded.clawedBack ? recorded.clawedBack.unclaimed : await this.unclaimedOf(distributor, leaves);
    const total = unclaimed.reduce((sum, entry) => sum + BigInt(entry.amount), 0n);
    const distributionTotal = leaves.reduce((sum, leaf) => sum + BigInt(leaf.amount), 0n);
    if (!recorded.clawedBack) this.deps.metrics?.unclaimed(epoch, unclaimed.length, total);
    else this.deps.metrics?.unclaimed(epoch, 0, 0n);
    const deadline = Number(distributor.clawbackStartTs);
    return {
      epoch,
      distributor: distributor.address.toBase58(),
      deadline: { unixTimestamp: deadline, at: new Date(deadline * 1000).toISOString() },
      chainNow: Number(chainNow),
      secondsLeft: Number(secondsLeft(distributor.clawbackStartTs, chainNow)),
      clawedBack: recorded.clawedBack ? { signature: recorded.clawedBack.signature, amount: recorded.clawedBack.amount } : null,
      leaves: leaves.length,
      claimed: { count: leaves.length - unclaimed.length, total: (distributionTotal - total).toString() },
      unclaimed: { count: unclaimed.length, total: total.toString() },
      limit: page.limit,
      offset: page.offset,
      results: unclaimed.slice(page.offset, page.offset + page.limit),
    };
  }

  /** The epoch's clawback as recorded (404 when none was attempted). */
  async view(epoch: number) {
    const { state } = await load(this.deps.store, clawbackDecider, epoch);
    if (state.attempts === 0) reject('not_found', 'epoch', `epoch ${epoch} has no clawback recorded`);
    return describeClawback(epoch, state);
  }

  /**
   * Claws back what is unclaimed in the epoch's distributor, once, then applies the unclaimed-rewards policy in force
   * for the epoch. Resumes whatever an earlier call (in any process) left: an attempt recorded and maybe sent is
   * resolved by asking the chain first; a clawback recorded without its policy decision gets it.
   */
  run(epoch: number, metadata: CommandMetadata) {
    return this.queue.run(String(epoch), () => this.runNow(epoch, metadata));
  }

  private async runNow(epoch: number, metadata: CommandMetadata) {
    let state = (await load(this.deps.store, clawbackDecider, epoch)).state;
    let step = 0;
    const decide = async (command: ClawbackCommand) => {
      const { events } = await decideAndAppend(this.deps.store, clawbackDecider, epoch, (current) => clawbackDecider.decide(command, current), {
        ...metadata,
        commandId: `${metadata.commandId}:${command.type}:${step++}`,
      });
      state = (await load(this.deps.store, clawbackDecider, epoch)).state;
      return events;
    };

    if (!state.clawedBack) {
      const distributor = await this.fundedDistributor(epoch);
      // First what may be on the chain already: an attempt recorded before a crash or a lost answer.
      if (state.status === 'awaiting' && state.current) {
        await decide({ type: 'RecordClawbackOutcome', data: await this.facts(distributor, await resolveAttempt(this.deps.chain, state.current), metadata) });
      }
      if (!state.clawedBack) {
        requireClawbackWindow({
          epoch,
          distributor: { address: distributor.address.toBase58(), clawbackStartTs: distributor.clawbackStartTs },
          chainNow: await this.deps.chain.unixTimestamp(),
        });
        const attempt = await this.sign(distributor);
        await decide({
          type: 'SignClawback',
          data: {
            window: {
              epoch,
              distributor: { address: distributor.address.toBase58(), clawbackStartTs: distributor.clawbackStartTs },
              chainNow: await this.deps.chain.unixTimestamp(),
            },
            attempt,
          },
        });
        const outcome = await sendAttempt(this.deps.chain, attempt);
        await decide({ type: 'RecordClawbackOutcome', data: await this.facts(distributor, outcome, metadata) });
        this.deps.metrics?.settlementTransaction('clawback', outcome.status);
        if (outcome.status !== 'succeeded') {
          reject(
            'conflict',
            'epoch',
            `epoch ${epoch}'s clawback transaction ${outcome.signature} ${outcome.status === 'failed' ? `failed (${outcome.error})` : 'expired'}: nothing moved; it is recorded, try again`,
          );
        }
      }
    }

    if (!state.settled) {
      const network = await loadLatest(this.deps.store, networkDecider);
      await decide({ type: 'ApplyUnclaimedPolicy', data: { epoch, policy: claimPolicy(policyFor(network.policies, epoch)).unclaimedRewards } });
    }
    if (state.settled?.policy === 'return') {
      const amount = BigInt(state.settled.total);
      await decideAndAppend(
        this.deps.store,
        networkDecider,
        undefined,
        (network) => networkDecider.decide({ type: 'ReleaseUnclaimedRewards', data: { epoch, amount } }, network),
        { ...metadata, commandId: `release-unclaimed:${epoch}` },
      );
    }
    this.deps.metrics?.unclaimed(epoch, 0, 0n);
    return describeClawback(epoch, state);
  }

  /** Signs the clawback (the treasury authority signs and pays), with what the vault and the distributor hold now. */
  private async sign(distributor: FundedDistributor) {
    const setup = await loadChainSetup(this.deps.store);
    if (!setup) reject('conflict', 'chain', 'the chain is not set up');
    const authority = await this.deps.treasuryKey();
    if (authority.publicKey.toBase58() !== setup.treasuryAuthority) {
      throw new ChainError(`the treasury keypair (${authority.publicKey.toBase58()}) is not the recorded treasury authority ${setup.treasuryAuthority}`);
    }
    const account = decodeMerkleDistributor((await this.deps.chain.getAccount(distributor.address))?.data ?? Buffer.alloc(0));
    if (!account) reject('conflict', 'distributor', `epoch ${distributor.epoch}'s distributor ${distributor.address.toBase58()} is not on chain`);
    if (account.clawedBack) {
      // Anyone may claw back after the start: someone did, and none of this epoch's recorded attempts.
      reject(
        'conflict',
        'distributor',
        `epoch ${distributor.epoch}'s distributor was clawed back by a transaction this engine did not record (see signaturesForAddress ${distributor.address.toBase58()}); nothing was sent`,
      );
    }
    const vaultBefore = readTokenAccount(distributor.vault, await this.deps.chain.getAccount(distributor.vault))?.amount ?? 0n;
    const { blockhash, lastValidBlockHeight } = await this.deps.chain.latestBlockhash();
    const instruction = clawbackInstruction({
      distributor: distributor.address,
      mint: distributor.mint,
      clawbackReceiver: distributor.clawbackReceiver,
      signer: authority.publicKey,
    });
    const wire = signTransaction([instruction], [authority], blockhash);
    return {
      signature: signatureOf(wire),
      blockhash,
      lastValidBlockHeight: lastValidBlockHeight.toString(),
      wire: Buffer.from(wire).toString('base64'),
      vaultBefore: vaultBefore.toString(),
      claimedBefore: account.totalAmountClaimed.toString(),
    };
  }

  /** A landed clawback's facts, read from the chain once it landed: the vault and claimed total after, and the unclaimed leaves. */
  private async facts(distributor: FundedDistributor, outcome: Awaited<ReturnType<typeof sendAttempt>>, metadata: CommandMetadata): Promise<ClawbackOutcome> {
    if (outcome.status !== 'succeeded') return outcome;
    // The claims made before it are final now: the books learn them first (their own stream, `claims-<epoch>`).
    await this.deps.observer?.observe(distributor.epoch, { ...metadata, commandId: `${metadata.commandId}:claims` });
    const account = decodeMerkleDistributor((await this.deps.chain.getAccount(distributor.address))?.data ?? Buffer.alloc(0));
    const vaultAfter = readTokenAccount(distributor.vault, await this.deps.chain.getAccount(distributor.vault))?.amount ?? 0n;
    const unclaimed = await this.unclaimedOf(distributor, await this.leaves(distributor));
    return { ...outcome, vaultAfter, claimedAfter: account?.totalAmountClaimed ?? 0n, unclaimed };
  }

  /** The epoch's funded distributor, from its settlement: 404 for an epoch never opened, 409 for one without. */
  private async fundedDistributor(epoch: number): Promise<FundedDistributor> {
    const network = await loadLatest(this.deps.store, networkDecider);
    if (!network.epochs.has(epoch)) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    const payout = (await load(this.deps.store, payoutDecider, epoch)).state;
    const created = createdDistributor(payout);
    if (!created || !payout.plan)
      reject('conflict', 'epoch', `epoch ${epoch} has no funded distributor (it is not a settled web3 epoch with leaves): nothing is claimable or clawed back`);
    const setup = await loadChainSetup(this.deps.store);
    if (!setup) reject('conflict', 'chain', 'the chain is not set up');
    return {
      epoch,
      address: new PublicKey(created.accounts.address),
      vault: new PublicKey(created.accounts.vault),
      mint: new PublicKey(setup.mint),
      clawbackReceiver: new PublicKey(created.accounts.clawbackReceiver),
      clawbackStartTs: created.terms.clawbackStartTs,
      total: BigInt(payout.plan.total),
      leafCount: payout.plan.leafCount,
    };
  }

  /** The distribution's leaves in leaf order, from the settlement read model (all of them, or 409 while it catches up). */
  private async leaves(distributor: FundedDistributor): Promise<UnclaimedEntry[]> {
    const rows = await settlementQueries.leafAmounts(this.deps.reader, distributor.epoch);
    if (rows.length !== distributor.leafCount)
      reject('conflict', 'epoch', `the read model holds ${rows.length} of epoch ${distributor.epoch}'s ${distributor.leafCount} leaves: let it catch up`);
    return rows.map((row) => ({ wallet: row.wallet, amount: row.amount }));
  }

  /** The leaves whose wallet has no ClaimStatus account for the distributor. */
  private async unclaimedOf(distributor: FundedDistributor, leaves: readonly UnclaimedEntry[]): Promise<UnclaimedEntry[]> {
    const key = distributor.address.toBase58();
    let cached = this.statusAddresses.get(distributor.epoch);
    if (!cached || cached.root !== key || cached.addresses.length !== leaves.length) {
      cached = { root: key, addresses: leaves.map((leaf) => claimStatusAddress(new PublicKey(leaf.wallet), distributor.address)) };
      this.statusAddresses.set(distributor.epoch, cached);
    }
    const unclaimed: UnclaimedEntry[] = [];
    for (let i = 0; i < leaves.length; i += ACCOUNTS_PER_READ) {
      const accounts = await this.deps.chain.getAccounts(cached.addresses.slice(i, i + ACCOUNTS_PER_READ));
      accounts.forEach((account, k) => {
        if (!account || !decodeClaimStatus(account.data)) unclaimed.push(leaves[i + k]);
      });
    }
    return unclaimed;
  }
}

export function describeClawback(epoch: number, state: ClawbackState) {
  const done = state.clawedBack;
  return clawbackView(epoch, {
    status: state.status,
    attempts: state.attempts,
    signature: done?.signature ?? state.current?.signature ?? null,
    feeLamports: state.feeLamports,
    lastError: state.lastError ?? null,
    clawedBack: done
      ? {
          amount: done.amount,
          claimed: done.claimed,
          unclaimedCount: done.unclaimed.length,
          unclaimedTotal: done.unclaimedTotal,
          mismatch: clawbackMismatch(done),
        }
      : null,
    policy: state.settled?.policy ?? null,
  });
}

/** What a clawback's view shows: from the stream's fold (describeClawback) or from the payouts read model (src/clawback/clawback-views.ts). */
export interface ClawbackSummary {
  status: ClawbackState['status'];
  attempts: number;
  /** The clawback's, once clawed back; else the last attempt's. */
  signature: string | null;
  feeLamports: bigint;
  lastError: string | null;
  clawedBack: { amount: string; claimed: string; unclaimedCount: number; unclaimedTotal: string; mismatch: bigint } | null;
  policy: 'carry' | 'return' | null;
}

export function clawbackView(epoch: number, summary: ClawbackSummary) {
  const done = summary.clawedBack;
  return {
    epoch,
    status: summary.status,
    attempts: summary.attempts,
    signature: summary.signature,
    feeLamports: summary.feeLamports.toString(),
    lastError: summary.lastError,
    amount: done?.amount ?? null,
    claimed: done?.claimed ?? null,
    unclaimed: done ? { count: done.unclaimedCount, total: done.unclaimedTotal } : null,
    /** The amount moved less the unclaimed leaves' sum: 0 unless tokens reached the vault otherwise (verification flags it). */
    mismatch: done ? done.mismatch.toString() : null,
    policy: summary.policy,
  };
}

export type ClawbackView = ReturnType<typeof clawbackView>;

/** Composed once, for the engine (ClawbackModule) and the command line (`synq clawback`) alike. */
export function createClawback(deps: ClawbackDependencies): Clawback {
  return new Clawback(deps);
}
