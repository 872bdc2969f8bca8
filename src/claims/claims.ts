import { createHash } from 'node:crypto';
import { PublicKey, type Keypair } from '@solana/web3.js';
import {
  claimCosts,
  epochClaimsDecider,
  sightingProblem,
  type ClaimSighting,
  type EpochClaimsState,
  type ObservedClaim,
  type SponsoredAttempt,
} from '../../domain/epoch-claims';
import { createdDistributor, payoutDecider, type DistributorTerms } from '../../domain/epoch-payout';
import { CLAIM_STATUS_ACCOUNT_SIZE, decodeClaimStatus } from '../../domain/jito-distributor';
import { networkDecider } from '../../domain/network';
import { claimPolicy, policyFor } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import { base58Decode, base58Encode } from '../../domain/values';
import { settlementQueries } from '../../projections/settlement';
import { ChainError, type ChainGateway } from '../chain/chain-gateway';
import { claimStatusAddress } from '../chain/jito-distributor';
import { associatedTokenAddress, TOKEN_ACCOUNT_SIZE } from '../chain/token';
import { decideAndAppend, load, loadLatest, type CommandMetadata } from '../commands/streams';
import { signEd25519Bytes, verifyEd25519 } from '../commands/ed25519';
import type { EventStore } from '../event-store/event-store';
import type { ProjectionReader } from '../projections/projection-reader';
import { resolveAttempt } from '../settlement/chain-attempts';
import { loadChainSetup } from '../treasury/chain-setup';
import { claimMessage, messageDifference, splitWire, unsignedWire, type ClaimTerms, type SponsorTerms } from './claim-transaction';

/**
 * Claims of web3 epochs, composed once (createClaims) for the engine's ClaimsModule and the command line:
 * - `Claims`: a wallet's claim with the transaction it signs (its own or sponsored), the sponsored claim posted back,
 *   and what claims cost the sponsor;
 * - `ClaimObserver.observe(epoch)`: reads every leaf's ClaimStatus account and records claims newly seen
 *   (`RewardClaimObserved` on `claims-<epoch>`), for the list (src/claims/claim-listings.ts), verification and
 *   clawback alike.
 */

/** getMultipleAccounts takes at most 100 addresses. */
const ACCOUNTS_PER_READ = 100;
/** Lamports the sponsor keeps above what one claim costs; on the embedded chain it is topped up by this much when short. */
const SPONSOR_FLOAT = 1_000_000_000n;
/** Fees: 5,000 lamports per signature, two signatures. */
const SPONSORED_FEE_ALLOWANCE = 10_000n;

export interface EpochDistributor {
  epoch: number;
  distributor: PublicKey;
  mint: PublicKey;
  terms: DistributorTerms;
}

export interface LeafClaim {
  amount: bigint;
  proof: Buffer[];
  root: string;
}

export const claimDeadline = (terms: DistributorTerms) => {
  const seconds = Number(terms.clawbackStartTs);
  return { unixTimestamp: seconds, at: new Date(seconds * 1000).toISOString() };
};

/** A wallet as a path segment: base58 of exactly 32 bytes; 422 naming `wallet` otherwise (NUL, surrogates and long strings included). */
export function parseWallet(text: unknown): PublicKey {
  if (typeof text !== 'string' || text.length < 32 || text.length > 44 || !/^[1-9A-HJ-NP-Za-km-z]+$/.test(text))
    reject('invalid', 'wallet', 'must be a base58 public key of 32 bytes');
  const bytes = base58Decode(text);
  if (!bytes || bytes.length !== 32 || base58Encode(bytes) !== text) reject('invalid', 'wallet', 'must be a base58 public key of 32 bytes');
  return new PublicKey(bytes);
}

