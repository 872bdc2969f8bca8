import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { AuthenticatedRequest } from '../auth/api-key.guard';
import type { CommandMetadata } from '../commands/streams';

const CORRELATION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * The request's correlation id: its `X-Correlation-Id` header when well formed, else a new one; decided once per
 * request (the request log, the response header and every event the request records carry the same).
 */
export function correlationIdOf(request: Request & { correlationId?: string }): string {
  if (request.correlationId === undefined) {
    const header = request.header('x-correlation-id');
    request.correlationId = header && CORRELATION_ID.test(header) ? header : randomUUID();
  }
  return request.correlationId;
}

/** Actor from the API key, correlation from `X-Correlation-Id` (or new), causation from the command's own id. */
export function commandMetadata(request: AuthenticatedRequest, commandId: string): CommandMetadata {
  return { actor: `api-key:${request.principal.keyId}`, correlationId: correlationIdOf(request), commandId };
}
