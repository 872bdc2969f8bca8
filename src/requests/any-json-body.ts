import { SetMetadata } from '@nestjs/common';

/** Metadata key of `AnyJsonBody`, read by the JSON body check (src/http/json-body.ts). */
export const ANY_JSON_BODY = 'synq:any-json-body';

/**
 * A route that answers for its body itself, whatever it is: the JSON object body check skips it (Solana's JSON-RPC:
 * batches are arrays, and its errors are JSON-RPC's).
 */
export const AnyJsonBody = () => SetMetadata(ANY_JSON_BODY, true);
