import * as path from 'node:path';
import { Keypair } from '@solana/web3.js';
import type { AppConfig } from '../config/config';
import { loadKeypairFile, loadOrCreateKeypairFile, treasuryKeypairPath } from '../chain/treasury-key';

/**
 * The sponsor's keypair: it pays the fee and rent of claims by wallets that hold no SOL. It is not the treasury
 * authority and must never be: it co-signs transactions whose message a stranger proposed (checked byte for byte, but
 * a key that can move $SYNQ must not take that risk), so it holds only SOL. Chosen like the treasury key:
 * SYNQ_SPONSOR_KEYPAIR, else `sponsor-keypair.json` beside the treasury keypair. On the embedded chain it is created
 * (mode 0600) when missing; on a cluster it must exist and be funded by the operator. Never logged, served or recorded
 * (only its public key is, in each sponsored attempt).
 */
export const sponsorKeypairPath = (config: AppConfig): string =>
  config.sponsorKeypairPath ?? path.join(path.dirname(treasuryKeypairPath(config)), 'sponsor-keypair.json');

/** The sponsor key, read (or, on the embedded chain, created) when first asked for and kept; a failed read is tried again next time. */
export function sponsorKeyLoader(config: AppConfig): () => Promise<Keypair> {
  let key: Promise<Keypair> | undefined;
  return () => {
    const file = sponsorKeypairPath(config);
    key ??= (config.solanaRpcUrl ? loadKeypairFile(file, 'sponsor keypair') : loadOrCreateKeypairFile(file, 'sponsor keypair')).catch((error: unknown) => {
      key = undefined;
      throw error;
    });
    return key;
  };
}
