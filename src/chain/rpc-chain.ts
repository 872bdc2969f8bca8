import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, PublicKey, SYSVAR_CLOCK_PUBKEY, type Commitment } from '@solana/web3.js';
import { base58Decode } from '../../domain/values';
import { ChainError, decodeWire, type ChainAccount, type ChainGateway, type Confirmation, type LandedTransaction, type RecentBlockhash } from './chain-gateway';

export interface RpcChainOptions {
  url: string;
  commitment?: Commitment;
  /** Attempts for a call that hit a rate limit or a timeout, with exponential backoff from `retryDelayMs`. */
  attempts?: number;
  retryDelayMs?: number;
  /** How often confirmation polls the signature's status. */
  pollIntervalMs?: number;
}

/** getMultipleAccounts takes at most this many keys per call. */
const ACCOUNTS_PER_CALL = 100;

/**
 * A Solana cluster over JSON-RPC (`SOLANA_RPC_URL`): a local validator, devnet or mainnet. Rate limits (429) and
 * timeouts are retried with backoff; anything else is reported at once. Transactions are sent with preflight, so one
 * that would fail before executing is refused here rather than landing.
 */
export class RpcChain implements ChainGateway {
  readonly kind = 'rpc';
  private readonly connection: Connection;
  private readonly commitment: Commitment;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly pollIntervalMs: number;

  constructor(options: RpcChainOptions) {
    this.commitment = options.commitment ?? 'confirmed';
    // web3.js retries 429s itself forever by default; this adapter owns the retry policy.
    this.connection = new Connection(options.url, { commitment: this.commitment, disableRetryOnRateLimit: true });
    this.attempts = options.attempts ?? 6;
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.pollIntervalMs = options.pollIntervalMs ?? 400;
  }

  async cluster(): Promise<string> {
    return `solana:${await this.retrying(() => this.connection.getGenesisHash())}`;
  }

  async getAccount(address: PublicKey): Promise<ChainAccount | null> {
    return (await this.getAccounts([address]))[0];
  }

  async getAccounts(addresses: readonly PublicKey[]): Promise<(ChainAccount | null)[]> {
    const found: (ChainAccount | null)[] = [];
    for (let i = 0; i < addresses.length; i += ACCOUNTS_PER_CALL) {
      const chunk = addresses.slice(i, i + ACCOUNTS_PER_CALL);
      const infos = await this.retrying(() => this.connection.getMultipleAccountsInfo(chunk, this.commitment));
      for (const info of infos) {
        found.push(info ? { lamports: BigInt(info.lamports), owner: info.owner, data: Buffer.from(info.data), executable: info.executable } : null);
      }
    }
    return found;
  }

  async latestBlockhash(): Promise<RecentBlockhash> {
    const latest = await this.retrying(() => this.connection.getLatestBlockhash(this.commitment));
    return { blockhash: latest.blockhash, lastValidBlockHeight: BigInt(latest.lastValidBlockHeight) };
  }

  async blockHeight(): Promise<bigint> {
    return BigInt(await this.retrying(() => this.connection.getBlockHeight(this.commitment)));
  }

  async minimumBalanceForRentExemption(dataLength: number): Promise<bigint> {
    return BigInt(await this.retrying(() => this.connection.getMinimumBalanceForRentExemption(dataLength, this.commitment)));
  }

  /** The Clock sysvar's unix_timestamp (after slot, epoch_start_timestamp, epoch and leader_schedule_epoch). */
  async unixTimestamp(): Promise<bigint> {
    const clock = await this.getAccount(SYSVAR_CLOCK_PUBKEY);
    if (!clock || clock.data.length < 40) throw new ChainError('the cluster has no Clock sysvar account');
    return clock.data.readBigInt64LE(32);
  }

  async sendTransaction(wire: Uint8Array): Promise<string> {
    const { signature } = decodeWire(wire);
    try {
      await this.retrying(() => this.connection.sendRawTransaction(wire, { preflightCommitment: this.commitment, maxRetries: 0 }));
    } catch (error) {
      // Sent before (by this process before a crash, or a retry whose answer was lost): it is on the chain already.
      if (/already been processed/i.test(String(error))) return signature;
      throw new ChainError(`transaction ${signature} refused: ${(error as Error).message}`);
    }
    return signature;
  }