/** The epoch's distributor once funded: 404 for an epoch that is not web3 (or has no distributor), 409 before it is funded. */
export async function epochDistributor(store: EventStore, epoch: number): Promise<EpochDistributor> {
  const { state } = await load(store, payoutDecider, epoch);
  const plan = state.plan;
  if (!plan || plan.mode !== 'web3' || !plan.distributor)
    reject('not_found', 'epoch', `epoch ${epoch} has no distributor to claim from (not a web3 epoch, or not settled yet)`);
  const created = createdDistributor(state);
  if (!created) reject('conflict', 'epoch', `epoch ${epoch}'s distributor is not funded yet: claims open once its settlement is confirmed`);
  const setup = await loadChainSetup(store);
  if (!setup) reject('conflict', 'epoch', 'the chain is not set up');
  return { epoch, distributor: new PublicKey(created.accounts.address), mint: new PublicKey(setup.mint), terms: created.terms };
}

export interface ClaimsDependencies {
  store: EventStore;
  chain: ChainGateway;
  reader: ProjectionReader;
  /** The sponsor's key (src/claims/sponsor-key.ts `sponsorKeyLoader`). */
  sponsorKey: () => Promise<Keypair>;
}

export interface ClaimListing {
  wallet: string;
  amount: string;
  claimed: boolean;
  slot: string | null;
  /** The chain's block time, when it keeps one (the embedded chain does not). */
  blockTime: number | null;
  signature: string | null;
  sponsored: boolean;
}

/** Records claims seen on chain. What verification and clawback call to know who claimed. */
export class ClaimObserver {
  constructor(
    private readonly deps: Pick<ClaimsDependencies, 'store' | 'chain' | 'reader'>,
    private readonly claimStatuses = new Map<number, Map<string, PublicKey>>(),
  ) {}

  /**
   * Every claim of the epoch's distributor: reads each leaf's ClaimStatus account (in chunks), records those newly
   * seen (their signature is the first that touched the ClaimStatus account) once per wallet, and answers every claim
   * recorded. Sightings the books cannot accept (an amount other than the leaf's) are answered apart, unrecorded.
   */
  async observe(epoch: number, metadata?: CommandMetadata): Promise<{ claims: ObservedClaim[]; refused: (ClaimSighting & { reason: string })[] }> {
    const { store, chain, reader } = this.deps;
    const { distributor } = await epochDistributor(store, epoch);
    const leaves = await settlementQueries.leaves(reader, epoch);
    const addresses = this.claimStatusesOf(
      epoch,
      distributor,
      leaves.map((leaf) => leaf.wallet),
    );
    const { state } = await load(store, epochClaimsDecider, epoch);
    const sightings: ClaimSighting[] = [];
    for (let i = 0; i < leaves.length; i += ACCOUNTS_PER_READ) {
      const chunk = leaves.slice(i, i + ACCOUNTS_PER_READ);
      const accounts = await chain.getAccounts(chunk.map((leaf) => addresses.get(leaf.wallet)!));
      for (let k = 0; k < chunk.length; k++) {
        const account = accounts[k];
        const leaf = chunk[k];
        if (!account || state.observed.has(leaf.wallet)) continue;
        const status = decodeClaimStatus(account.data);
        const claimStatus = addresses.get(leaf.wallet)!;
        const signature = (await chain.signaturesForAddress(claimStatus))[0] ?? '';
        const landed = signature ? await chain.getTransaction(signature) : null;
        sightings.push({
          epoch,
          wallet: leaf.wallet,
          amount: (status?.unlockedAmount ?? 0n).toString(),
          claimStatus: claimStatus.toBase58(),
          signature,
          slot: (landed?.slot ?? 0n).toString(),
          ...(landed ? { feePayer: landed.signers[0], fee: landed.fee.toString() } : {}),
          rentLamports: account.lamports.toString(),
          leafAmount: leaf.amount,
        });
      }
    }
    const refused = sightings.flatMap((sighting) => {
      const reason = sightingProblem(sighting);
      return reason ? [{ ...sighting, reason }] : [];
    });
    const accepted = sightings.filter((sighting) => sightingProblem(sighting) === null);
    let recorded = state;
    if (accepted.length > 0) {
      await decideAndAppend(
        store,
        epochClaimsDecider,
        epoch,
        (current) => epochClaimsDecider.decide({ type: 'ObserveClaims', data: { sightings: accepted } }, current),
        metadata ?? {
          actor: 'claim-observer',
          correlationId: `claims-${epoch}`,
          commandId: `observe-${epoch}-${digest(accepted.map((s) => s.wallet).join(','))}`,
        },
      );
      recorded = (await load(store, epochClaimsDecider, epoch)).state;
    }
    return { claims: [...recorded.observed.values()], refused };
  }

