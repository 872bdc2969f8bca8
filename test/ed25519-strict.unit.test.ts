import { ed25519 } from '@noble/curves/ed25519';
import { randomBytes } from 'node:crypto';
import { ed25519KeyProblem, smallOrderOrNonCanonical } from '../domain/ed25519-points';
import { register } from '../domain/synqer';
import { CommandRejected } from '../domain/rejection';
import { base58Decode, base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519, signEd25519Bytes, verifyEd25519 } from '../src/commands/ed25519';
import { SignatureVerifier } from '../src/commands/signature-verifier';

/**
 * Strict ed25519 (issue 16): keys that are small-order, non-canonical or the identity are refused where a reporting key
 * enters the books, and signatures are verified strictly (canonical S, no small-order or non-canonical R or A), by
 * node:crypto after cheap byte checks. @noble/curves (strict mode) is the reference the checks are compared with.
 */

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (bytes: Uint8Array) => bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);
const toLe = (value: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));

const IDENTITY = hex('01'.padEnd(64, '0'));
const ALL_ZERO = new Uint8Array(32);
const ALL_FF = new Uint8Array(32).fill(0xff);
/** A point of order 8. */
const ORDER_8 = hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');

/** The eight points of the torsion subgroup, as noble encodes them. */
function torsionPoints(): Uint8Array[] {
  const generator = ed25519.Point.fromHex(ORDER_8);
  const points: Uint8Array[] = [];
  let point = ed25519.Point.ZERO;
  for (let i = 0; i < 8; i++, point = point.add(generator)) points.push(point.toBytes());
  return points;
}

/** noble's strict judgement of a key: decodes canonically (zip215 false) and is not small-order. */
function nobleAccepts(bytes: Uint8Array): boolean {
  try {
    return !ed25519.Point.fromHex(bytes, false).isSmallOrder();
  } catch {
    return false;
  }
}

describe('ed25519 key checks (domain/ed25519-points.ts)', () => {
  it('refuses the identity, all zero, all 0xff and every torsion point', () => {
    expect(ed25519KeyProblem(IDENTITY)).toMatch(/small-order/);
    expect(ed25519KeyProblem(ALL_ZERO)).toMatch(/small-order|not a point/);
    expect(ed25519KeyProblem(ALL_FF)).toMatch(/non-canonical|not a canonical/);
    const torsion = torsionPoints();
    expect(new Set(torsion.map((point) => Buffer.from(point).toString('hex'))).size).toBe(8);
    for (const point of torsion) {
      expect(ed25519KeyProblem(point)).toBeDefined();
      expect(smallOrderOrNonCanonical(point)).toBe(true);
    }
  });

  it('refuses non-canonical encodings of y (y + p) and of x = 0 with the sign bit', () => {
    // y = p encodes 0, y = p + 1 encodes the identity: non-canonical.
    const p = 2n ** 255n - 19n;
    expect(ed25519KeyProblem(toLe(p))).toMatch(/canonical/);
    expect(ed25519KeyProblem(toLe(p + 1n))).toMatch(/canonical/);
    expect(smallOrderOrNonCanonical(toLe(p + 1n))).toBe(true);
    const negativeZeroIdentity = IDENTITY.slice();
    negativeZeroIdentity[31] |= 0x80;
    expect(ed25519KeyProblem(negativeZeroIdentity)).toBeDefined();
  });

  it('agrees with @noble/curves strict decoding on real keys and random bytes', () => {
    for (let i = 0; i < 50; i++) {
      const key = generateReportingKeypair().subarray(32);
      expect(ed25519KeyProblem(key)).toBeUndefined();
      expect(smallOrderOrNonCanonical(key)).toBe(false);
    }
    for (let i = 0; i < 2_000; i++) {
      const bytes = Uint8Array.from(randomBytes(32));
      expect(ed25519KeyProblem(bytes) === undefined).toBe(nobleAccepts(bytes));
    }
    for (const point of [...torsionPoints(), IDENTITY, ALL_ZERO, ALL_FF]) expect(nobleAccepts(point)).toBe(false);
  });
});

describe('registering a reporting key', () => {
  for (const [name, key] of [
    ['all zero', ALL_ZERO],
    ['the identity', IDENTITY],
    ['all 0xff (non-canonical)', ALL_FF],
    ['a point of order 8', ORDER_8],
  ] as const) {
    it(`refuses ${name}, naming reportingKey`, () => {
      const payoutWallet = publicKeyOf(generateReportingKeypair());
      let caught: unknown;
      try {
        register(undefined, { synqerId: 's1', payoutWallet, reportingKey: base58Encode(key), region: 'eu' });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CommandRejected);
      expect((caught as CommandRejected).problems).toEqual([{ field: 'reportingKey', reason: expect.stringMatching(/ed25519/) }]);
    });
  }
});

