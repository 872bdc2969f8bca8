import { chainProofDecider, claimChainProof, refuseAlreadyCredited, type ChainProofClaim, type ChainProofKind } from '../../domain/chain-proofs';
import type { Decider } from '../../domain/decider';
import { CommandRejected } from '../../domain/rejection';
import { load, toEnvelopes, type CommandMetadata, type DomainEvent } from '../commands/streams';
import { EventIdConflictError, WrongExpectedRevisionError } from '../event-store/errors';
import type { EventStore } from '../event-store/event-store';

/**
 * Records a credit proven on chain, once per signature across the whole engine. First the claim: one event on
 * `chainproof-<signature>` at expected revision `no_stream`, naming `stream`; then the credit on `stream` at the revision
 * it was decided on. The two are separate appends, claim first, because `appendMany` is not atomic across streams: in
 * one call a refused claim (someone else credited the signature meanwhile) could still let the credit be written.
 * This way a credit is never written without its claim. Should the engine stop between the two, the claim names
 * `stream`, so submitting the signature for the same account again completes the credit; for any other it is refused.
 * Event ids derive from the signature and `stream`, so the same request twice writes nothing twice.
 */
export async function appendChainProofCredit<S, E extends DomainEvent, C, Id>(
  store: EventStore,
  proof: { signature: string; kind: ChainProofKind },
  decider: Decider<S, E, C, Id>,
  id: Id,
  decide: (state: S, claim: ChainProofClaim | undefined) => E[],
  metadata: CommandMetadata,
): Promise<{ events: E[]; position?: bigint }> {
  const stream = decider.streamOf(id);
  const proofStream = chainProofDecider.streamOf(proof.signature);
  const idempotent: CommandMetadata = { ...metadata, commandId: `${proof.kind}:${proof.signature}:${stream}` };
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { state: claim } = await load(store, chainProofDecider, proof.signature);
    const { state, revision } = await load(store, decider, id);
    const events = decide(state, claim);
    if (events.length === 0) return { events };
    const claims = claimChainProof(claim, { signature: proof.signature, kind: proof.kind, creditedTo: stream });
    try {
      if (claims.length > 0) await store.append(proofStream, toEnvelopes(proofStream, claims, idempotent), { expectedRevision: 'no_stream' });
      const result = await store.append(stream, toEnvelopes(stream, events, idempotent), { expectedRevision: revision });
      // The same credit was written by the same request running at the same time: this one credited nothing.
      if (!result.written) refuseAlreadyCredited();
      return { events, position: result.position };
    } catch (error) {
      // Someone claimed the signature or changed the stream meanwhile: decide again on what is recorded now.
      if (!(error instanceof WrongExpectedRevisionError || error instanceof EventIdConflictError)) throw error;
    }
  }
  throw new CommandRejected('conflict', [{ field: 'stream', reason: `${stream} kept changing while this command was decided; try again` }]);
}