  /** Deriving a ClaimStatus address costs a curve check per bump tried: each epoch's are kept once derived (the two latest epochs). */
  private claimStatusesOf(epoch: number, distributor: PublicKey, wallets: string[]): Map<string, PublicKey> {
    let known = this.claimStatuses.get(epoch);
    if (!known) {
      known = new Map();
      this.claimStatuses.set(epoch, known);
      while (this.claimStatuses.size > 2) this.claimStatuses.delete(this.claimStatuses.keys().next().value!);
    }
    for (const wallet of wallets) if (!known.has(wallet)) known.set(wallet, claimStatusAddress(new PublicKey(wallet), distributor));
    return known;
  }
}

export interface SponsoredClaimResult {
  epoch: number;
  wallet: string;
  amount: string;
  signature: string;
  status: 'confirmed';
  slot: string;
  sponsor: string;
  sponsorPaid: { feeLamports: string; rentLamports: string; totalLamports: string };
}

/** A wallet's claims: what it signs, and the sponsored claims it posts back. */
export class Claims {
  /** Blockhashes handed out with a claim, and the height they can land until (a sponsored claim's attempt records it). */
  private readonly issued = new Map<string, bigint>();
  /** Sponsored claims being sent by this process, by signature: concurrent posts of one transaction share one outcome. */
  private readonly inFlight = new Map<string, Promise<SponsoredClaimResult>>();

  constructor(
    private readonly deps: ClaimsDependencies,
    readonly observer: ClaimObserver,
  ) {}

  /** The wallet's leaf: amount and proof; 404 naming `wallet` when it has none. */
  async leaf(epoch: number, wallet: PublicKey): Promise<LeafClaim> {
    const rows = await settlementQueries.claimProof(this.deps.reader, epoch, wallet.toBase58());
    if (rows.length === 0) reject('not_found', 'wallet', `wallet ${wallet.toBase58()} has no claim in epoch ${epoch}`);
    const proof = rows
      .filter((row) => row.level !== null)
      .map((row) => {
        if (row.node === null || row.node.length !== 32) throw new Error(`epoch ${epoch}: tree level ${row.level} lacks a node of a proof`);
        return row.node;
      });
    return { amount: BigInt(rows[0].amount), proof, root: rows[0].root };
  }

