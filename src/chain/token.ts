import { Keypair, PublicKey, SystemProgram, TransactionInstruction, TransactionMessage } from '@solana/web3.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { signEd25519Bytes } from '../commands/ed25519';
import { ChainError, type ChainAccount, type ChainGateway, type Confirmation } from './chain-gateway';
import { spl } from './spl-token';

/** The $SYNQ token and the programs settlement uses, and how their accounts and instructions are read and built. */

export const SYNQ_DECIMALS = 6;
export const MEMO_PROGRAM_ID = new PublicKey('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr');
export const TOKEN_PROGRAM_ID: PublicKey = spl.TOKEN_PROGRAM_ID;
export const ASSOCIATED_TOKEN_PROGRAM_ID: PublicKey = spl.ASSOCIATED_TOKEN_PROGRAM_ID;
/** A transaction's wire size limit (the IPv6 minimum MTU less headers). */
export const PACKET_DATA_SIZE = 1232;
/** Size of an SPL token account, whose rent a payout pays when it creates the recipient's account. */
export const TOKEN_ACCOUNT_SIZE: number = spl.ACCOUNT_SIZE;

export interface TokenAccount {
  address: PublicKey;
  mint: PublicKey;
  owner: PublicKey;
  amount: bigint;
}

/**
 * A wallet's associated $SYNQ account. Deriving it costs about 0.2 ms (a curve check per bump tried), and settlement
 * and verification derive the same 100,000 addresses several times: each is kept once derived (an address never changes).
 */
export function associatedTokenAddress(owner: PublicKey | string, mint: PublicKey): PublicKey {
  const key = `${typeof owner === 'string' ? owner : owner.toBase58()}:${mint.toBase58()}`;
  let address = derivedAccounts.get(key);
  if (!address) {
    if (derivedAccounts.size >= MAX_DERIVED_ACCOUNTS) derivedAccounts.clear();
    address = spl.getAssociatedTokenAddressSync(mint, typeof owner === 'string' ? new PublicKey(owner) : owner, true);
    derivedAccounts.set(key, address);
  }
  return address;
}
const MAX_DERIVED_ACCOUNTS = 2_000_000;
const derivedAccounts = new Map<string, PublicKey>();

/** Below this many addresses to derive, threads cost more than they save. */
const PARALLEL_FROM = 2_000;

