/**
 * `@solana/spl-token` declares its types for ES modules only, while this project compiles to CommonJS: the types come
 * through an ESM type import and the code through its CommonJS build. Everything else imports the library from here.
 */
import type * as SplToken from '@solana/spl-token' with { 'resolution-mode': 'import' };

export const spl: typeof SplToken = quietly(() => require('@solana/spl-token')); // eslint-disable-line @typescript-eslint/no-require-imports

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
