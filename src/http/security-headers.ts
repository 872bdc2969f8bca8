import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/**
 * helmet's headers on every answer (nosniff, frame and referrer policies, cross-origin policies, HSTS for a TLS proxy
 * in front, no X-Powered-By) and its Content-Security-Policy, less `upgrade-insecure-requests`: the engine serves plain
 * HTTP on 127.0.0.1, where upgrading Swagger UI's (/docs) requests to https would break them. The dashboard's files
 * set a stricter policy of their own (src/dashboard/dashboard-assets.ts).
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, frameAncestors: ["'none'"] } },
    frameguard: { action: 'deny' },
  });
}

/**
 * `Cache-Control: no-store` on every answer (API answers hold balances, keys' principals, claims): no browser or
 * proxy keeps them. Static files (dashboard, Swagger UI's assets) set their own caching over it.
 */
export function noStore(): RequestHandler {
  return (_request: Request, response: Response, next: NextFunction) => {
    response.setHeader('Cache-Control', 'no-store');
    next();
  };
}
