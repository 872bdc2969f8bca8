import { createHash } from 'node:crypto';
import { base58Decode } from '../../domain/values';

const sha256 = (...parts: Uint8Array[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const u64 = (value: bigint) => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return bytes;
};

/**
 * jito-foundation/distributor's claim check, written out plainly and independently of domain/merkle-distribution.ts:
 * the leaf from (wallet, amount unlocked, 0 locked) as `new_claim` hashes it, then `verify` over the proof.
 */
export function jitoVerify(wallet: string, amount: bigint, proofHex: string[], rootHex: string): boolean {
  let computed = sha256(Buffer.from([0]), sha256(base58Decode(wallet)!, u64(amount), u64(0n)));
  for (const element of proofHex.map((hex) => Buffer.from(hex, 'hex'))) {
    computed = Buffer.compare(computed, element) <= 0 ? sha256(Buffer.from([1]), computed, element) : sha256(Buffer.from([1]), element, computed);
  }
  return computed.toString('hex') === rootHex;
}
