import type { Server } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { presentedKey, type AuthenticatedRequest } from '../auth/api-key.guard';
import type { ApiKeyPrincipal } from '../auth/api-keys';
import { CHAIN_RPC_BODY_LIMIT } from '../chain-rpc/chain-rpc.module';
import type { RouteTable } from './routes';

/** What proves a key: src/auth/api-keys.ts `authenticate` over the engine's pool (the guard's own lookup). */
export type KeyLookup = (key: string) => Promise<ApiKeyPrincipal | undefined>;

/**
 * The largest body a caller without a key may send (to a public route): the embedded chain's JSON-RPC takes batches
 * up to this; a sponsored claim is a few KB. With a key the JSON parser's own limit applies (8 MB, src/engine.ts).
 */
export const ANONYMOUS_BODY_LIMIT = CHAIN_RPC_BODY_LIMIT;

/**
 * Express middleware registered before the JSON body parser: a request for a route that needs a key (every route with
 * `@Roles`, and any path no route declares) is answered 401 at once when it presents no valid key, before a byte of
 * its body is read; the connection is then closed rather than drained. A proven key's principal is kept on the
 * request for the guard (which still checks the role). On a public route a valid key is kept too (`/health` then
 * answers in detail); an invalid one is ignored there. A caller without a key may send a body of at most
 * ANONYMOUS_BODY_LIMIT bytes, with its length announced (413 or 411 at once otherwise). A client that waits for
 * `100 Continue` before sending its body (curl does for large ones) is told to go on only once it may.
 */
export function authenticateFirst(routes: RouteTable, lookup: KeyLookup, lookupPublished: KeyLookup = lookup): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const key = presentedKey(request);
    const open = routes.isPublic(request.method, request.path);
    const proceed = () => {
      if (request.header('expect')?.toLowerCase() === '100-continue') response.writeContinue();
      next();
    };
    const proceedAnonymously = () => {
      const length = request.header('content-length');
      if (length === undefined && request.header('transfer-encoding') !== undefined)
        return refuse(request, response, 411, 'Length required', 'body', 'a request without an API key must announce its body length (Content-Length)');
      if (length !== undefined && Number(length) > ANONYMOUS_BODY_LIMIT)
        return refuse(request, response, 413, 'Payload too large', 'body', `a request without an API key may send at most ${ANONYMOUS_BODY_LIMIT} bytes`);
      proceed();
    };
    if (open && !key) return proceedAnonymously();
    // A route of published data may take a key proven from memory (src/auth/proven-keys.ts); all others ask the table.
    const principalOf = key ? (routes.servesPublishedData(request.method, request.path) ? lookupPublished : lookup)(key) : Promise.resolve(undefined);
    principalOf.then(
      (principal) => {
        if (principal) {
          (request as AuthenticatedRequest).principal = principal;
          return proceed();
        }
        if (open) return proceedAnonymously();
        refuse(request, response, 401, 'Unauthorized', 'authorization', 'a valid API key is required (Authorization: Bearer <key>)');
      },
      () => {
        if (open) return proceedAnonymously();
        refuse(
          request,
          response,
          503,
          'Service unavailable',
          'authorization',
          'the API key cannot be checked now (the database does not answer); try again later',
        );
      },
    );
  };
}

/**
 * Node answers `Expect: 100-continue` with `100 Continue` before any middleware runs, unless the server listens for
 * `checkContinue`: then the request goes through the middleware like any other, and authenticateFirst decides.
 */
export function continueOnlyWhenAllowed(server: Server): void {
  server.on('checkContinue', (request, response) => server.emit('request', request, response));
}

function refuse(request: Request, response: Response, status: number, title: string, field: string, detail: string): void {
  // A body still on its way is not read: closing the connection after the answer is cheaper than draining it.
  const length = request.header('content-length');
  if ((length !== undefined && length !== '0') || (length === undefined && request.header('transfer-encoding') !== undefined))
    response.setHeader('Connection', 'close');
  response
    .status(status)
    .type('application/problem+json')
    .json({ type: 'about:blank', title, status, detail, problems: [{ field, reason: detail }] });
}
