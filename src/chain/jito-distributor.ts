import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PublicKey, SystemProgram, TransactionInstruction } from '@solana/web3.js';
import { clawbackData, newClaimData, newDistributorData, type NewDistributorArgs } from '../../domain/jito-distributor';
import { projectRoot } from '../project-root';
import { u64 } from './spl-token';
import { ASSOCIATED_TOKEN_PROGRAM_ID, associatedTokenAddress, TOKEN_PROGRAM_ID } from './token';

/**
 * Jito's merkle distributor (jito-foundation/distributor, GPL-3.0, used unmodified as a separate program: see
 * src/chain/programs/jito-distributor/LICENSE-NOTICE.md): the program's bytes for the embedded chain, checked by sha256,
 * and its addresses and instructions. The byte layouts are in domain/jito-distributor.ts.
 */
export const JITO_DISTRIBUTOR_PROGRAM_ID = new PublicKey('mERKcfxMC5SqJn4Ld4BUris3WKZZ1ojjWJ3A3J5CKxv');

/** Read relative to the project root, so the built engine (dist/src/chain) finds the same files as the sources. */
export const JITO_DISTRIBUTOR_DIR = path.join(projectRoot(), 'src', 'chain', 'programs', 'jito-distributor');
export const JITO_DISTRIBUTOR_GZ = 'merkle_distributor.so.gz';
/** sha256 of the gunzipped program (623,056 bytes) and of the .gz as vendored (90,144 bytes), from its README. */
export const JITO_DISTRIBUTOR_SO_SHA256 = '51043e9794e69f0b071d741abd29fc274694ab60e412a1ed6d0dd38e258703ac';
export const JITO_DISTRIBUTOR_GZ_SHA256 = 'e39c85cb1630eaf56e00fe226852fc707bbde3f5a95f7532fff2e21e99445a69';

/** The vendored program's bytes do not match their recorded sha256: it is not loaded. */
export class ProgramIntegrityError extends Error {
  override name = 'ProgramIntegrityError';
}

const loaded = new Map<string, Buffer>();

/**
 * The program's SBF bytes: `merkle_distributor.so.gz` from `dir`, gunzipped, both the .gz and the .so checked against
 * their sha256. A mismatch (or a file that does not gunzip) throws a ProgramIntegrityError naming the file and both
 * hashes. Kept once checked, per folder.
 */
