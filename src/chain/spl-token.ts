/**
 * `@solana/spl-token` declares its types for ES modules only, while this project compiles to CommonJS: the types come
 * through an ESM type import and the code through its CommonJS build. Everything else imports the library from here.
 */
import type * as SplToken from '@solana/spl-token' with { 'resolution-mode': 'import' };

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const spl: typeof SplToken = require('@solana/spl-token');
