import { Keypair, PublicKey, SystemProgram, TransactionInstruction, TransactionMessage, VersionedTransaction } from '@solana/web3.js';
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

export const associatedTokenAddress = (owner: PublicKey, mint: PublicKey): PublicKey => spl.getAssociatedTokenAddressSync(mint, owner, true);

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
export async function createMintInstructions(gateway: ChainGateway, payer: PublicKey, mint: PublicKey, authority: PublicKey): Promise<TransactionInstruction[]> {
  const lamports = await gateway.minimumBalanceForRentExemption(spl.MINT_SIZE);
  return [
    SystemProgram.createAccount({ fromPubkey: payer, newAccountPubkey: mint, lamports: Number(lamports), space: spl.MINT_SIZE, programId: TOKEN_PROGRAM_ID }),
    spl.createInitializeMint2Instruction(mint, SYNQ_DECIMALS, authority, null),
  ];
}

/** Instructions creating a token account of `mint` at `account`'s own address (not an associated one), owned by `owner`. */
export async function createTokenAccountInstructions(gateway: ChainGateway, payer: PublicKey, account: PublicKey, mint: PublicKey, owner: PublicKey): Promise<TransactionInstruction[]> {
  const lamports = await gateway.minimumBalanceForRentExemption(spl.ACCOUNT_SIZE);
  return [
    SystemProgram.createAccount({ fromPubkey: payer, newAccountPubkey: account, lamports: Number(lamports), space: spl.ACCOUNT_SIZE, programId: TOKEN_PROGRAM_ID }),
    spl.createInitializeAccount3Instruction(account, mint, owner),
  ];
}

/** A v0 transaction's signed wire bytes. The first signer pays the fee. */
export function signTransaction(instructions: TransactionInstruction[], signers: Keypair[], blockhash: string): Uint8Array {
  const message = new TransactionMessage({ payerKey: signers[0].publicKey, recentBlockhash: blockhash, instructions }).compileToV0Message();
  const transaction = new VersionedTransaction(message);
  transaction.sign(signers);
  return transaction.serialize();
}

/**
 * Sends and confirms one transaction, for setup and for tests. Not for payouts: those are recorded before they are
 * sent (src/settlement), so that a crash can never pay twice.
 */
export async function sendAndConfirm(gateway: ChainGateway, instructions: TransactionInstruction[], signers: Keypair[]): Promise<{ signature: string; confirmation: Confirmation }> {
  const { blockhash, lastValidBlockHeight } = await gateway.latestBlockhash();
  const signature = await gateway.sendTransaction(signTransaction(instructions, signers, blockhash));
  const confirmation = await gateway.confirmTransaction(signature, lastValidBlockHeight);
  return { signature, confirmation };
}

/** As sendAndConfirm, and an error unless the transaction succeeded. */
export async function execute(gateway: ChainGateway, instructions: TransactionInstruction[], signers: Keypair[], what: string): Promise<string> {
  const { signature, confirmation } = await sendAndConfirm(gateway, instructions, signers);
  if (confirmation.status !== 'succeeded') {
    throw new ChainError(`${what}: transaction ${signature} ${confirmation.status === 'failed' ? `failed: ${confirmation.error}` : 'expired before it landed'}`);
  }
  return signature;
}