// Each worker derives its share with web3.js (the same code as associatedTokenAddress), 32 bytes in and out per owner.
const DERIVE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { PublicKey } = require(${JSON.stringify(require.resolve('@solana/web3.js'))});
const { owners, mint, tokenProgram, ataProgram } = workerData;
const out = new Uint8Array(owners.length);
for (let i = 0; i < owners.length; i += 32) {
  const [address] = PublicKey.findProgramAddressSync([owners.subarray(i, i + 32), tokenProgram, mint], new PublicKey(ataProgram));
  out.set(address.toBytes(), i);
}
parentPort.postMessage(out, [out.buffer]);`;

/**
 * Many wallets' associated accounts at once (a settlement's 100,000 recipients): those not derived before are spread
 * over one worker thread per core, then kept as associatedTokenAddress keeps them.
 */
export async function associatedTokenAddresses(owners: readonly string[], mint: PublicKey): Promise<PublicKey[]> {
  const mintText = mint.toBase58();
  const missing = [...new Set(owners.filter((owner) => !derivedAccounts.has(`${owner}:${mintText}`)))];
  if (missing.length >= PARALLEL_FROM) {
    const threads = Math.max(1, Math.min(availableParallelism(), 8));
    const share = Math.ceil(missing.length / threads);
    const parts = await Promise.all(
      Array.from({ length: threads }, (_, t) => {
        const slice = missing.slice(t * share, (t + 1) * share);
        const bytes = new Uint8Array(32 * slice.length);
        slice.forEach((owner, i) => bytes.set(new PublicKey(owner).toBytes(), 32 * i));
        return new Promise<Uint8Array>((resolve, reject) => {
          const worker = new Worker(DERIVE_WORKER, {
            eval: true,
            workerData: { owners: bytes, mint: mint.toBytes(), tokenProgram: TOKEN_PROGRAM_ID.toBytes(), ataProgram: ASSOCIATED_TOKEN_PROGRAM_ID.toBytes() },
          });
          worker.once('message', (out: Uint8Array) => {
            resolve(out);
            void worker.terminate();
          });
          worker.once('error', reject);
        });
      }),
    );
    if (derivedAccounts.size + missing.length >= MAX_DERIVED_ACCOUNTS) derivedAccounts.clear();
    parts.forEach((out, t) => {
      for (let i = 0; i * 32 < out.length; i++) derivedAccounts.set(`${missing[t * share + i]}:${mintText}`, new PublicKey(out.subarray(32 * i, 32 * i + 32)));
    });
  }
  return owners.map((owner) => associatedTokenAddress(owner, mint));
}

/** Null when there is no account or it is not an SPL token account. */
export function readTokenAccount(address: PublicKey, account: ChainAccount | null): TokenAccount | null {
  if (!account || !account.owner.equals(TOKEN_PROGRAM_ID) || account.data.length !== spl.ACCOUNT_SIZE) return null;
  const decoded = spl.unpackAccount(address, { ...account, lamports: Number(account.lamports) });
  return { address, mint: decoded.mint, owner: decoded.owner, amount: decoded.amount };
}

export function readMint(address: PublicKey, account: ChainAccount | null): { supply: bigint; decimals: number; mintAuthority: PublicKey | null } | null {
  if (!account || !account.owner.equals(TOKEN_PROGRAM_ID) || account.data.length !== spl.MINT_SIZE) return null;
  const mint = spl.unpackMint(address, { ...account, lamports: Number(account.lamports) });
  return { supply: mint.supply, decimals: mint.decimals, mintAuthority: mint.mintAuthority };
}

export const memoInstruction = (text: string, signer: PublicKey): TransactionInstruction =>
  new TransactionInstruction({ programId: MEMO_PROGRAM_ID, keys: [{ pubkey: signer, isSigner: true, isWritable: false }], data: Buffer.from(text, 'utf8') });

export const transferChecked = (source: PublicKey, mint: PublicKey, destination: PublicKey, authority: PublicKey, amount: bigint): TransactionInstruction =>
  spl.createTransferCheckedInstruction(source, mint, destination, authority, amount, SYNQ_DECIMALS);

export const createAssociatedAccountIdempotent = (payer: PublicKey, owner: PublicKey, mint: PublicKey): TransactionInstruction =>
  spl.createAssociatedTokenAccountIdempotentInstruction(payer, associatedTokenAddress(owner, mint), owner, mint);

export const mintToChecked = (mint: PublicKey, destination: PublicKey, authority: PublicKey, amount: bigint): TransactionInstruction =>
  spl.createMintToCheckedInstruction(mint, destination, authority, amount, SYNQ_DECIMALS);

export const burnChecked = (account: PublicKey, mint: PublicKey, owner: PublicKey, amount: bigint): TransactionInstruction =>
  spl.createBurnCheckedInstruction(account, mint, owner, amount, SYNQ_DECIMALS);

/** Instructions creating a mint at `mint`'s address with `authority` as mint authority and no freeze authority. */
export async function createMintInstructions(
  gateway: ChainGateway,
  payer: PublicKey,
  mint: PublicKey,
  authority: PublicKey,
): Promise<TransactionInstruction[]> {
  const lamports = await gateway.minimumBalanceForRentExemption(spl.MINT_SIZE);
  return [
    SystemProgram.createAccount({ fromPubkey: payer, newAccountPubkey: mint, lamports: Number(lamports), space: spl.MINT_SIZE, programId: TOKEN_PROGRAM_ID }),
    spl.createInitializeMint2Instruction(mint, SYNQ_DECIMALS, authority, null),
  ];
}

/** Instructions creating a token account of `mint` at `account`'s own address (not an associated one), owned by `owner`. */
export async function createTokenAccountInstructions(
  gateway: ChainGateway,
  payer: PublicKey,
  account: PublicKey,
  mint: PublicKey,
  owner: PublicKey,
): Promise<TransactionInstruction[]> {
  const lamports = await gateway.minimumBalanceForRentExemption(spl.ACCOUNT_SIZE);
  return [
    SystemProgram.createAccount({
      fromPubkey: payer,
      newAccountPubkey: account,
      lamports: Number(lamports),
      space: spl.ACCOUNT_SIZE,
      programId: TOKEN_PROGRAM_ID,
    }),
    spl.createInitializeAccount3Instruction(account, mint, owner),
  ];
}

/** A v0 transaction's signed wire bytes. The first signer pays the fee. Signed with node:crypto (OpenSSL). */
export function signTransaction(instructions: TransactionInstruction[], signers: Keypair[], blockhash: string): Uint8Array {
  const message = new TransactionMessage({ payerKey: signers[0].publicKey, recentBlockhash: blockhash, instructions }).compileToV0Message();
  const bytes = message.serialize();
  const required = message.staticAccountKeys.slice(0, message.header.numRequiredSignatures);
  if (required.length >= 0x80) throw new ChainError('too many signers for one transaction');
  const wire = new Uint8Array(1 + 64 * required.length + bytes.length);
  wire[0] = required.length;
  required.forEach((key, i) => {
    const signer = signers.find((candidate) => candidate.publicKey.equals(key));
    if (!signer) throw new ChainError(`transaction needs a signature of ${key.toBase58()}, which is not among its signers`);
    wire.set(signEd25519Bytes(bytes, signer.secretKey), 1 + 64 * i);
  });
  wire.set(bytes, 1 + 64 * required.length);
  if (wire.length > PACKET_DATA_SIZE) throw new ChainError(`transaction of ${wire.length} bytes exceeds the ${PACKET_DATA_SIZE}-byte limit`);
  return wire;
}

/**
 * Sends and confirms one transaction, for setup and for tests. Not for payouts: those are recorded before they are
 * sent (src/settlement), so that a crash can never pay twice.
 */
export async function sendAndConfirm(
  gateway: ChainGateway,
  instructions: TransactionInstruction[],
  signers: Keypair[],
): Promise<{ signature: string; confirmation: Confirmation }> {
  const { blockhash, lastValidBlockHeight } = await gateway.latestBlockhash();
  const signature = await gateway.sendTransaction(signTransaction(instructions, signers, blockhash));
  const confirmation = await gateway.confirmTransaction(signature, lastValidBlockHeight);
  return { signature, confirmation };
}

/** As sendAndConfirm, and an error unless the transaction succeeded. */
export async function execute(gateway: ChainGateway, instructions: TransactionInstruction[], signers: Keypair[], what: string): Promise<string> {
  const { signature, confirmation } = await sendAndConfirm(gateway, instructions, signers);
  if (confirmation.status !== 'succeeded') {
    throw new ChainError(
      `${what}: transaction ${signature} ${confirmation.status === 'failed' ? `failed: ${confirmation.error}` : 'expired before it landed'}`,
    );
  }
  return signature;
}
