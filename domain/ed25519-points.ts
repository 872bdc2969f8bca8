/**
 * Strict ed25519 encodings (RFC 8032, section 5.1.3), in plain TypeScript so that the domain can judge a reporting key
 * when it is registered or rotated. A key is refused when its encoding is non-canonical (y ≥ p, or x = 0 with the sign
 * bit set), when it is not a point of the curve, or when the point has small order (one of the eight points of the
 * torsion subgroup, the identity among them): for such a key a signature can be forged without any secret (for the
 * identity, R = identity and S = 0 verifies every message).
 *
 * `smallOrderOrNonCanonical` is the cheap byte check applied to every signature's R and key on the hot path: the y of
 * each small-order point is one of five values (1, p − 1, 0 and ±y₈), so the check is a comparison of the 255 low bits.
 */

const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = power(2n, (P - 1n) / 4n);

/** y of the order-8 points (RFC 8032 test vectors of libsodium's blocklist): the little-endian 255 bits. */
const Y8 = littleEndian(hexBytes('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'));
/** Every 255-bit y that encodes a small-order point: canonical (1, p − 1, 0, y₈, p − y₈) and non-canonical (p, p + 1). */
const SMALL_ORDER_Y = [1n, P - 1n, 0n, Y8, P - Y8, P, P + 1n].map(toLittleEndian);

/** Why 32 bytes are not an acceptable ed25519 public key, or undefined when they are. */
export function ed25519KeyProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 32) return 'must be 32 bytes';
  const sign = bytes[31] >> 7;
  const y = littleEndian(bytes) & (2n ** 255n - 1n);
  if (y >= P) return 'is not a canonical ed25519 point encoding (y is not below the field prime)';
  const x = recoverX(y, sign);
  if (x === undefined) return 'is not a point of the ed25519 curve';
  if (x === 0n && sign === 1) return 'is not a canonical ed25519 point encoding (x = 0 with the sign bit set)';
  if (smallOrderY(bytes)) return 'is a small-order ed25519 point (the identity or a torsion point): signatures by it can be forged';
  return undefined;
}

/**
 * True when the 32 bytes encode a small-order point or have y ≥ p: what a strict verifier refuses for a signature's R
 * and for the key. Does not decode the point (no square root): cheap enough for every signature.
 */
export function smallOrderOrNonCanonical(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return true;
  return nonCanonicalY(bytes) || smallOrderY(bytes);
}

/** y ≥ p: bytes ed..ff, then thirty 0xff, then 0x7f (sign bit aside). */
function nonCanonicalY(bytes: Uint8Array): boolean {
  if ((bytes[31] & 0x7f) !== 0x7f || bytes[0] < 0xed) return false;
  for (let i = 1; i < 31; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/** y (sign bit aside) is one of the small-order points' y values; compared byte by byte, the first byte filters. */
function smallOrderY(bytes: Uint8Array): boolean {
  for (const blocked of SMALL_ORDER_Y) {
    if (bytes[0] !== blocked[0]) continue;
    let same = (bytes[31] & 0x7f) === blocked[31];
    for (let i = 1; same && i < 31; i++) same = bytes[i] === blocked[i];
    if (same) return true;
  }
  return false;
}

/** x from y and its sign bit (RFC 8032, 5.1.3 steps 2 to 4), or undefined when no x exists. */
function recoverX(y: bigint, sign: number): bigint | undefined {
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * power(v, 3n) * power(mod(u * power(v, 7n)), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return undefined;
  if (x === 0n) return 0n;
  return Number(x & 1n) === sign ? x : P - x;
}

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return power(a, P - 2n);
}

function littleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

function toLittleEndian(value: bigint): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((pair) => parseInt(pair, 16)));
}
