import { PublicKey } from '@solana/web3.js';
import type { AppConfig } from '../config/config';
import type { Database } from '../database/database';
import { ChainError, type ChainGateway } from './chain-gateway';
import { ChainBusyError, EmbeddedChain } from './embedded-chain';
import { RpcChain } from './rpc-chain';

export const CHAIN_GATEWAY = Symbol('ChainGateway');

/**
 * The chain named by SOLANA_RPC_URL, or the embedded one, whose ledger lives in the engine's database. Only one
 * process can hold the embedded ledger: a second engine on the same database serves everything but the chain, and
 * says why when asked for it.
 */
export async function openChainGateway(config: AppConfig, database: Database): Promise<ChainGateway> {
  if (config.solanaRpcUrl) return new RpcChain({ url: config.solanaRpcUrl, commitment: config.solanaCommitment });
  try {
    return await EmbeddedChain.open(database.pool, database.connection);
  } catch (error) {
    if (error instanceof ChainBusyError) return unavailableChain(error.message);
    throw error;
  }
}

function unavailableChain(reason: string): ChainGateway {
  const refuse = (): Promise<never> => Promise.reject(new ChainError(reason));
  return {
    kind: 'embedded',
    cluster: refuse,
    getAccount: (_address: PublicKey) => refuse(),
    getAccounts: refuse,
    latestBlockhash: refuse,
    blockHeight: refuse,
    minimumBalanceForRentExemption: refuse,
    unixTimestamp: refuse,
    sendTransaction: refuse,
    confirmTransaction: refuse,
    getTransaction: refuse,
    getTransactions: refuse,
    signaturesForAddress: refuse,
    requestAirdrop: refuse,
    close: async () => undefined,
  };
}