  async confirmTransaction(signature: string, lastValidBlockHeight: bigint): Promise<Confirmation> {
    for (;;) {
      const { value } = await this.retrying(() => this.connection.getSignatureStatuses([signature], { searchTransactionHistory: true }));
      const status = value[0];
      if (status && status.confirmationStatus && reached(status.confirmationStatus, this.commitment)) {
        const fee = (await this.getTransaction(signature))?.fee ?? 0n;
        return status.err === null
          ? { status: 'succeeded', slot: BigInt(status.slot), fee }
          : { status: 'failed', slot: BigInt(status.slot), fee, error: JSON.stringify(status.err) };
      }
      if (!status && (await this.blockHeight()) > lastValidBlockHeight) {
        // Asked once more after expiry: a transaction that landed in the last block is not taken for expired.
        const last = await this.retrying(() => this.connection.getSignatureStatuses([signature], { searchTransactionHistory: true }));
        if (!last.value[0]) return { status: 'expired' };
      }
      await sleep(this.pollIntervalMs);
    }
  }

  async getTransaction(signature: string): Promise<LandedTransaction | null> {
    const found = await this.retrying(() =>
      this.connection.getTransaction(signature, { commitment: this.readCommitment(), maxSupportedTransactionVersion: 0 }),
    );
    return found && { ...landed(signature, found), logs: found.meta?.logMessages ?? [] };
  }

  async getTransactions(signatures: readonly string[]): Promise<(Omit<LandedTransaction, 'logs'> | null)[]> {
    const found: (Omit<LandedTransaction, 'logs'> | null)[] = [];
    for (let i = 0; i < signatures.length; i += 100) {
      const chunk = signatures.slice(i, i + 100);
      const answers = await this.retrying(() =>
        this.connection.getTransactions(chunk, { commitment: this.readCommitment(), maxSupportedTransactionVersion: 0 }),
      );
      answers.forEach((answer, j) => found.push(answer && landed(chunk[j], answer)));
    }
    return found;
  }

  async signaturesForAddress(address: PublicKey, options: { after?: string } = {}): Promise<string[]> {
    const newestFirst: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await this.retrying(() =>
        this.connection.getSignaturesForAddress(address, { before, until: options.after, limit: 1000 }, this.readCommitment()),
      );
      newestFirst.push(...page.map((entry) => entry.signature));
      if (page.length < 1000) return newestFirst.reverse();
      before = page[page.length - 1].signature;
    }
  }

  async requestAirdrop(address: PublicKey, lamports: bigint): Promise<void> {
    const signature = await this.retrying(() => this.connection.requestAirdrop(address, Number(lamports)));
    const latest = await this.latestBlockhash();
    const outcome = await this.confirmTransaction(signature, latest.lastValidBlockHeight);
    if (outcome.status !== 'succeeded') throw new ChainError(`airdrop to ${address.toBase58()} did not land (${outcome.status})`);
  }

  async close(): Promise<void> {}

  /** getTransaction(s) and getSignaturesForAddress take confirmed or finalized, not processed. */
  private readCommitment(): 'confirmed' | 'finalized' {
    return this.commitment === 'processed' ? 'confirmed' : (this.commitment as 'confirmed' | 'finalized');
  }

  /** Retries rate limits and timeouts with exponential backoff; other errors go straight to the caller. */
  private async retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt >= this.attempts || !transient(error)) throw error;
        await sleep(this.retryDelayMs * 2 ** (attempt - 1));
      }
    }
  }
}

function transient(error: unknown): boolean {
  const text = String((error as Error)?.message ?? error);
  return /429|Too Many Requests|timed? ?out|ETIMEDOUT|ECONNRESET|ECONNREFUSED|fetch failed|503|502|504/i.test(text);
}

/** A transaction as getTransaction(s) answers it, read like every other: from its wire bytes. */
function landed(
  signature: string,
  found: { slot: number; transaction: { message: { serialize(): Uint8Array }; signatures: string[] }; meta: { err: unknown; fee: number } | null },
): Omit<LandedTransaction, 'logs'> {
  const decoded = decodeWire(serializeLanded(found.transaction));
  return {
    signature,
    slot: BigInt(found.slot),
    error: found.meta?.err ? JSON.stringify(found.meta.err) : null,
    fee: BigInt(found.meta?.fee ?? 0),
    instructions: decoded.instructions,
    signers: decoded.signers,
  };
}

const ORDER: Commitment[] = ['processed', 'confirmed', 'finalized'];
const reached = (status: string, wanted: Commitment) => ORDER.indexOf(status as Commitment) >= ORDER.indexOf(wanted);

/** getTransaction answers with a message object; the gateway reads every transaction the same way, from its bytes. */
function serializeLanded(transaction: { message: { serialize(): Uint8Array }; signatures: string[] }): Uint8Array {
  const message = transaction.message.serialize();
  const signatures = transaction.signatures.map((signature) => base58Decode(signature) ?? new Uint8Array(64));
  const wire = new Uint8Array(1 + signatures.length * 64 + message.length);
  wire[0] = signatures.length; // fewer than 128 signatures: the compact length is one byte
  signatures.forEach((signature, i) => wire.set(signature, 1 + i * 64));
  wire.set(message, 1 + signatures.length * 64);
  return wire;
}
