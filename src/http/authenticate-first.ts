import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { presentedKey, type AuthenticatedRequest } from '../auth/api-key.guard';
import type { ApiKeyPrincipal } from '../auth/api-keys';
import type { RouteTable } from './routes';

/** What proves a key: src/auth/api-keys.ts `authenticate` over the engine's pool (the guard's own lookup). */
export type KeyLookup = (key: string) => Promise<ApiKeyPrincipal | undefined>;

/**
 * Express middleware registered before the JSON body parser: a request for a route that needs a key (every route with
 * `@Roles`, and any path no route declares) is answered 401 at once when it presents no valid key, before a byte of
 * its body is read; the connection is then closed rather than drained. A proven key's principal is kept on the
 * request for the guard (which still checks the role). On a public route a valid key is kept too (`/health` then
 * answers in detail); an invalid one is ignored there.
 */
export function authenticateFirst(routes: RouteTable, lookup: KeyLookup): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const key = presentedKey(request);
    const open = routes.isPublic(request.method, request.path);
    if (open && !key) return next();
    const principalOf = key ? lookup(key) : Promise.resolve(undefined);
    principalOf.then(
      (principal) => {
        if (principal) (request as AuthenticatedRequest).principal = principal;
        if (open || principal) return next();
        refuse(request, response, 401, 'Unauthorized', 'a valid API key is required (Authorization: Bearer <key>)');
      },
      () => {
        if (open) return next();
        refuse(request, response, 503, 'Service unavailable', 'the API key cannot be checked now (the database does not answer); try again later');
      },
    );
  };
}

function refuse(request: Request, response: Response, status: number, title: string, detail: string): void {
  // A body still on its way is not read: closing the connection after the answer is cheaper than draining it.
  const bodyPending =
    request.header('content-length') !== undefined ? request.header('content-length') !== '0' : request.header('transfer-encoding') !== undefined;
  if (bodyPending) response.setHeader('Connection', 'close');
  response
    .status(status)
    .type('application/problem+json')
    .json({ type: 'about:blank', title, status, detail, problems: [{ field: 'authorization', reason: detail }] });
}
