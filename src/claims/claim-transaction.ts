import { Message, PublicKey, SystemProgram, Transaction, type TransactionInstruction } from '@solana/web3.js';
import { reject } from '../../domain/rejection';
import { newClaimInstruction } from '../chain/jito-distributor';
import { createAssociatedAccountIdempotent } from '../chain/token';

/**
 * The transactions a wallet claims its leaf with: legacy transactions (every wallet signs them), built the same way
 * for the answer to GET and for the check of a sponsored claim posted back, so that a posted transaction is accepted
 * only when its message is byte for byte the one the engine would build.
 */

export interface ClaimTerms {
  distributor: PublicKey;
  mint: PublicKey;
  claimant: PublicKey;
  amount: bigint;
  proof: readonly Uint8Array[];
}

export interface SponsorTerms {
  sponsor: PublicKey;
  /** Moved from the sponsor to the claimant first: what the ClaimStatus account's rent costs the claimant. */
  claimStatusRent: bigint;
}

/** The instructions: [rent to the claimant (sponsored)], create the claimant's token account idempotently, new_claim. */
export function claimInstructions(terms: ClaimTerms, sponsor?: SponsorTerms): TransactionInstruction[] {
  const payer = sponsor?.sponsor ?? terms.claimant;
  return [
    ...(sponsor ? [SystemProgram.transfer({ fromPubkey: sponsor.sponsor, toPubkey: terms.claimant, lamports: sponsor.claimStatusRent })] : []),
    createAssociatedAccountIdempotent(payer, terms.claimant, terms.mint),
    newClaimInstruction({ distributor: terms.distributor, mint: terms.mint, claimant: terms.claimant }, terms.amount, 0n, terms.proof),
  ];
}

/** The message's bytes (what every signer signs) for this blockhash. */
export function claimMessage(terms: ClaimTerms, blockhash: string, sponsor?: SponsorTerms): Buffer {
  const transaction = new Transaction({ feePayer: sponsor?.sponsor ?? terms.claimant, recentBlockhash: blockhash });
  transaction.add(...claimInstructions(terms, sponsor));
  return transaction.serializeMessage();
}

/** The unsigned transaction's wire bytes: a zero signature for every signer, then the message. */
export function unsignedWire(message: Buffer): Buffer {
  const signers = Message.from(message).header.numRequiredSignatures;
  return Buffer.concat([compactU16(signers), Buffer.alloc(64 * signers), message]);
}

function compactU16(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    if (rest === 0) {
      bytes.push(byte);
      return Buffer.from(bytes);
    }
    bytes.push(byte | 0x80);
  }
}

/** A transaction's wire bytes taken apart: its signatures and its message; 422 naming `transaction` when they are not one. */
export function splitWire(wire: Buffer): { signatures: Buffer[]; message: Buffer; signers: PublicKey[]; blockhash: string } {
  if (wire.length < 1 + 64 || wire.length > 1232)
    reject('invalid', 'transaction', `must be a serialized transaction of at most 1232 bytes, got ${wire.length}`);
  const count = wire[0];
  if (count === 0 || count >= 0x80) reject('invalid', 'transaction', 'must carry one to 127 signatures');
  const signatures = Array.from({ length: count }, (_, i) => wire.subarray(1 + 64 * i, 1 + 64 * (i + 1)));
  const message = wire.subarray(1 + 64 * count);
  if (message.length === 0 || (message[0] & 0x80) !== 0) reject('invalid', 'transaction', 'must be a legacy transaction (as GET answered it)');
  let parsed: Message;
  try {
    parsed = Message.from(message);
  } catch {
    reject('invalid', 'transaction', 'its message cannot be read');
  }
  if (parsed.header.numRequiredSignatures !== count)
    reject('invalid', 'transaction', `carries ${count} signatures for ${parsed.header.numRequiredSignatures} signers`);
  return { signatures, message, signers: parsed.accountKeys.slice(0, count), blockhash: parsed.recentBlockhash };
}

/**
 * Why a posted message is not the one the engine builds (null: it is, byte for byte): the first difference named, so
 * that the refusal says what was changed.
 */
export function messageDifference(posted: Buffer, expected: Buffer): string | null {
  if (posted.equals(expected)) return null;
  const a = Message.from(posted);
  const b = Message.from(expected);
  if (!a.accountKeys[0]?.equals(b.accountKeys[0])) return `its fee payer is ${a.accountKeys[0]?.toBase58()}, not ${b.accountKeys[0].toBase58()}`;
  if (a.instructions.length !== b.instructions.length) return `it has ${a.instructions.length} instructions where the claim has ${b.instructions.length}`;
  const keys = (message: Message) => message.accountKeys.map((key) => key.toBase58()).join(',');
  if (keys(a) !== keys(b)) return 'its accounts are not the claim’s';
  for (let i = 0; i < a.instructions.length; i++) {
    const x = a.instructions[i];
    const y = b.instructions[i];
    if (x.programIdIndex !== y.programIdIndex || x.accounts.join(',') !== y.accounts.join(',')) return `instruction ${i} is not the claim’s`;
    if (x.data !== y.data) return i === a.instructions.length - 1 ? 'its new_claim amount or proof was changed' : `instruction ${i}'s data was changed`;
  }
  return 'its message is not the one the engine builds for this claim';
}

export const isBase58Key = (text: string): boolean => {
  try {
    return new PublicKey(text).toBase58() === text;
  } catch {
    return false;
  }
};
