import { ed25519KeyProblem } from './ed25519-points';
import { CommandRejected, type Problem } from './rejection';

/** Collects every problem of a command's input before refusing it, so a caller learns all of them at once. */
export class Checks {
  private readonly problems: Problem[] = [];

  add(field: string, reason: string): void {
    this.problems.push({ field, reason });
  }

  /** Throws `CommandRejected('invalid')` if any check failed. */
  done(): void {
    if (this.problems.length > 0) throw new CommandRejected('invalid', this.problems);
  }

  /** An id: 1 to 64 of `A-Za-z0-9_.:-`, starting with a letter or digit (so never a NUL, a control or a surrogate). */
  id(field: string, value: unknown): string {
    if (typeof value !== 'string' || !ID.test(value)) {
      this.add(field, ID_REASON);
      return '';
    }
    return value;
  }

  /**
   * Free text of 1 to `max` UTF-16 code units, not blank. Never a NUL, another C0 or C1 control character or DEL, nor a
   * lone surrogate (half of a UTF-16 pair: not a character, and PostgreSQL refuses it, as it refuses NUL). `multiline`
   * texts (an operator's reasons) may hold newlines and tabs; the others (regions, references, labels) are one line.
   */
  text(field: string, value: unknown, max = 500, { multiline = false } = {}): string {
    if (typeof value !== 'string' || value.trim().length === 0 || value.length > max) {
      this.add(field, `must be a non-empty string of at most ${max} characters`);
      return '';
    }
    const unfit = textProblem(value, multiline);
    if (unfit) {
      this.add(field, unfit);
      return '';
    }
    return value;
  }

  /** A Solana public key: base58 of 32 bytes. */
  publicKey(field: string, value: unknown): string {
    if (typeof value !== 'string' || base58Decode(value)?.length !== 32) {
      this.add(field, 'must be a base58 public key of 32 bytes');
      return '';
    }
    return value;
  }

  /** An ed25519 key that signs (a reporting key): base58 of 32 bytes, a canonical point of the curve, not small-order. */
  signingKey(field: string, value: unknown): string {
    const key = this.publicKey(field, value);
    const problem = key === '' ? undefined : ed25519KeyProblem(base58Decode(key)!);
    if (problem === undefined) return key;
    this.add(field, `${problem}; make a reporting key with synq sign-report --new-key FILE`);
    return '';
  }

  /**
   * A whole number of base units, as a decimal string: money is never a JSON number. At most `U64_MAX`: every amount
   * may reach the chain, a Merkle leaf or a pool, which are u64, and is refused here rather than truncated there.
   */
  amount(field: string, value: unknown, { allowZero = false } = {}): bigint {
    if (typeof value !== 'string' || !/^(0|[1-9]\d{0,37})$/.test(value)) {
      this.add(field, 'must be a whole number of base units written as a decimal string, e.g. "1500000"');
      return 0n;
    }
    const amount = BigInt(value);
    if (!allowZero && amount === 0n) this.add(field, 'must be greater than 0');
    if (amount > U64_MAX) {
      this.add(field, `must be at most ${U64_MAX} (u64, the largest amount the chain and the Merkle leaves hold)`);
      return 0n;
    }
    return amount;
  }

  integer(field: string, value: unknown, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.add(field, `must be a whole number from ${min} to ${max}`);
      return min;
    }
    return value;
  }

  /** One of a fixed list of words. */
  oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.add(field, `must be one of ${allowed.join(', ')}`);
      return allowed[0];
    }
    return value as T;
  }

  /** An ISO-8601 UTC instant with whole seconds ("2026-11-24T10:00:00Z"), as unix seconds. */
  instant(field: string, value: unknown): number {
    const ms = typeof value === 'string' && (parsedInstants.has(value) || INSTANT.test(value)) ? instantMs(value) : Number.NaN;
    if (Number.isNaN(ms)) {
      this.add(field, 'must be a UTC time with whole seconds, e.g. "2026-11-24T10:00:00Z"');
      return 0;
    }
    return ms / 1000;
  }

  labels(field: string, value: unknown): Record<string, string> {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(field, 'must be an object of string values');
      return {};
    }
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > 32 || entries.some(([k, v]) => typeof v !== 'string' || k.length > 64 || v.length > 256)) {
      this.add(field, 'must hold at most 32 labels, keys up to 64 and values up to 256 characters');
      return {};
    }
    for (const [key, text] of entries) {
      const unfit = textProblem(key, false) ?? textProblem(text as string, false);
      if (unfit) {
        this.add(field, `label ${JSON.stringify(key)}: ${unfit}`);
        return {};
      }
    }
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as Record<string, string>;
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const ID_REASON = 'must be 1 to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit';