  /**
   * `GET /epochs/{n}/claims/{wallet}`: the leaf, the ClaimStatus account and whether it exists, and the unsigned
   * transaction that claims it (null once claimed): the wallet pays, or with `sponsored` the sponsor does.
   */
  async claimFor(epoch: number, walletText: unknown, sponsored = false) {
    const wallet = parseWallet(walletText);
    const { store, chain } = this.deps;
    const found = await epochDistributor(store, epoch);
    const leaf = await this.leaf(epoch, wallet);
    const claimStatus = claimStatusAddress(wallet, found.distributor);
    const claimed = (await chain.getAccount(claimStatus)) !== null;
    const terms: ClaimTerms = { distributor: found.distributor, mint: found.mint, claimant: wallet, amount: leaf.amount, proof: leaf.proof };
    let sponsor: (SponsorTerms & { rentLamports: bigint }) | undefined;
    if (sponsored && !claimed) {
      const minimum = await this.sponsoredMinimum(epoch);
      if (leaf.amount < minimum) reject('conflict', 'amount', `${leaf.amount} is below the sponsored-claim minimum of ${minimum}: claim it with your own SOL`);
      sponsor = await this.sponsorTerms(wallet, found.mint);
    }
    let transaction: string | null = null;
    let recent: { blockhash: string; lastValidBlockHeight: bigint } | null = null;
    if (!claimed) {
      recent = await chain.latestBlockhash();
      this.issue(recent.blockhash, recent.lastValidBlockHeight);
      const wire = unsignedWire(claimMessage(terms, recent.blockhash, sponsor));
      if (wire.length > 1232) reject('conflict', 'wallet', `the claim's proof is too long for one transaction (${wire.length} bytes)`);
      transaction = wire.toString('base64');
    }
    return {
      epoch,
      wallet: wallet.toBase58(),
      amount: leaf.amount.toString(),
      proof: leaf.proof.map((node) => node.toString('hex')),
      root: leaf.root,
      distributor: found.distributor.toBase58(),
      mint: found.mint.toBase58(),
      tokenAccount: associatedTokenAddress(wallet, found.mint).toBase58(),
      claimStatus: claimStatus.toBase58(),
      claimed,
      claimDeadline: claimDeadline(found.terms),
      sponsored: sponsor !== undefined,
      feePayer: sponsor ? sponsor.sponsor.toBase58() : wallet.toBase58(),
      sponsorPays: sponsor ? { rentLamports: sponsor.rentLamports.toString(), feeLamports: SPONSORED_FEE_ALLOWANCE.toString() } : null,
      blockhash: recent?.blockhash ?? null,
      lastValidBlockHeight: recent ? recent.lastValidBlockHeight.toString() : null,
      transaction,
    };
  }

  /**
   * `POST /epochs/{n}/claims/{wallet}/sponsored`: the sponsored transaction, signed by the wallet. Accepted only when
   * its message is byte for byte the one the engine builds with its blockhash and the wallet's signature is valid; then
   * policy (minimum, once per wallet, not claimed, blockhash still valid), the attempt recorded, co-signed, sent,
   * confirmed and its outcome recorded. The same transaction posted again answers the recorded outcome.
   */
  async submitSponsored(epoch: number, walletText: unknown, body: unknown, metadata: Omit<CommandMetadata, 'commandId'>): Promise<SponsoredClaimResult> {
    const wallet = parseWallet(walletText);
    const posted = parseTransaction(body);
    const { store, chain } = this.deps;
    const found = await epochDistributor(store, epoch);
    const leaf = await this.leaf(epoch, wallet);
    const key = await this.deps.sponsorKey();
    const rent = await chain.minimumBalanceForRentExemption(CLAIM_STATUS_ACCOUNT_SIZE);
    const terms: ClaimTerms = { distributor: found.distributor, mint: found.mint, claimant: wallet, amount: leaf.amount, proof: leaf.proof };
    const { signatures, message, signers, blockhash } = splitWire(posted);
    const difference = messageDifference(message, claimMessage(terms, blockhash, { sponsor: key.publicKey, claimStatusRent: rent }));
    if (difference) reject('invalid', 'transaction', `not the sponsored claim of ${wallet.toBase58()} in epoch ${epoch}: ${difference}`);
    const walletIndex = signers.findIndex((signer) => signer.equals(wallet));
    if (walletIndex < 0 || !verifyEd25519(message, base58Encode(signatures[walletIndex]), wallet.toBase58()))
      reject('invalid', 'transaction', `the wallet's signature is missing or not valid`);
    const sponsorSignature = signEd25519Bytes(message, key.secretKey);
    const signature = base58Encode(sponsorSignature);
    let running = this.inFlight.get(signature);
    if (!running) {
      running = this.sponsor({ epoch, wallet, leaf, key, rent, found, message, signatures, sponsorSignature, signature, blockhash, metadata }).finally(() =>
        this.inFlight.delete(signature),
      );
      this.inFlight.set(signature, running);
    }
    return running;
  }