export function loadJitoDistributorProgram(dir: string = JITO_DISTRIBUTOR_DIR): Buffer {
  const known = loaded.get(dir);
  if (known) return known;
  const file = path.join(dir, JITO_DISTRIBUTOR_GZ);
  const gz = readFileSync(file);
  const gzHash = sha256Hex(gz);
  if (gzHash !== JITO_DISTRIBUTOR_GZ_SHA256) {
    throw new ProgramIntegrityError(
      `${file}: sha256 ${gzHash}, expected ${JITO_DISTRIBUTOR_GZ_SHA256}: the Jito merkle distributor is not the vendored, unmodified program; refusing to load it`,
    );
  }
  let so: Buffer;
  try {
    so = gunzipSync(gz);
  } catch (error) {
    throw new ProgramIntegrityError(`${file} does not gunzip (${(error as Error).message}); refusing to load it`);
  }
  const soHash = sha256Hex(so);
  if (soHash !== JITO_DISTRIBUTOR_SO_SHA256) {
    throw new ProgramIntegrityError(`${file}: the gunzipped program's sha256 is ${soHash}, expected ${JITO_DISTRIBUTOR_SO_SHA256}; refusing to load it`);
  }
  loaded.set(dir, so);
  return so;
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const versionSeed = (version: bigint): Buffer => {
  const seed = Buffer.alloc(8);
  seed.writeBigUInt64LE(u64(version, 'distributor version'));
  return seed;
};

/** ["MerkleDistributor", mint, version u64 LE]. */
export function distributorAddress(mint: PublicKey, version: bigint): PublicKey {
  return PublicKey.findProgramAddressSync([Buffer.from('MerkleDistributor'), mint.toBuffer(), versionSeed(version)], JITO_DISTRIBUTOR_PROGRAM_ID)[0];
}

/** ["ClaimStatus", claimant, distributor]: exists once the claimant has claimed from that distributor. */
export function claimStatusAddress(claimant: PublicKey, distributor: PublicKey): PublicKey {
  return PublicKey.findProgramAddressSync([Buffer.from('ClaimStatus'), claimant.toBuffer(), distributor.toBuffer()], JITO_DISTRIBUTOR_PROGRAM_ID)[0];
}

/** The distributor's associated token account of the mint, which `new_distributor` creates and claims are paid from. */
export function distributorVault(distributor: PublicKey, mint: PublicKey): PublicKey {
  return associatedTokenAddress(distributor, mint);
}

export interface NewDistributorAccounts {
  mint: PublicKey;
  /** Signs and pays the distributor's and the vault's rent; may later change the clawback receiver and itself. */
  admin: PublicKey;
  /** A token account of the mint that `clawback` pays what is left to. */
  clawbackReceiver: PublicKey;
}

export function newDistributorInstruction(accounts: NewDistributorAccounts, args: NewDistributorArgs): TransactionInstruction {
  const distributor = distributorAddress(accounts.mint, args.version);
  return new TransactionInstruction({
    programId: JITO_DISTRIBUTOR_PROGRAM_ID,
    keys: [
      { pubkey: distributor, isSigner: false, isWritable: true },
      { pubkey: accounts.clawbackReceiver, isSigner: false, isWritable: true },
      { pubkey: accounts.mint, isSigner: false, isWritable: false },
      { pubkey: distributorVault(distributor, accounts.mint), isSigner: false, isWritable: true },
      { pubkey: accounts.admin, isSigner: true, isWritable: true },
      { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
      { pubkey: ASSOCIATED_TOKEN_PROGRAM_ID, isSigner: false, isWritable: false },
      { pubkey: TOKEN_PROGRAM_ID, isSigner: false, isWritable: false },
    ],
    data: newDistributorData(args),
  });
}

export interface NewClaimAccounts {
  distributor: PublicKey;
  mint: PublicKey;
  /** Signs, and pays the fee and the ClaimStatus rent. */
  claimant: PublicKey;
  /** A token account of the mint owned by the claimant (its associated account when left out). */
  to?: PublicKey;
}

/** Claims `amountUnlocked` (a leaf's amount; `amountLocked` is 0 for rewards) with the leaf's proof, bottom up. */
export function newClaimInstruction(
  accounts: NewClaimAccounts,
  amountUnlocked: bigint,
  amountLocked: bigint,
  proof: readonly Uint8Array[],
): TransactionInstruction {
  return new TransactionInstruction({
    programId: JITO_DISTRIBUTOR_PROGRAM_ID,
    keys: [
      { pubkey: accounts.distributor, isSigner: false, isWritable: true },
      { pubkey: claimStatusAddress(accounts.claimant, accounts.distributor), isSigner: false, isWritable: true },
      { pubkey: distributorVault(accounts.distributor, accounts.mint), isSigner: false, isWritable: true },
      { pubkey: accounts.to ?? associatedTokenAddress(accounts.claimant, accounts.mint), isSigner: false, isWritable: true },
      { pubkey: accounts.claimant, isSigner: true, isWritable: true },
      { pubkey: TOKEN_PROGRAM_ID, isSigner: false, isWritable: false },
      { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
    ],
    data: newClaimData(u64(amountUnlocked, 'amount_unlocked'), u64(amountLocked, 'amount_locked'), proof),
  });
}

export interface ClawbackAccounts {
  distributor: PublicKey;
  mint: PublicKey;
  /** The distributor's clawback receiver (the program checks it). */
  clawbackReceiver: PublicKey;
  /** Anyone: signs and pays the fee. */
  signer: PublicKey;
}

/** After clawback_start_ts: moves what is left in the vault to the clawback receiver. */
export function clawbackInstruction(accounts: ClawbackAccounts): TransactionInstruction {
  return new TransactionInstruction({
    programId: JITO_DISTRIBUTOR_PROGRAM_ID,
    keys: [
      { pubkey: accounts.distributor, isSigner: false, isWritable: true },
      { pubkey: distributorVault(accounts.distributor, accounts.mint), isSigner: false, isWritable: true },
      { pubkey: accounts.clawbackReceiver, isSigner: false, isWritable: true },
      { pubkey: accounts.signer, isSigner: true, isWritable: false },
      { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
      { pubkey: TOKEN_PROGRAM_ID, isSigner: false, isWritable: false },
    ],
    data: clawbackData(),
  });
}
