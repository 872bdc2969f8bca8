/**
 * The bytes of Jito's merkle-distributor program (jito-foundation/distributor, program id
 * mERKcfxMC5SqJn4Ld4BUris3WKZZ1ojjWJ3A3J5CKxv), as its Anchor IDL (src/chain/programs/jito-distributor) lays them out:
 * - an instruction's data is its discriminator, the first 8 bytes of sha256("global:<snake_case name>"), then its
 *   arguments in Borsh (u64 and i64 little-endian, [u8; 32] as the 32 bytes, Vec<[u8; 32]> as a u32 LE count and the
 *   elements);
 * - an account's data starts with its discriminator, the first 8 bytes of sha256("account:<Name>"), then its fields in
 *   Borsh, in the order the IDL declares them.
 * Amounts above 2^64 - 1 (or below 0) and timestamps outside i64 throw a RangeError: nothing is truncated.
 *
 * Pure: no I/O, no clock; sha256 from node:crypto. The addresses (PDAs) and the instructions with their accounts are
 * built in src/chain/jito-distributor.ts.
 */
import { createHash } from 'node:crypto';
import { base58Encode, U64_MAX } from './values';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const discriminator = (preimage: string): Buffer => createHash('sha256').update(preimage).digest().subarray(0, 8);

export const NEW_DISTRIBUTOR_DISCRIMINATOR = discriminator('global:new_distributor');
export const NEW_CLAIM_DISCRIMINATOR = discriminator('global:new_claim');
export const CLAWBACK_DISCRIMINATOR = discriminator('global:clawback');
export const MERKLE_DISTRIBUTOR_ACCOUNT_DISCRIMINATOR = discriminator('account:MerkleDistributor');
export const CLAIM_STATUS_ACCOUNT_DISCRIMINATOR = discriminator('account:ClaimStatus');

/** 8 (discriminator) + 1 + 8 + 32 * 3 + 8 * 4 + 8 * 3 + 32 * 2 + 1: the fields of `MerkleDistributor`. */
export const MERKLE_DISTRIBUTOR_ACCOUNT_MIN_SIZE = 202;
/** 8 (discriminator) + 32 + 8 * 3. */
export const CLAIM_STATUS_ACCOUNT_SIZE = 64;

/** A u64 argument, or a RangeError (refused, never truncated). */
export function checkU64(value: bigint, what: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
    throw new RangeError(`${what} ${String(value)} is not a u64 (0 to ${U64_MAX}): refused rather than truncated`);
  }
  return value;
}

function checkI64(value: bigint, what: string): bigint {
  if (typeof value !== 'bigint' || value < I64_MIN || value > I64_MAX) throw new RangeError(`${what} ${String(value)} is not an i64`);
  return value;
}

function check32(bytes: Uint8Array, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${bytes?.length}`);
  return bytes;
}

const u64le = (value: bigint, what: string): Buffer => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(checkU64(value, what));
  return out;
};
const i64le = (value: bigint, what: string): Buffer => {
  const out = Buffer.alloc(8);
  out.writeBigInt64LE(checkI64(value, what));
  return out;
};

export interface NewDistributorArgs {
  /** Names the distributor among those of one mint (a PDA seed): the epoch number. */
  version: bigint;
  root: Uint8Array;
  maxTotalClaim: bigint;
  maxNumNodes: bigint;
  /** Unix seconds; all three strictly after the chain's clock, start < end, clawbackStart >= end + 86,400. */
  startVestingTs: bigint;
  endVestingTs: bigint;
  clawbackStartTs: bigint;
}

export function newDistributorData(args: NewDistributorArgs): Buffer {
  return Buffer.concat([
    NEW_DISTRIBUTOR_DISCRIMINATOR,
    u64le(args.version, 'version'),
    check32(args.root, 'root'),
    u64le(args.maxTotalClaim, 'max_total_claim'),
    u64le(args.maxNumNodes, 'max_num_nodes'),
    i64le(args.startVestingTs, 'start_vesting_ts'),
    i64le(args.endVestingTs, 'end_vesting_ts'),
    i64le(args.clawbackStartTs, 'clawback_start_ts'),
  ]);
}

export function newClaimData(amountUnlocked: bigint, amountLocked: bigint, proof: readonly Uint8Array[]): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32LE(proof.length);
  return Buffer.concat([
    NEW_CLAIM_DISCRIMINATOR,
    u64le(amountUnlocked, 'amount_unlocked'),
    u64le(amountLocked, 'amount_locked'),
    count,
    ...proof.map((node, i) => check32(node, `proof element ${i}`)),
  ]);
}

export function clawbackData(): Buffer {
  return Buffer.from(CLAWBACK_DISCRIMINATOR);
}

/** The `MerkleDistributor` account; public keys in base58. */
export interface MerkleDistributorAccount {
  bump: number;
  version: bigint;
  root: Buffer;
  mint: string;
  tokenVault: string;
  maxTotalClaim: bigint;
  maxNumNodes: bigint;
  totalAmountClaimed: bigint;
  numNodesClaimed: bigint;
  startTs: bigint;
  endTs: bigint;
  clawbackStartTs: bigint;
  clawbackReceiver: string;
  admin: string;
  clawedBack: boolean;
}

/** Null when the data is not a `MerkleDistributor` (another discriminator, too short). */
export function decodeMerkleDistributor(data: Uint8Array): MerkleDistributorAccount | null {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < MERKLE_DISTRIBUTOR_ACCOUNT_MIN_SIZE || !buf.subarray(0, 8).equals(MERKLE_DISTRIBUTOR_ACCOUNT_DISCRIMINATOR)) return null;
  let at = 8;
  const take = (n: number): Buffer => buf.subarray(at, (at += n));
  const key = (): string => base58Encode(take(32));
  const u64 = (): bigint => take(8).readBigUInt64LE();
  const i64 = (): bigint => take(8).readBigInt64LE();
  return {
    bump: take(1)[0],
    version: u64(),
    root: Buffer.from(take(32)),
    mint: key(),
    tokenVault: key(),
    maxTotalClaim: u64(),
    maxNumNodes: u64(),
    totalAmountClaimed: u64(),
    numNodesClaimed: u64(),
    startTs: i64(),
    endTs: i64(),
    clawbackStartTs: i64(),
    clawbackReceiver: key(),
    admin: key(),
    clawedBack: take(1)[0] !== 0,
  };
}

/** The `ClaimStatus` account: a wallet has claimed from a distributor once it exists. */
export interface ClaimStatusAccount {
  claimant: string;
  lockedAmount: bigint;
  lockedAmountWithdrawn: bigint;
  unlockedAmount: bigint;
}

export function decodeClaimStatus(data: Uint8Array): ClaimStatusAccount | null {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < CLAIM_STATUS_ACCOUNT_SIZE || !buf.subarray(0, 8).equals(CLAIM_STATUS_ACCOUNT_DISCRIMINATOR)) return null;
  return {
    claimant: base58Encode(buf.subarray(8, 40)),
    lockedAmount: buf.readBigUInt64LE(40),
    lockedAmountWithdrawn: buf.readBigUInt64LE(48),
    unlockedAmount: buf.readBigUInt64LE(56),
  };
}
