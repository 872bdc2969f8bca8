import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { smallOrderOrNonCanonical } from '../../domain/ed25519-points';
import { base58Decode, base58Encode } from '../../domain/values';

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 100_000;

/** The group order of ed25519, little-endian: a canonical S is below it. */
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/**
 * The strict checks node:crypto (OpenSSL) does not make, on the bytes alone (RFC 8032 verification with canonical
 * encodings, as @noble/curves' `verify(..., { zip215: false })`): S below the group order, R and the key neither
 * small-order points nor non-canonical encodings. OpenSSL then checks [S]B = R + [k]A and compares R byte for byte.
 */
export function strictSignature(signature: Uint8Array): boolean {
  return signature.length === 64 && canonicalScalar(signature.subarray(32)) && !smallOrderOrNonCanonical(signature.subarray(0, 32));
}

/** The key's half of the strict checks (registration refuses such keys already; a key recorded before that is refused here). */
export function strictKey(publicKey: Uint8Array): boolean {
  return publicKey.length === 32 && !smallOrderOrNonCanonical(publicKey);
}

/** S < L, compared from the most significant byte (little-endian). */
function canonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i] !== L[i]) return s[i] < L[i];
  }
  return false;
}

/** Verifies a base58 ed25519 signature by a base58 public key, strictly; imported keys are cached (importing costs as much as verifying). */
export function verifyEd25519(message: Uint8Array, signature: string, publicKey: string): boolean {
  const signatureBytes = base58Decode(signature);
  if (!signatureBytes || !strictSignature(signatureBytes)) return false;
  let key = keys.get(publicKey);
  if (!key) {
    const raw = base58Decode(publicKey);
    if (!raw || !strictKey(raw)) return false;
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    keys.set(publicKey, key);
  }
  return verify(null, message, key, signatureBytes);
}

// DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A reporting keypair as Solana tools write it: 64 bytes, the seed then the public key. */
export function generateReportingKeypair(): Uint8Array {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  return Uint8Array.from([...seed, ...raw]);
}

export const publicKeyOf = (keypair: Uint8Array): string => base58Encode(keypair.subarray(32, 64));

/** base58 ed25519 signature of `message` by the keypair's seed. */
export function signEd25519(message: Uint8Array, keypair: Uint8Array): string {
  return base58Encode(signEd25519Bytes(message, keypair));
}

/** The 64 signature bytes: OpenSSL signs in about 50 µs where a JavaScript ed25519 takes close to 1 ms. */
export function signEd25519Bytes(message: Uint8Array, keypair: Uint8Array): Buffer {
  const seed = Buffer.from(keypair.subarray(0, 32));
  const cacheKey = seed.toString('hex');
  let key = signingKeys.get(cacheKey);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    if (signingKeys.size >= 1_000) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return sign(null, message, key);
}

const signingKeys = new Map<string, KeyObject>();
