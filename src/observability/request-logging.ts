import type { NextFunction, Request, Response } from 'express';
import type { Logger as PinoLogger } from 'pino';
import type { ApiKeyPrincipal } from '../auth/api-keys';
import { correlationIdOf } from '../requests/request-metadata';
import type { EngineMetrics } from './engine-metrics';
import { requestContext, SENSITIVE_FIELD } from './json-logger';

/**
 * Express middleware, installed before everything else: gives the request its correlation id (echoed in the
 * `X-Correlation-Id` response header and carried by every log line written while it is handled), and once the
 * response is done writes one log line (method, path, route, status, duration, correlation id, the key's role and id
 * when authenticated; never a header, a body or a query value that looks secret) and counts it in the HTTP metrics.
 */
export function requestLogging(options: { logger?: PinoLogger; metrics?: EngineMetrics }) {
  const log = options.logger?.child({ context: 'http' });
  return (request: Request, response: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const correlationId = correlationIdOf(request);
    response.setHeader('x-correlation-id', correlationId);
    let done = false;
    const complete = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(request);
      const status = response.statusCode;
      options.metrics?.observeHttp(request.method, route, status, seconds);
      if (!log) return;
      const principal = (request as Request & { principal?: ApiKeyPrincipal }).principal;
      const { path, query } = safeUrl(request.originalUrl);
      const aborted = !response.writableFinished;
      log[status >= 500 ? 'error' : 'info'](
        {
          correlationId,
          method: request.method,
          path,
          ...(query ? { query } : {}),
          route,
          status,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          ...(principal ? { role: principal.role, keyId: principal.keyId } : {}),
          ...(aborted ? { aborted: true } : {}),
        },
        `${request.method} ${path} ${status}${aborted ? ' (aborted)' : ''}`,
      );
    };
    response.once('finish', complete);
    response.once('close', complete);
    requestContext.run({ correlationId }, next);
  };
}

/** The route pattern that answered (`/epochs/:epoch/close`), so labels stay few; `other` for anything else. */
function routeOf(request: Request): string {
  const route = (request as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? `${request.baseUrl ?? ''}${route.path}` || '/' : 'other';
}

/** The path, and the query with every value whose name looks secret censored. */
export function safeUrl(url: string): { path: string; query?: string } {
  const mark = url.indexOf('?');
  if (mark === -1) return { path: url };
  const params = new URLSearchParams(url.slice(mark + 1));
  const kept = [...params.entries()].map(
    ([name, value]) => `${encodeURIComponent(name)}=${SENSITIVE_FIELD.test(name) ? '[Redacted]' : encodeURIComponent(value)}`,
  );
  return { path: url.slice(0, mark), ...(kept.length > 0 ? { query: kept.join('&') } : {}) };
}