/** An id as `Checks.id` takes it, or undefined: for the edges that need one before a command exists (path parameters). */
export function idProblem(value: unknown): string | undefined {
  return typeof value === 'string' && ID.test(value) ? undefined : ID_REASON;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** C0 controls (NUL among them), DEL and C1 controls; the multiline set lets tab and newline through. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_BUT_TAB_NEWLINE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

/** Why a text cannot be stored as it is (a NUL, a control character, a lone surrogate), or undefined when it can. */
export function textProblem(value: string, multiline: boolean): string | undefined {
  const control = (multiline ? CONTROL_BUT_TAB_NEWLINE : CONTROL).exec(value);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `must not hold control characters (U+${code} at ${control.index})${multiline ? '; newline and tab are allowed' : ''}`;
  }
  const lone = LONE_SURROGATE.exec(value);
  if (lone) return `must be well-formed UTF-16: a lone surrogate (U+${lone[0].charCodeAt(0).toString(16).toUpperCase()}) at ${lone.index} is not a character`;
  return undefined;
}

/** 2^64 - 1: the largest amount an SPL token instruction, a token account, a Merkle leaf or a pool can hold. */
export const U64_MAX = (1n << 64n) - 1n;

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function toInstant(unixSeconds: number): string {
  let text = formattedInstants.get(unixSeconds);
  if (text === undefined) {
    text = new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
    if (formattedInstants.size >= MEMO_SIZE) formattedInstants.clear();
    formattedInstants.set(unixSeconds, text);
  }
  return text;
}

/**
 * `Date.parse` of an instant's text, remembered: every report of one minute carries the same two instants, and each
 * is parsed several times on its way (checked, decided, folded). Both memos are pure and bounded.
 */
export function instantMs(text: string): number {
  let ms = parsedInstants.get(text);
  if (ms === undefined) {
    ms = Date.parse(text);
    if (parsedInstants.size >= MEMO_SIZE) parsedInstants.clear();
    parsedInstants.set(text, ms);
  }
  return ms;
}

const MEMO_SIZE = 10_000;
const parsedInstants = new Map<string, number>();
const formattedInstants = new Map<number, string>();

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE58_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE58.length; i++) BASE58_DIGIT[BASE58.charCodeAt(i)] = i;

/**
 * Bitcoin-alphabet base58, as Solana writes public keys and signatures; undefined when the text is not base58.
 * Every report's signature passes through here: four digits at a time (58^4 < 2^24) are multiplied into 24-bit limbs,
 * so each step stays an exact integer below 2^53 and a 64-byte signature takes a few hundred steps.
 */
export function base58Decode(text: string): Uint8Array | undefined {
  const length = text.length;
  if (length === 0 || length > 128) return undefined;
  let zeros = 0;
  while (zeros < length && text.charCodeAt(zeros) === 49 /* '1' */) zeros++;
  let used = 0;
  for (let at = zeros; at < length;) {
    let group = 0;
    let factor = 1;
    for (const end = Math.min(at + 4, length); at < end; at++) {
      const code = text.charCodeAt(at);
      const digit = code < 128 ? BASE58_DIGIT[code] : -1;
      if (digit < 0) return undefined;
      group = group * 58 + digit;
      factor *= 58;
    }
    let carry = group;
    for (let j = 0; j < used; j++) {
      const x = limbs[j] * factor + carry;
      carry = Math.floor(x / LIMB);
      limbs[j] = x - carry * LIMB;
    }
    while (carry > 0) {
      const next = Math.floor(carry / LIMB);
      limbs[used++] = carry - next * LIMB;
      carry = next;
    }
  }
  // The value's bytes, most significant first, without its leading zero bytes; then one zero byte per leading '1'.
  let significant = used * 3;
  if (used > 0) significant -= limbs[used - 1] < 256 ? 2 : limbs[used - 1] < 65_536 ? 1 : 0;
  const out = new Uint8Array(zeros + significant);
  for (let j = 0, at = out.length - 1; j < used; j++) {
    const limb = limbs[j];
    for (let k = 0; k < 3 && at >= zeros; k++, at--) out[at] = (limb >>> (8 * k)) & 0xff;
  }
  return out;
}
const LIMB = 16_777_216; // 2^24
// Scratch for base58Decode: 128 digits are at most 94 bytes, 32 limbs.
const limbs = new Float64Array(32);

export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  // log(256) / log(58) < 1.366: enough digits for any input of this length.
  const digits = new Uint8Array(Math.ceil(bytes.length * 1.366) + 1);
  let length = 0;
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i];
    for (let j = 0; j < length; j++) {
      carry += digits[j] << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits[length++] = carry % 58;
      carry = (carry / 58) | 0;
    }
  }
  let text = '1'.repeat(zeros);
  for (let j = length - 1; j >= 0; j--) text += BASE58[digits[j]];
  return text;
}
