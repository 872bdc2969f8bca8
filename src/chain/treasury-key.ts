import { chmod, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ensurePrivateDir } from '../config/private-dir';
import { Keypair } from '@solana/web3.js';
import type { AppConfig } from '../config/config';
import { ChainError } from './chain-gateway';

/**
 * The treasury authority's keypair, in solana-keygen's JSON format. It signs payouts; it is never logged, served or
 * recorded (only its public key is). On the embedded chain it is created in SYNQ_DATA_DIR with mode 0600.
 */
export const treasuryKeypairPath = (config: AppConfig): string => config.treasuryKeypairPath ?? path.join(config.dataDir, 'treasury-keypair.json');

export async function loadTreasuryKey(config: AppConfig): Promise<Keypair> {
  return loadKeypairFile(treasuryKeypairPath(config), 'treasury keypair');
}

/** A keypair file in solana-keygen's JSON form (an array of 64 numbers); a ChainError naming `what` and the file otherwise. */
export async function loadKeypairFile(file: string, what: string): Promise<Keypair> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ChainError(`${what} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let bytes: unknown;
  try {
    bytes = JSON.parse(text);
  } catch {
    throw new ChainError(`${what} ${file} is not a solana-keygen JSON array of 64 numbers`);
  }
  if (!Array.isArray(bytes) || bytes.length !== 64 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) {
    throw new ChainError(`${what} ${file} is not a solana-keygen JSON array of 64 numbers`);
  }
  return Keypair.fromSecretKey(Uint8Array.from(bytes as number[]));
}

/** The treasury key, read when first asked for and kept: what settlement and single transfers sign with. */
export function treasuryKeyLoader(config: AppConfig): () => Promise<Keypair> {
  let key: Promise<Keypair> | undefined;
  return () => (key ??= loadTreasuryKey(config));
}

/** Creates the keypair file if there is none (mode 0600), and returns the key either way. */
export function loadOrCreateTreasuryKey(config: AppConfig): Promise<Keypair> {
  return loadOrCreateKeypairFile(treasuryKeypairPath(config), 'treasury keypair');
}

/** Creates a keypair file (mode 0600, in a private folder) unless one exists, and returns its key either way. */
export async function loadOrCreateKeypairFile(file: string, what: string): Promise<Keypair> {
  const keypair = Keypair.generate();
  await ensurePrivateDir(path.dirname(file));
  try {
    await writeFile(file, JSON.stringify([...keypair.secretKey]), { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    return keypair;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return loadKeypairFile(file, what);
  }
}
