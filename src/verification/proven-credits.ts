import type { ProvenCredit } from '../../domain/chain-verification';
import type { EventStore } from '../event-store/event-store';

/**
 * Burns and stake deposits the books credited from the chain (domain/chain-proofs.ts): `OnChainBurnCredited` on a
 * developer's stream, and `StakeDeposited` carrying the `sourceAccount` it came from. Each must still be found there.
 */
export async function loadProvenCredits(store: EventStore, upTo: bigint, stakeVault: string): Promise<ProvenCredit[]> {
  const credits: ProvenCredit[] = [];
  for await (const event of store.readAll({ category: 'developer' })) {
    if (event.position > upTo) break;
    if (event.type !== 'OnChainBurnCredited') continue;
    const data = event.data as { signature: string; amount: string; tokenAccount: string };
    credits.push({ kind: 'burn', signature: data.signature, account: data.tokenAccount, amount: BigInt(data.amount), who: event.stream });
  }
  for await (const event of store.readAll({ category: 'stake' })) {
    if (event.position > upTo) break;
    const data = event.data as { depositId: string; amount: string; sourceAccount?: string };
    if (event.type !== 'StakeDeposited' || data.sourceAccount === undefined) continue;
    credits.push({ kind: 'stake_deposit', signature: data.depositId, account: stakeVault, amount: BigInt(data.amount), who: event.stream });
  }
  return credits;
}
