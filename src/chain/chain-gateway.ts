import { VersionedTransaction, type PublicKey } from '@solana/web3.js';
import { base58Encode } from '../../domain/values';
import { KindedError, type ErrorKind } from '../errors';

/**
 * The one door to Solana. Settlement and verification speak only this interface; two adapters implement it with the
 * same behaviour (`test/chain-gateway.contract.ts`): the embedded chain (litesvm, real SPL programs in-process, its
 * ledger kept in PostgreSQL) and a cluster over RPC (`SOLANA_RPC_URL`).
 */
export interface ChainGateway {
  readonly kind: 'embedded' | 'rpc';
  /** A name for the cluster, recorded with the chain's setup so a log is never verified against another chain. */
  cluster(): Promise<string>;
  getAccount(address: PublicKey): Promise<ChainAccount | null>;
  /** In the order asked; null where there is no account. */
  getAccounts(addresses: readonly PublicKey[]): Promise<(ChainAccount | null)[]>;
  latestBlockhash(): Promise<RecentBlockhash>;
  blockHeight(): Promise<bigint>;
  minimumBalanceForRentExemption(dataLength: number): Promise<bigint>;
  /** The chain clock's unix time (the Clock sysvar that programs read): distributor deadlines are set against it. */
  unixTimestamp(): Promise<bigint>;
  /**
   * Submits a signed transaction and returns its signature (the first one). Submitting one that already landed is not
   * an error and does not execute it again. A transaction whose blockhash has expired never lands.
   */
  sendTransaction(wire: Uint8Array): Promise<string>;
  /** Waits until the transaction has landed (succeeded or failed) or its blockhash has expired without it landing. */
  confirmTransaction(signature: string, lastValidBlockHeight: bigint): Promise<Confirmation>;
  /** A landed transaction, with its message and status; null if the chain does not know it. */
  getTransaction(signature: string): Promise<LandedTransaction | null>;
  /** Many at once, in the order asked, without their logs (verification reads thousands and never the logs). */
  getTransactions(signatures: readonly string[]): Promise<(Omit<LandedTransaction, 'logs'> | null)[]>;
  /**
   * Signatures of every landed transaction that names `address`, oldest first (failed ones included). With `after`,
   * only those that landed after that one (what is new since a verification last looked); all of them when the chain
   * does not know `after` (as a cluster's `until` does).
   */
  signaturesForAddress(address: PublicKey, options?: { after?: string }): Promise<string[]>;
  /** Lamports for fees and rent. The embedded chain mints them; a cluster may refuse (mainnet). */
  requestAirdrop(address: PublicKey, lamports: bigint): Promise<void>;
  close(): Promise<void>;
}

export interface ChainAccount {
  lamports: bigint;
  owner: PublicKey;
  data: Buffer;
  executable: boolean;
}

export interface RecentBlockhash {
  blockhash: string;
  /** A transaction with this blockhash can land up to this block height and never after it. */
  lastValidBlockHeight: bigint;
}

export type Confirmation =
  { status: 'succeeded'; slot: bigint; fee: bigint } | { status: 'failed'; slot: bigint; fee: bigint; error: string } | { status: 'expired' };

export interface LandedTransaction {
  signature: string;
  slot: bigint;
  /** Null when it succeeded. */
  error: string | null;
  fee: bigint;
  /** The top-level instructions, with their accounts resolved. */
  instructions: LandedInstruction[];
  signers: string[];
  logs: string[];
}

export interface LandedInstruction {
  programId: string;
  accounts: string[];
  data: Buffer;
}

/** The first signature of a signed transaction's wire bytes, base58: its id on the chain. */
export function signatureOf(wire: Uint8Array): string {
  // After the signature count, a compact-u16 (one byte below 128 signatures, two above).
  const offset = wire[0] < 0x80 ? 1 : 2;
  return base58Encode(wire.subarray(offset, offset + 64));
}

/** Reads instructions and signers out of a transaction's wire bytes (legacy or v0 without lookup tables). */
export function decodeWire(wire: Uint8Array): {
  signature: string;
  signers: string[];
  instructions: LandedInstruction[];
  blockhash: string;
  version: 'legacy' | number;
} {
  const transaction = VersionedTransaction.deserialize(wire);
  const message = transaction.message;
  const keys = message.staticAccountKeys.map((key) => base58Encode(key.toBytes()));
  const instructions = message.compiledInstructions.map((instruction) => ({
    programId: keys[instruction.programIdIndex],
    accounts: instruction.accountKeyIndexes.map((index) => keys[index]),
    data: Buffer.from(instruction.data),
  }));
  return {
    signature: base58Encode(transaction.signatures[0]),
    signers: keys.slice(0, message.header.numRequiredSignatures),
    instructions,
    blockhash: message.recentBlockhash,
    version: transaction.version,
  };
}

/** The chain answered with something this engine cannot work with (not a rate limit or a timeout: those are retried). */
export class ChainError extends KindedError {
  override name = 'ChainError';

  get kind(): ErrorKind {
    return 'unavailable';
  }

  get field(): string {
    return 'chain';
  }
}
