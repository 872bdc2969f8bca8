import type { ProvenCredit } from '../../domain/chain-verification';
import type { EventStore } from '../event-store/event-store';

/** Burns and stake deposits the books credited from the chain: each must still be found there. */
export async function loadProvenCredits(_store: EventStore, _upTo: bigint): Promise<ProvenCredit[]> {
  return [];
}
