import { randomUUID } from 'node:crypto';
import type { AuthenticatedRequest } from '../auth/api-key.guard';
import type { CommandMetadata } from '../commands/decide-and-append';

/** Actor from the API key, correlation from `X-Correlation-Id` (or new), causation from the command's own id. */
export function commandMetadata(request: AuthenticatedRequest, commandId: string): CommandMetadata {
  const header = request.header('x-correlation-id');
  const correlationId = header && /^[A-Za-z0-9_.:-]{1,128}$/.test(header) ? header : randomUUID();
  return { actor: `api-key:${request.principal.keyId}`, correlationId, commandId };
}