describe('strict signature verification', () => {
  const message = new TextEncoder().encode('synq-metric-report/v1\nreportId:r1');
  const keypair = generateReportingKeypair();
  const publicKey = publicKeyOf(keypair);
  const valid = signEd25519Bytes(message, keypair);
  /** R = identity, S = 0: verifies for the identity key under a lax verifier. */
  const trivial = base58Encode(Uint8Array.from([...IDENTITY, ...new Uint8Array(32)]));
  const withS = (s: bigint) => base58Encode(Uint8Array.from([...valid.subarray(0, 32), ...toLe(s)]));
  const withR = (r: Uint8Array) => base58Encode(Uint8Array.from([...r, ...valid.subarray(32)]));
  const verifier = new SignatureVerifier();
  // The same answers whatever the pool (SYNQ_VERIFY_WORKERS): on the event loop, one worker, three.
  const pools = [0, 1, 3].map((verifyWorkers) => new SignatureVerifier({ verifyWorkers }));
  afterAll(() => Promise.all([verifier, ...pools].map((v) => v.onModuleDestroy())));

  it('accepts a good signature, inline and on the workers', async () => {
    expect(verifyEd25519(message, signEd25519(message, keypair), publicKey)).toBe(true);
    expect(await verifier.verifyMany([{ message, signature: base58Encode(valid), publicKey }])).toEqual([true]);
  });

  it('refuses the trivial signature for the identity key and for all-zero keys, inline and on the workers', async () => {
    for (const key of [IDENTITY, ALL_ZERO, ALL_FF, ORDER_8]) {
      expect(verifyEd25519(message, trivial, base58Encode(key))).toBe(false);
      expect(await verifier.verifyMany([{ message, signature: trivial, publicKey: base58Encode(key) }])).toEqual([false]);
    }
    expect(ed25519.verify(base58Decode(trivial)!, message, IDENTITY, { zip215: false })).toBe(false);
  });

  it('refuses S + L (non-canonical S) and small-order R', async () => {
    const s = le(valid.subarray(32));
    const checks = [withS(s + L), withR(IDENTITY), withR(ORDER_8), withR(ALL_FF)];
    for (const signature of checks) expect(verifyEd25519(message, signature, publicKey)).toBe(false);
    for (const pool of [verifier, ...pools]) {
      expect(await pool.verifyMany(checks.map((signature) => ({ message, signature, publicKey })))).toEqual(checks.map(() => false));
    }
  });

  it('answers a batch of many messages in order, the same on the event loop and on any number of workers', async () => {
    const other = generateReportingKeypair();
    const s = le(valid.subarray(32));
    // 450 checks (three messages' worth on a worker): good ones, another key's, a changed message, and the strict refusals.
    const checks = Array.from({ length: 450 }, (_, i) => {
      const text = new TextEncoder().encode(`synq-metric-report/v1\nreportId:r${i}`);
      const good = signEd25519(text, keypair);
      switch (i % 6) {
        case 0:
          return { message: text, signature: good, publicKey, valid: true };
        case 1:
          return { message: text, signature: good, publicKey: publicKeyOf(other), valid: false };
        case 2:
          return { message: message, signature: good, publicKey, valid: false };
        case 3:
          return { message, signature: withS(s + L), publicKey, valid: false };
        case 4:
          return { message, signature: i % 12 === 4 ? withR(IDENTITY) : 'not-base58-0OIl', publicKey, valid: false };
        default:
          return { message: text, signature: signEd25519(text, other), publicKey: publicKeyOf(other), valid: true };
      }
    });
    expect(verifier.workers).toBeGreaterThan(0);
    expect(pools.map((pool) => pool.workers)).toEqual([0, 1, 3]);
    for (const pool of [verifier, ...pools]) {
      expect(await pool.verifyMany(checks)).toEqual(checks.map((check) => check.valid));
    }
    // Two batches at once share the pool and each gets its own answers.
    const [a, b] = await Promise.all([pools[2].verifyMany(checks), pools[2].verifyMany([...checks].reverse())]);
    expect(a).toEqual(checks.map((check) => check.valid));
    expect(b).toEqual([...checks].reverse().map((check) => check.valid));
  });

  it('costs a few tens of microseconds per signature (the byte checks add next to nothing)', () => {
    const signature = base58Encode(valid);
    const runs = 2_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) verifyEd25519(message, signature, publicKey);
    const perSignature = Number(process.hrtime.bigint() - started) / runs / 1000;
    const checkStarted = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) smallOrderOrNonCanonical(valid.subarray(0, 32));
    const perCheck = Number(process.hrtime.bigint() - checkStarted) / runs / 1000;
    const nobleStarted = process.hrtime.bigint();
    const publicBytes = keypair.subarray(32);
    for (let i = 0; i < 100; i++) ed25519.verify(valid, message, publicBytes, { zip215: false });
    const perNoble = Number(process.hrtime.bigint() - nobleStarted) / 100 / 1000;
    process.stdout.write(
      `ed25519 verify: node:crypto with strict checks ${perSignature.toFixed(1)} µs, R/A byte check ${perCheck.toFixed(2)} µs, noble strict ${perNoble.toFixed(0)} µs\n`,
    );
    expect(perCheck).toBeLessThan(perSignature / 10);
  });
});
