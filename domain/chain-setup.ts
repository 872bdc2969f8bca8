import type { Decider } from './decider';
import { reject } from './rejection';

/**
 * The $SYNQ accounts on chain, as `chain init` found or created them. Stream `chain-setup`, one event. Everything that
 * moves tokens or proves a movement (payouts, burns, stake deposits, verification) takes its addresses from here, so
 * the engine never pays from, or credits from, an account the books do not name.
 */

export interface ChainSetup {
  /** The gateway's cluster name: `embedded:<genesis>` or `solana:<genesis hash>`. */
  cluster: string;
  mint: string;
  decimals: number;
  /** Signs payouts and pays their fees and rent; owns the treasury and the stake vault. The key stays in SYNQ_DATA_DIR. */
  treasuryAuthority: string;
  /** The authority's associated $SYNQ account: payouts and purchase deliveries leave from here. */
  treasuryAccount: string;
  /** A $SYNQ account of its own address, owned by the treasury authority: stake deposits arrive here. */
  stakeVault: string;
  /** Balances when the engine took the accounts over; verification counts every movement from these. */
  treasuryOpeningBalance: string;
  stakeVaultOpeningBalance: string;
  mintSupplyAtSetup: string;
  /** Signatures of the setup transactions (empty when the accounts existed already). */
  signatures: string[];
}

export type ChainSetupEvent = { type: 'ChainInitialized'; data: ChainSetup };

export const CHAIN_SETUP_STREAM = 'chain-setup';

export const evolveChainSetup = (_state: ChainSetup | undefined, event: ChainSetupEvent): ChainSetup | undefined => event.data;

/** Recorded once. Running init again on the same accounts is a no-op; on other accounts it is refused. */
export function initializeChain(state: ChainSetup | undefined, setup: ChainSetup): ChainSetupEvent[] {
  if (state) {
    if (
      state.cluster === setup.cluster &&
      state.mint === setup.mint &&
      state.treasuryAuthority === setup.treasuryAuthority &&
      state.stakeVault === setup.stakeVault
    )
      return [];
    reject('conflict', 'mint', `the chain is already set up (cluster ${state.cluster}, mint ${state.mint}); the books cannot move to other accounts`);
  }
  return [{ type: 'ChainInitialized', data: setup }];
}

export function requireChain(state: ChainSetup | undefined): ChainSetup {
  if (!state) reject('conflict', 'chain', 'the chain is not set up: run `npm run chain -- init` first');
  return state;
}

export type ChainSetupCommand = { type: 'InitializeChain'; data: ChainSetup };

/** The $SYNQ accounts on chain, one stream for the whole network. */
export const chainSetupDecider: Decider<ChainSetup | undefined, ChainSetupEvent, ChainSetupCommand> = {
  streamOf: () => CHAIN_SETUP_STREAM,
  initial: () => undefined,
  evolve: evolveChainSetup,
  decide: (command, state) => initializeChain(state, command.data),
};
