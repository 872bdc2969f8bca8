/**
 * `@solana/spl-token` declares its types for ES modules only, while this project compiles to CommonJS: the types come
 * through an ESM type import and the code through its CommonJS build. Everything else imports the library from here.
 */
import type * as SplToken from '@solana/spl-token' with { 'resolution-mode': 'import' };
import { U64_MAX } from '../../domain/values';

const loaded: typeof SplToken = quietly(() => require('@solana/spl-token')); // eslint-disable-line @typescript-eslint/no-require-imports

/**
 * The library with its amount-carrying instruction builders checked: spl-token's pure JavaScript u64 encoder keeps the
 * low bits of an amount above 2^64 - 1 (2^64 + 1 would be sent as 1), so such an amount throws here instead.
 */
export const spl: typeof SplToken = {
  ...loaded,
  createTransferInstruction: (source, destination, owner, amount, ...rest) =>
    loaded.createTransferInstruction(source, destination, owner, u64(amount, 'transfer'), ...rest),
  createTransferCheckedInstruction: (source, mint, destination, owner, amount, ...rest) =>
    loaded.createTransferCheckedInstruction(source, mint, destination, owner, u64(amount, 'transfer'), ...rest),
  createMintToInstruction: (mint, destination, authority, amount, ...rest) =>
    loaded.createMintToInstruction(mint, destination, authority, u64(amount, 'mint'), ...rest),
  createMintToCheckedInstruction: (mint, destination, authority, amount, ...rest) =>
    loaded.createMintToCheckedInstruction(mint, destination, authority, u64(amount, 'mint'), ...rest),
  createBurnInstruction: (account, mint, owner, amount, ...rest) => loaded.createBurnInstruction(account, mint, owner, u64(amount, 'burn'), ...rest),
  createBurnCheckedInstruction: (account, mint, owner, amount, ...rest) =>
    loaded.createBurnCheckedInstruction(account, mint, owner, u64(amount, 'burn'), ...rest),
  createApproveInstruction: (account, delegate, owner, amount, ...rest) =>
    loaded.createApproveInstruction(account, delegate, owner, u64(amount, 'approve'), ...rest),
  createApproveCheckedInstruction: (account, mint, delegate, owner, amount, ...rest) =>
    loaded.createApproveCheckedInstruction(account, mint, delegate, owner, u64(amount, 'approve'), ...rest),
};

/** An instruction's amount as the u64 it is encoded as; a RangeError when it is not one (negative, fractional, too large). */
export function u64(amount: number | bigint, what: string): bigint {
  const value = typeof amount === 'bigint' ? amount : Number.isSafeInteger(amount) ? BigInt(amount) : -1n;
  if (value < 0n || value > U64_MAX) throw new RangeError(`${what} amount ${String(amount)} is not a u64 (0 to ${U64_MAX}): refused rather than truncated`);
  return value;
}

/**
 * spl-token loads bigint-buffer, whose native build needs an install script this project does not run; its pure
 * JavaScript fallback is what we use, and its warning about that would otherwise be the first line of every command.
 */
function quietly<T>(load: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith('bigint: Failed to load bindings')) warn(...args);
  };
  try {
    return load();
  } finally {
    console.warn = warn;
  }
}