  private async sponsor(input: {
    epoch: number;
    wallet: PublicKey;
    leaf: LeafClaim;
    key: Keypair;
    rent: bigint;
    found: EpochDistributor;
    message: Buffer;
    signatures: Buffer[];
    sponsorSignature: Buffer;
    signature: string;
    blockhash: string;
    metadata: Omit<CommandMetadata, 'commandId'>;
  }): Promise<SponsoredClaimResult> {
    const { epoch, wallet, key, signature } = input;
    const { store, chain } = this.deps;
    const walletText = wallet.toBase58();
    let { state } = await load(store, epochClaimsDecider, epoch);
    if (state.sponsored.get(walletText)?.current.signature !== signature) {
      const lastValid = this.issued.get(input.blockhash);
      if (lastValid === undefined || (await chain.blockHeight()) > lastValid)
        reject('conflict', 'transaction', `its blockhash ${input.blockhash} has expired or was not handed out by this engine: fetch the claim again`);
      const claimStatus = claimStatusAddress(wallet, input.found.distributor);
      const claimedOnChain = (await chain.getAccount(claimStatus)) !== null;
      const tokenAccount = associatedTokenAddress(wallet, input.found.mint);
      const tokenAccountRent = (await chain.getAccount(tokenAccount)) === null ? await chain.minimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE) : 0n;
      const rentLamports = input.rent + tokenAccountRent;
      const minimum = await this.sponsoredMinimum(epoch);
      await this.fundSponsor(key.publicKey, rentLamports + SPONSORED_FEE_ALLOWANCE);
      const wire = Buffer.concat([Buffer.from([input.signatures.length]), input.sponsorSignature, ...input.signatures.slice(1), input.message]);
      const attempt: Omit<SponsoredAttempt, 'attempt'> = {
        epoch,
        wallet: walletText,
        amount: input.leaf.amount.toString(),
        signature,
        blockhash: input.blockhash,
        lastValidBlockHeight: lastValid.toString(),
        wire: wire.toString('base64'),
        sponsor: key.publicKey.toBase58(),
        rentLamports: rentLamports.toString(),
      };
      await decideAndAppend(
        store,
        epochClaimsDecider,
        epoch,
        (current) => epochClaimsDecider.decide({ type: 'SignSponsoredClaim', data: { attempt, minimum: minimum.toString(), claimedOnChain } }, current),
        { ...input.metadata, commandId: `sponsored-${signature}` },
      );
      state = (await load(store, epochClaimsDecider, epoch)).state;
    }
    let claim = state.sponsored.get(walletText)!;
    if (claim.status === 'awaiting') {
      const outcome = await resolveAttempt(chain, claim.current);
      await decideAndAppend(
        store,
        epochClaimsDecider,
        epoch,
        (current) => epochClaimsDecider.decide({ type: 'RecordSponsoredOutcome', data: { ...outcome, wallet: walletText } }, current),
        { ...input.metadata, commandId: `sponsored-outcome-${signature}` },
      );
      claim = (await load(store, epochClaimsDecider, epoch)).state.sponsored.get(walletText)!;
    }
    if (claim.current.signature !== signature) reject('conflict', 'transaction', `${walletText} has another sponsored claim (${claim.current.signature})`);
    if (claim.status === 'failed')
      reject(
        'conflict',
        'transaction',
        `the sponsored claim ${signature} failed on chain (${claim.error}); the sponsor paid its fee and will not sponsor it again`,
      );
    if (claim.status === 'expired') reject('conflict', 'transaction', `the sponsored claim ${signature} expired before it landed: fetch the claim again`);
    return {
      epoch,
      wallet: walletText,
      amount: claim.current.amount,
      signature,
      status: 'confirmed',
      slot: claim.slot ?? '0',
      sponsor: claim.current.sponsor,
      sponsorPaid: {
        feeLamports: claim.feeLamports.toString(),
        rentLamports: claim.rentLamports.toString(),
        totalLamports: (claim.feeLamports + claim.rentLamports).toString(),
      },
    };
  }

  /** What an epoch's claims cost: claims seen, sponsored claims, and the sponsor's lamports (rent and fees). */
  async costs(epoch: number): Promise<{ epoch: number; claims: number; sponsoredClaims: number; sponsorLamports: string }> {
    return epochClaimCosts(this.deps.store, epoch);
  }

  private async sponsoredMinimum(epoch: number): Promise<bigint> {
    const network = await loadLatest(this.deps.store, networkDecider);
    return claimPolicy(policyFor(network.policies, epoch)).sponsoredClaimMinimum;
  }

  private async sponsorTerms(wallet: PublicKey, mint: PublicKey): Promise<SponsorTerms & { rentLamports: bigint }> {
    const { chain } = this.deps;
    const key = await this.deps.sponsorKey();
    const claimStatusRent = await chain.minimumBalanceForRentExemption(CLAIM_STATUS_ACCOUNT_SIZE);
    const tokenAccountRent =
      (await chain.getAccount(associatedTokenAddress(wallet, mint))) === null ? await chain.minimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE) : 0n;
    return { sponsor: key.publicKey, claimStatusRent, rentLamports: claimStatusRent + tokenAccountRent };
  }

  /** The sponsor must hold what this claim costs and stay rent-exempt; the embedded chain tops it up, a cluster's operator must. */
  private async fundSponsor(sponsor: PublicKey, needed: bigint): Promise<void> {
    const { chain } = this.deps;
    const floor = needed + (await chain.minimumBalanceForRentExemption(0));
    const balance = (await chain.getAccount(sponsor))?.lamports ?? 0n;
    if (balance >= floor) return;
    if (chain.kind !== 'embedded')
      throw new ChainError(`the claim sponsor ${sponsor.toBase58()} holds ${balance} lamports, less than the ${floor} a sponsored claim needs`);
    await chain.requestAirdrop(sponsor, SPONSOR_FLOAT);
  }

  private issue(blockhash: string, lastValidBlockHeight: bigint): void {
    if (this.issued.size >= 1_000) this.issued.delete(this.issued.keys().next().value!);
    this.issued.set(blockhash, lastValidBlockHeight);
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** The posted body `{ transaction: base64 }` as wire bytes; 422 naming `transaction` otherwise. */
function parseTransaction(body: unknown): Buffer {
  const text = (body as { transaction?: unknown } | undefined)?.transaction;
  if (typeof text !== 'string' || text.length === 0 || text.length > 2000 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text))
    reject('invalid', 'transaction', 'must be the signed transaction, base64 (as GET answered it, with the wallet’s signature)');
  return Buffer.from(text, 'base64');
}

/** Per-epoch claim costs for cost reporting: {claims, sponsoredClaims, sponsorLamports (rent + fees)}. */
export async function epochClaimCosts(store: EventStore, epoch: number) {
  const { state } = await load(store, epochClaimsDecider, epoch);
  const costs = claimCosts(state as EpochClaimsState);
  return {
    epoch,
    claims: costs.claims,
    sponsoredClaims: costs.sponsoredClaims,
    sponsorLamports: costs.sponsorLamports.toString(),
    claimantLamports: costs.claimantLamports.toString(),
  };
}

/** Claims composed once: for the engine (ClaimsModule) and the command line alike. */
export function createClaims(deps: ClaimsDependencies): { claims: Claims; observer: ClaimObserver } {
  const observer = new ClaimObserver(deps);
  return { claims: new Claims(deps, observer), observer };
}
